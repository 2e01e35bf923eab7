"""Fixtures and helpers the integration tests share."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from milvus_toolkit.ingest.documents import discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from milvus_toolkit.ingest.pipeline import (
    check_inputs,
    delete_obsolete,
    ensure_collection,
    plan_deletes,
    split_corpus,
    summarize,
    validate_collection,
    write_staged_batch,
)
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.ingest.staging import BatchRef, SplitManifest, run_folder


@pytest.fixture
def private_staging(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path / "staging"))


@pytest.fixture
def corpus(tmp_path):
    """A copy of the sample corpus that a test may edit."""
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, folder)
    return folder


@pytest.fixture
def alias(hook, collection_name):
    """A serving name whose alias and builds are dropped afterwards."""
    yield collection_name
    if hook.describe_alias(collection_name):
        hook.drop_alias(collection_name)
    for name in hook.list_collections():
        if name.startswith(collection_name + "__"):
            hook.drop_collection(name)


def split_ids(folder) -> dict[str, set[str]]:
    """Source -> the chunk ids it splits into with the default settings."""
    return {
        doc.source: {c.id for c in split_document(doc, SplitSettings("auto", 1000, 150))}
        for doc in load(discover(str(folder)))
    }


def ids_in(hook, collection) -> list[str]:
    return sorted(r["pk"] for b in hook.iter_rows(collection, ["pk"]) for r in b)


class Run:
    """One ingest run's steps in the DAG's order, in this process, callable one by one (to
    interleave two runs). Needs ``private_staging`` (run folders live in the staging root)."""

    def __init__(self, hook, params, name, *, deletes_unlisted=False, run_started=None):
        self.hook, self.params = hook, params
        check_inputs(params, hook)
        self.manifest = split_corpus(
            params, hook, run_folder("test", name), deletes_unlisted=deletes_unlisted, run_started=run_started
        ).to_xcom()

    @property
    def staged(self) -> SplitManifest:
        """The manifest as a task gets it: the XCom dict, typed at the task boundary."""
        return SplitManifest.of(self.manifest)

    def plan(self) -> int:
        return plan_deletes(self.params, self.hook, self.staged)

    def write(self) -> list[dict]:
        ensure_collection(self.params, self.hook, self.staged)

        async def write_all():
            return [await write_staged_batch(self.params, self.hook, b) for b in self.staged.batches]

        return asyncio.run(write_all())

    def delete(self) -> int:
        return delete_obsolete(self.params, self.hook, self.staged)

    def all(self, validate=True) -> tuple[list[dict], int]:
        self.plan()
        results = self.write()
        deleted = self.delete()
        self.results, self.deleted, self.validation = results, deleted, {}
        if validate:
            self.validation = validate_collection(self.params, self.hook, self.staged).summary()
        return results, deleted

    def report(self) -> str:
        """The run's report, as the DAG's ``report`` task logs it (after ``all``)."""
        return summarize(self.params, self.staged, self.results, self.deleted, self.validation, 0.0).text


class Reindex:
    """One ``milvus_reindex`` run's steps in the DAG's order, in this process (the DAG file
    wires the same functions). ``run_started``: the run's start on the scheduler's clock."""

    def __init__(self, hook, conf: dict, name: str, *, run_started: float | None = None):
        from milvus_toolkit import reindex
        from milvus_toolkit.reindex import parse_reindex_params

        self.hook, self.name, self.run_started = hook, name, run_started
        self.params = parse_reindex_params({"embedding": "deterministic", **conf})
        self.reindex = reindex

    def all(self) -> dict:
        """Run every step; returns the swap's result (or the rollback's)."""
        r, params, hook = self.reindex, self.params, self.hook
        if params.strategy == "rollback":
            return r.rollback(hook, params.collection)
        plan = r.make_plan(params, hook, run_key=f"test/{self.name}", stamp=self.name)
        check_inputs(params, hook, plan.target, rewrites_all=params.rewrites_all)
        manifest = split_corpus(
            params, hook, run_folder("test", self.name), deletes_unlisted=True, run_started=self.run_started
        )
        self.plan, self.manifest = plan.to_xcom(), manifest.to_xcom()
        batches = [BatchRef.of(b) for b in r.prepare_target(params, hook, plan, manifest)]

        async def write_all():
            return [
                await write_staged_batch(params, hook, b, plan.target, mode="upsert" if params.force_reembed else "add")
                for b in batches
            ]

        self.indexed = asyncio.run(write_all())
        self.deleted = delete_obsolete(params, hook, manifest, plan.target)
        self.validation = r.validate_target(params, hook, plan, manifest).summary()
        swap = r.swap_alias(hook, plan, keep_builds=params.keep_builds)
        # What the DAG's report task logs: ``.text`` (e.g. "changes  : ...") and ``.figures``.
        self.summary = r.summarize(params, plan, manifest, self.indexed, self.deleted, self.validation, swap)
        return swap
