"""Which ingest steps load the local embedding model, against a real Milvus of the test
session (its Milvus Lite server: which step loads the model does not depend on the server, and
Lite creates, loads and queries a collection without 2.3.5's time-tick waits) and the real model
(all-MiniLM-L6-v2). Each step runs as a fresh task process would: the per-process model cache
is emptied before it, so every step that asks for the model loads it again, as it would under
LocalExecutor, Celery or Kubernetes."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest

from milvus_toolkit import embeddings
from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.params import SAMPLE_CORPUS, parse_params
from milvus_toolkit.ingest.staging import BatchRef, SplitManifest, run_folder

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def test_only_the_write_tasks_load_the_local_model(lite_hook, collection_name, monkeypatch):
    hook = lite_hook
    loads: list[str] = []
    step = "?"
    real_load = embeddings._local_model.__wrapped__  # the loader itself, without the per-process cache

    def counting_load(device: str = "cpu"):
        loads.append(step)
        return real_load(device)

    monkeypatch.setattr(embeddings, "_local_model", counting_load)

    def as_task(name: str, run):
        nonlocal step
        step = name
        embeddings._local_embeddings.cache_clear()  # a new task process: nothing loaded yet
        return run()

    params = parse_params(
        {
            "source": str(SAMPLE_CORPUS / "release-notes.md"),
            "collection": collection_name,
            "embedding": "local",
            "batch_size": 4,
            "concurrency": 2,
        }
    )
    checked = as_task("check_inputs", lambda: pipeline.check_inputs(params, hook))
    manifest = as_task(
        "split_corpus", lambda: pipeline.split_corpus(params, hook, run_folder("test", "loads")).to_xcom()
    )
    staged = SplitManifest.of(manifest)  # typed at the task boundary, as the DAG's tasks do
    batches = [BatchRef.of(b) for b in as_task("prepare_collection", lambda: pipeline.prepare(params, hook, staged))]
    assert len(batches) >= 2, "the test needs more than one write task"
    written = [
        as_task(f"write_batch[{i}]", lambda b=b: asyncio.run(pipeline.write_staged_batch(params, hook, b)))
        for i, b in enumerate(batches)
    ]
    as_task("delete_obsolete", lambda: pipeline.delete_obsolete(params, hook, staged))
    report = as_task("validate", lambda: pipeline.validate_collection(params, hook, staged))

    assert checked["dim"] == embeddings.LOCAL_DIM
    assert sum(w["written"] for w in written) == manifest["chunks"] == hook.count(collection_name)
    assert report.success and report.facts["smoke_search"] == "chunk found in top 3"
    # The dimension-only steps (check_inputs, prepare_collection) and validate never load
    # the model; each write task loads it once.
    assert loads == [f"write_batch[{i}]" for i in range(len(batches))]


def test_validate_still_loads_the_model_when_no_write_task_embedded_the_smoke_chunk(
    lite_hook, collection_name, monkeypatch, tmp_path
):
    """A re-run in ``add`` mode of a touched file (read again: its mtime moved; every chunk is
    present) embeds nothing: validate then embeds its smoke query itself, so the smoke search
    still compares the model's vector of the text with the stored one. (An untouched file is not
    read at all: its fingerprint matches, so there is no smoke chunk; tests/integration/test_fingerprints.py.)"""
    hook = lite_hook
    source = tmp_path / "release-notes.md"
    shutil.copyfile(SAMPLE_CORPUS / "release-notes.md", source)
    os.utime(source, (time.time() - 100, time.time() - 100))
    params = parse_params(
        {
            "source": str(source),
            "collection": collection_name,
            "embedding": "local",
            "mode": "add",
        }
    )
    first = pipeline.split_corpus(params, hook, run_folder("test", "first"))
    pipeline.prepare(params, hook, first)
    for batch in first.batches:
        asyncio.run(pipeline.write_staged_batch(params, hook, batch))

    loads: list[str] = []
    real_load = embeddings._local_model.__wrapped__
    monkeypatch.setattr(embeddings, "_local_model", lambda device="cpu": loads.append(device) or real_load(device))
    embeddings._local_embeddings.cache_clear()
    os.utime(source, (time.time() - 50, time.time() - 50))  # touched: same bytes, another mtime
    again = pipeline.split_corpus(params, hook, run_folder("test", "again"))
    pipeline.prepare(params, hook, again)
    results = [asyncio.run(pipeline.write_staged_batch(params, hook, b)) for b in again.batches]
    assert sum(r["written"] for r in results) == 0 and loads == []
    embeddings._local_embeddings.cache_clear()
    report = pipeline.validate_collection(params, hook, again)
    assert report.success and report.facts["smoke_search"] == "chunk found in top 3"
    assert len(loads) == 1, "validate loads the model for its smoke query"
