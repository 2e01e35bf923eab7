"""What a run writes and deletes, decided from the collection it changes.

One source of truth: Milvus itself. Chunk ids are deterministic (source + content hash +
occurrence), so comparing the ids a source has in the collection with the ids its current
text splits into tells exactly what is new, what is unchanged and what is gone. Nothing else
(no record database per worker, no namespace to keep in step) can disagree with the
collection: every worker reads the same server, and a dropped and re-created collection
starts with no rows, hence with nothing "unchanged".

Rows carry two bookkeeping fields (Milvus dynamic fields, beside the chunk's metadata):
- ``meta_hash``: a hash of the chunk's metadata, so an unchanged chunk whose metadata moved
  (a heading renamed, a page shifted) gets fresh metadata without being re-embedded;
- ``run_stamp``: when the run that last wrote it started. A run deletes only rows stamped no
  later than its own start, so a run never deletes what a run that started after it wrote.

Deletes are of ids, never of filters, and only of:
- rows of a source that was read successfully this run and no longer splits into them;
- with a complete listing of a folder, rows of sources under that folder that are no longer
  listed. A source that is listed but could not be read keeps its rows.
A deletion budget stops a run that would delete more than a share of the collection.

The decisions are made here; the rows are read, refreshed and deleted by ``chunk_store`` (the
one owner of chunk rows, through ``MilvusHook``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from langchain_core.documents import Document

from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import PRIMARY_FIELD, SOURCE_FIELD
from milvus_toolkit.rules import TENANT_FIELD, PermanentError, tenant_filter

log = logging.getLogger(__name__)

STAMP = "run_stamp"
META_HASH = "meta_hash"
BOOKKEEPING = (STAMP, META_HASH)


class DeletionBudgetExceeded(PermanentError, ValueError):
    """A run would delete more of the collection than it was allowed to."""


def meta_hash(metadata: dict) -> str:
    payload = {key: value for key, value in metadata.items() if key not in BOOKKEEPING}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[
        :32
    ]


def stamp(chunk: Document, run_stamp: float) -> Document:
    """Add the bookkeeping fields to a chunk about to be staged."""
    chunk.metadata[META_HASH] = meta_hash(chunk.metadata)
    chunk.metadata[STAMP] = run_stamp
    return chunk


@dataclass
class Scope:
    """Which sources a run answers for (small and JSON-safe: it goes through XCom)."""

    loaded: list[str] = field(default_factory=list)  # read fine: their chunk sets are replaced
    failed: list[str] = field(default_factory=list)  # listed, not readable now: rows kept
    # listed, not read because their fingerprint says they did not change: rows kept
    unchanged: list[str] = field(default_factory=list)
    # A complete listing of this folder ("" is the root): a source under it that was not
    # listed is gone. ``None``: the listing says nothing about other sources (a single file).
    listed_prefix: str | None = None
    # A glob's listing is complete for its pattern only (a regex of the names within
    # ``listed_prefix``): an unlisted source that matches it is gone, any other is not ours.
    listed_pattern: str | None = None
    # Reindex deletes what its listing says is gone; ingest only reports it.
    deletes_unlisted: bool = True
    # The run's tenant: rows of any other tenant are never its to delete.
    tenant: str | None = None

    def is_unlisted(self, source: str) -> bool:
        """The listing covers ``source``'s place, and ``source`` was not in it."""
        if self.listed_prefix is None or source in self.listed:
            return False
        prefix = self.listed_prefix.rstrip("/")
        if prefix and not source.startswith(prefix + "/"):
            return False
        rest = source[len(prefix) + 1 :] if prefix else source
        return self.listed_pattern is None or re.fullmatch(self.listed_pattern, rest) is not None

    def is_gone(self, source: str) -> bool:
        """This run deletes ``source``'s rows because its listing no longer holds it."""
        return self.deletes_unlisted and self.is_unlisted(source)

    @cached_property
    def listed(self) -> set[str]:
        return set(self.loaded) | set(self.failed) | set(self.unchanged)

    @cached_property
    def read(self) -> set[str]:
        return set(self.loaded)

    def to_xcom(self) -> dict:
        return asdict(self)


def obsolete_ids(rows: Iterable[dict], new_ids: dict[str, set[str]], scope: Scope, run_stamp: float) -> list[str]:
    """The ids among ``rows`` (each with ``pk``, ``source`` and maybe ``run_stamp``) that this
    run may delete. ``new_ids``: the ids each successfully read source splits into now."""
    loaded, listed = scope.read, scope.listed
    gone = []
    for row in rows:
        if float(row.get(STAMP) or 0) > run_stamp:
            continue  # written by a run that started after this one
        if row.get(TENANT_FIELD) != scope.tenant:
            continue  # another tenant's row (or a tenant's row in a run without one)
        source = row[SOURCE_FIELD]
        if source in loaded:
            if row[PRIMARY_FIELD] not in new_ids.get(source, ()):
                gone.append(row[PRIMARY_FIELD])
        elif source not in listed and scope.is_gone(source):
            gone.append(row[PRIMARY_FIELD])
    return gone


# Clocks may differ by this much before the toolkit says so.
CLOCK_TOLERANCE_S = 300.0


def checked_run_stamp(run_started: float | None) -> float:
    """The run stamp: the run's start on the scheduler's clock when given (every worker
    agrees on it), else this process's clock. A worker whose clock is behind the scheduler's
    is reported (its logs and any local timestamps are off; the stamps are not)."""
    now = time.time()
    if run_started is None:
        return now
    if now < run_started - CLOCK_TOLERANCE_S:
        log.warning(
            "This worker's clock is %.0f s behind the scheduler's (the run started at %s by the scheduler): "
            "fix its time sync. Run stamps come from the scheduler, so deletes are not affected.",
            run_started - now,
            _iso(run_started),
        )
    return float(run_started)


def future_horizon(run_stamp: float) -> float:
    """Rows stamped later than this were written by a worker whose clock was ahead."""
    return max(time.time(), run_stamp) + CLOCK_TOLERANCE_S


def report_future_stamps(collection: str, stamps: Iterable[float], run_stamp: float) -> int:
    """Rows stamped later than any run can have started (``future_horizon``; written by a worker
    whose clock was ahead, before stamps came from the scheduler) are never deleted by a run
    that started earlier: say so, with what to do. Returns how many."""
    horizon = future_horizon(run_stamp)
    future = [s for s in stamps if s > horizon]
    if future:
        log.warning(
            "%d row(s) of '%s' carry a run stamp in the future (up to %s, %.0f s ahead): written by a worker "
            "whose clock was ahead. No run deletes them before that time; if their sources changed, rebuild "
            "the collection (strategy=full) to replace them now.",
            len(future),
            collection,
            _iso(max(future)),
            max(future) - time.time(),
        )
    return len(future)


def _iso(stamp: float) -> str:
    try:
        return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):  # beyond year 9999: say the number
        return f"{stamp:.0f} (epoch seconds)"


def check_budget(
    collection: str,
    to_delete: int,
    total: int,
    max_percent: float,
    *,
    build: str | None = None,
    sources: Iterable[str] = (),
) -> None:
    """Stop a run that would remove more than ``max_percent`` of ``collection``'s rows: by
    deleting them, or (``build``) by serving a new build that leaves them out."""
    if to_delete == 0 or to_delete <= total * max_percent / 100:
        return
    share = 100 * to_delete / max(total, 1)
    named = sorted(sources)
    which = f" of {len(named)} source(s) ({', '.join(named[:10])}{', ...' if len(named) > 10 else ''})" if named else ""
    what = (
        f"the new build '{build}' would leave out {to_delete}{which} of the {total} rows served now by '{collection}'"
        if build
        else f"this run would delete {to_delete}{which} of the {total} rows of '{collection}'"
    )
    raise DeletionBudgetExceeded(
        f"{what} ({share:.1f} %), more than max_delete_percent={max_percent:g} allows. Nothing was "
        f"{'served or dropped' if build else 'written or deleted'}. If that many chunks really are gone (check the "
        f"files listed and skipped above), run again with max_delete_percent={math.ceil(share)} or higher."
    )


@dataclass
class DeletePlan:
    ids: list[str] = field(default_factory=list)  # what this run will delete
    unlisted: list[str] = field(default_factory=list)  # sources its listing lost that it does not delete (ingest)


def plan_deletes(
    hook,
    collection: str,
    new_ids_parts: Iterable[dict[str, set[str]]],
    scope: Scope,
    run_stamp: float,
    max_percent: float,
    census: dict[str, int] | None = None,
) -> DeletePlan:
    """Before anything is written: what this run will delete, within the budget, and the
    sources its listing no longer holds that it leaves in place (renamed or deleted files
    under an ingest's source: reported, never deleted by an ingest).

    Only the rows of the sources this run read, and of the sources the collection holds that
    its listing lost, are read (streamed, a group of sources per query; the ids each read
    source splits into now come part by part): the cost is what changed, not what the
    collection holds. ``census``: the rows per source when the run started (which sources
    exist); read here when not given."""
    if not hook.has_collection(collection):
        return DeletePlan()
    scoped = tenant_filter(scope.tenant)
    if census is None:
        census = chunk_store.count_by_source(hook, collection, filter=scoped)
    fields, horizon = _fields(scope), future_horizon(run_stamp)
    ids: list[str] = []
    future: list[float] = []

    def examine(sources, new_ids: dict[str, set[str]]) -> None:
        for batch in chunk_store.rows_of_sources(hook, collection, sources, fields, filter=scoped):
            ids.extend(obsolete_ids(batch, new_ids, scope, run_stamp))
            future.extend(s for s in (float(row.get(STAMP) or 0) for row in batch) if s > horizon)

    for part in new_ids_parts:  # every source read, also one new since the census (a run may have written it)
        examine(list(part), part)
    listed = scope.listed
    lost = [source for source in census if source not in listed and scope.is_unlisted(source)]
    if scope.deletes_unlisted:
        examine(lost, {})
    report_future_stamps(collection, future, run_stamp)
    check_budget(collection, len(ids), hook.count(collection, scoped), max_percent)
    if scope.failed:
        log.warning(
            "Keeping the rows of %d source(s) that could not be read this run: %s",
            len(scope.failed),
            ", ".join(scope.failed[:20]),
        )
    unlisted = [] if scope.deletes_unlisted else sorted(lost)
    if unlisted:
        log.warning(
            "%d source(s) in '%s' are no longer listed under this run's source (renamed or deleted?) and keep "
            "their rows: %s. Ingest never deletes them; milvus_reindex (or the declared index's DAG) on this "
            "source does.",
            len(unlisted),
            collection,
            ", ".join(unlisted[:20]),
        )
    log.info(
        "Planned deletes in '%s': %d rows (of %d sources read and %d no longer listed, among %d in the collection)",
        collection,
        len(ids),
        len(scope.loaded),
        len(lost),
        len(census),
    )
    return DeletePlan(ids, unlisted)


def delete_planned(
    hook,
    collection: str,
    planned: list[str],
    new_ids_parts: Iterable[dict[str, set[str]]],
    scope: Scope,
    run_stamp: float,
) -> int:
    """After every write succeeded: delete the planned rows that are still obsolete now.
    They are read again first: a run that started later may have rewritten them since."""
    if not planned:
        return 0
    rows = chunk_store.read_rows(hook, collection, planned, _fields(scope))
    sources = {row[SOURCE_FIELD] for row in rows}
    new_ids = {source: ids for part in new_ids_parts for source, ids in part.items() if source in sources}
    ids = obsolete_ids(rows, new_ids, scope, run_stamp)
    deleted = chunk_store.delete_rows(hook, collection, ids)
    log.info("Deleted %d obsolete rows from '%s' (%d planned)", deleted, collection, len(planned))
    return deleted


def _fields(scope: Scope) -> list[str]:
    return [PRIMARY_FIELD, SOURCE_FIELD, STAMP, *([TENANT_FIELD] if scope.tenant else [])]


@dataclass
class BatchChanges:
    """How one staged batch meets the collection."""

    new: list[Document]  # not in the collection: embed and write
    stale_metadata: list[Document]  # same text, other metadata: rewrite with the stored vector
    unchanged: int


def classify(chunks: list[Document], stored_meta_hash: dict[str, str | None]) -> BatchChanges:
    """``stored_meta_hash``: id -> ``meta_hash`` of the rows already in the collection."""
    new, stale, unchanged = [], [], 0
    for chunk in chunks:
        if chunk.id not in stored_meta_hash:
            new.append(chunk)
        elif stored_meta_hash[chunk.id] != chunk.metadata[META_HASH]:
            stale.append(chunk)
        else:
            unchanged += 1
    return BatchChanges(new, stale, unchanged)
