"""The in-process harness of the model-checked lifecycle (tests/integration/test_lifecycle.py).

It runs the pipeline functions in the order the DAGs call them (dags/milvus_ingest.py,
dags/milvus_reindex.py), in this process, against a real server, with two clocks kept apart:
- the scheduler's clock (``SchedulerClock``): one clock for every run's start, strictly
  increasing; it names the builds (``reindex.run_stamp(run_after)``) and, once
  ``pipeline.split_corpus`` takes ``run_started``, stamps the rows;
- the worker's wall clock (``worker_clock``): ``time.time`` as the toolkit's modules see it,
  which a rule shifts (a worker an hour ahead or behind) for one run.

It also reads what a collection holds (Strong queries, not the pipeline's own readers) and
splits a corpus independently of ``discover`` (the model says which files are listed).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from upath import UPath

from milvus_toolkit import reindex
from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.documents import BadFile, Corpus, load
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.ingest.staging import BatchRef, remove_run_folder, run_folder
from milvus_toolkit.rules import PermanentError
from tests.integration.conftest import Run

# The scheduler's run start, once split_corpus takes it (issue 21, part 1: one clock for run
# order). Before that, rows are stamped with the worker's time.time().
SPLIT_TAKES_RUN_STARTED = "run_started" in inspect.signature(pipeline.split_corpus).parameters


def _split_kwargs(run_started: float) -> dict:
    return {"run_started": run_started} if SPLIT_TAKES_RUN_STARTED else {}


class SchedulerClock:
    """The scheduler's clock: wall time, but at least one second after the previous run's
    start (build names carry seconds; two runs never share one)."""

    def __init__(self) -> None:
        self.last = 0.0

    def next(self) -> float:
        self.last = max(time.time(), self.last + 1.0)
        return self.last


class _SkewedTime:
    """The ``time`` module as a worker whose wall clock is ``offset`` seconds off sees it."""

    def __init__(self, offset: float) -> None:
        self._offset = offset

    def time(self) -> float:
        return _REAL_TIME() + self._offset

    def time_ns(self) -> int:
        return _REAL_TIME_NS() + int(self._offset * 1e9)

    def __getattr__(self, name):
        return getattr(time, name)


_REAL_TIME, _REAL_TIME_NS = time.time, time.time_ns


@contextmanager
def worker_clock(offset: float):
    """Shift ``time.time`` as every loaded ``milvus_toolkit`` module sees it (their module
    attribute ``time``) by ``offset`` seconds; the test's own clock is untouched."""
    if not offset:
        yield
        return
    patched = []
    for name, module in list(sys.modules.items()):
        if name.startswith("milvus_toolkit") and getattr(module, "time", None) is time:
            patched.append(module)
            module.time = _SkewedTime(offset)
    try:
        yield
    finally:
        for module in patched:
            module.time = time


# ---- runs, in the DAGs' order ------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # ingest | incremental | full | rollback
    ok: bool
    refusal: PermanentError | None = None
    deleted: int = 0
    swap: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if self.ok:
            return f"{self.kind}: ok (deleted {self.deleted}; {self.swap or self.plan.get('target', '')})"
        return f"{self.kind}: refused ({type(self.refusal).__name__}: {str(self.refusal).splitlines()[0][:300]})"


class IngestRun(Run):
    """``tests.integration.conftest.Run`` (check_inputs, split_corpus, plan, ensure_collection
    + writes, delete_obsolete, validate) with the scheduler's run start passed to the split."""

    def __init__(self, hook, params, name, *, run_started: float):
        self.hook, self.params = hook, params
        pipeline.check_inputs(params, hook)
        self.folder = run_folder("milvus_ingest", name)
        self.manifest = pipeline.split_corpus(params, hook, self.folder, **_split_kwargs(run_started)).to_xcom()


def run_ingest(hook, conf: dict, *, run_started: float) -> Outcome:
    name = f"lifecycle-{uuid.uuid4().hex[:12]}"
    run = None
    try:
        run = IngestRun(hook, parse_params(conf), name, run_started=run_started)
        _, deleted = run.all()
        return Outcome("ingest", True, deleted=deleted)
    except PermanentError as exc:
        return Outcome("ingest", False, refusal=exc)
    finally:
        remove_run_folder(run_folder("milvus_ingest", name))


def run_reindex(hook, conf: dict, *, run_started: float) -> Outcome:
    """One ``milvus_reindex`` run: plan → split_corpus → prepare_target → index_batch (each
    batch) → delete_obsolete → validate → swap_alias; or ``strategy=rollback``. The same calls
    as the tasks of dags/milvus_reindex.py, with the scheduler's run start for ``run_after``
    and ``run_started``."""
    params = reindex.parse_reindex_params(conf)
    kind = params.strategy
    name = f"lifecycle-{uuid.uuid4().hex[:12]}"
    folder = run_folder("milvus_reindex", name)
    try:
        if kind == "rollback":
            return Outcome(kind, True, swap=reindex.rollback(hook, params.collection))
        run_after = datetime.fromtimestamp(run_started, UTC)
        plan = reindex.make_plan(params, hook, run_key=f"milvus_reindex/{name}", stamp=reindex.run_stamp(run_after))
        pipeline.check_inputs(params, hook, plan.target, rewrites_all=params.rewrites_all)
        plan_dict = plan.to_xcom()
        manifest = pipeline.split_corpus(params, hook, folder, deletes_unlisted=True, **_split_kwargs(run_started))
        batches = [BatchRef.of(b) for b in reindex.prepare_target(params, hook, plan, manifest)]
        mode = "upsert" if params.force_reembed else "add"

        async def write_all():
            return [await pipeline.write_staged_batch(params, hook, batch, plan.target, mode=mode) for batch in batches]

        asyncio.run(write_all())
        deleted = pipeline.delete_obsolete(params, hook, manifest, plan.target)
        reindex.validate_target(params, hook, plan, manifest)
        swap = reindex.swap_alias(hook, plan, keep_builds=params.keep_builds)
        return Outcome("full" if plan.build else "incremental", True, deleted=deleted, swap=swap, plan=plan_dict)
    except PermanentError as exc:
        return Outcome(kind, False, refusal=exc)
    finally:
        remove_run_folder(folder)


# ---- what the server holds, read independently ---------------------------------------------


def serving_collection(hook, name: str) -> str | None:
    """The physical collection behind a serving name: the alias's target, or a plain
    collection of that name."""
    return hook.describe_alias(name) or (name if hook.has_collection(name) else None)


def collections_of(hook, name: str) -> list[str]:
    """Every physical collection of one serving name (plain, builds, legacy copies)."""
    return sorted(c for c in hook.list_collections() if c == name or c.startswith(name + reindex.BUILD_SEPARATOR))


def rows_of(hook, collection: str | None, *, load: bool = False) -> list[tuple[str, str]]:
    """(pk, source) of every row, Strong, by one query (the example's collections are small).
    ``load``: load the collection first (a copy kept for rollback may be released; never for
    the serving collection, which must answer as it is)."""
    if collection is None:
        return []
    client = hook.get_conn()
    released = load and "Loaded" not in str(client.get_load_state(collection).get("state"))
    if released:
        client.load_collection(collection)
    rows = hook.query(collection, 'pk != ""', output_fields=["pk", "source"], limit=16384, consistency_level="Strong")
    if released:
        client.release_collection(collection)  # left as it was found
    assert len(rows) < 16384, "lifecycle examples are kept small: a collection this big means a runaway"
    return [(row["pk"], row["source"]) for row in rows]


def by_source(rows: list[tuple[str, str]]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for pk, source in rows:
        grouped[source].add(pk)
    return {source: frozenset(ids) for source, ids in grouped.items()}


def independent_split(
    root: Path, listed: list[str], settings: SplitSettings, max_file_bytes: int
) -> tuple[dict[str, frozenset[str]], list[str]]:
    """Source -> chunk ids for every readable source among ``listed`` (names the model says
    are listed, relative to ``root``), and the listed sources that cannot be read. Not
    ``discover``: the listing is the model's."""
    corpus = Corpus(root=UPath(str(root)), files=[UPath(str(root / name)) for name in sorted(listed)])
    split, bad = {}, []
    for item in load(corpus, max_file_bytes=max_file_bytes):
        if isinstance(item, BadFile):
            bad.append(item.source)
        else:
            split[item.source] = frozenset(c.id for c in split_document(item, settings))
    return split, bad


def drop_serving_name(hook, name: str) -> None:
    """Remove everything an example made under one serving name."""
    if hook.describe_alias(name):
        hook.drop_alias(name)
    for collection in collections_of(hook, name):
        hook.drop_collection(collection)
