"""The ingest steps against the real Milvus server of the test session (no Airflow)."""

from __future__ import annotations

import asyncio
import os
import re
import time

import pytest
from langchain_core.documents import Document

from milvus_provider.hooks.milvus import DimensionMismatchError
from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import CollectionSpec, count_by_source
from milvus_toolkit.ingest.params import SAMPLE_CORPUS, parse_params
from milvus_toolkit.ingest.pipeline import (
    CorpusError,
    check_inputs,
    ensure_collection,
    split_corpus,
    validate_collection,
    write_staged_batch,
)
from milvus_toolkit.ingest.staging import BatchRef, RunRecord, SplitManifest, read_batch_file, run_folder
from milvus_toolkit.ingest.validation import ValidationFailed
from tests.integration.conftest import Run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def folder(name: str):
    return run_folder("test", name)


def ingest(hook, params, run_name):
    """The DAG's steps in order, in one process."""
    run = Run(hook, params, run_name)
    results, deleted = run.all()
    return run.manifest, results, deleted


def all_ids(hook, collection):
    return sorted(row["pk"] for batch in hook.iter_rows(collection, ["pk"]) for row in batch)


def test_sample_corpus_exact_counts_per_source_then_identical_rows_on_rerun(hook, collection_name, tmp_path):
    params = parse_params(
        {
            "source": str(SAMPLE_CORPUS),
            "collection": collection_name,
            "embedding": "deterministic",
            "batch_size": 40,
            "concurrency": 4,
        }
    )
    manifest, results, _ = ingest(hook, params, "run1")
    expected = RunRecord.read(manifest["record_path"]).expected_counts
    assert len(expected) == 10 and manifest["bad_files"] == 0
    assert count_by_source(hook, collection_name) == expected
    assert hook.count(collection_name) == manifest["chunks"] == sum(r["written"] for r in results)
    assert len(manifest["batches"]) == -(-manifest["chunks"] // 40)
    first_ids = all_ids(hook, collection_name)

    ingest(hook, params, "run2")
    assert all_ids(hook, collection_name) == first_ids, "same ids, no duplicates"
    assert hook.count(collection_name) == manifest["chunks"]


def test_add_inserts_only_new_chunks_while_upsert_rewrites(hook, collection_name, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nFirst paragraph about tractors.\n\nSecond paragraph about seeds.\n")
    base = {
        "source": str(corpus),
        "collection": collection_name,
        "embedding": "deterministic",
        "chunk_size": 60,
        "chunk_overlap": 0,
    }
    _, results, _ = ingest(hook, parse_params({**base, "mode": "add"}), "r1")
    rows = hook.count(collection_name)
    assert sum(r["written"] for r in results) == rows > 1

    # "add" also skips a source whose fingerprint says it did not change (docs/unchanged-sources.md): its
    # rows count as unchanged without being read (the file was just written: its mtime is trusted 2 s on)
    os.utime(corpus / "a.md", ns=(time.time_ns() - 10**12,) * 2)
    _, results, _ = ingest(hook, parse_params({**base, "mode": "add"}), "r2")  # reads it: the mtime changed
    assert sum(r["written"] for r in results) == 0 and sum(r["refreshed"] for r in results) == rows
    manifest, results, _ = ingest(hook, parse_params({**base, "mode": "add"}), "r2b")
    assert sum(r["written"] for r in results) == 0 and manifest["chunks_unchanged"] == rows
    assert manifest["files_loaded"] == 0 and manifest["files_unchanged"] == 1

    _, results, _ = ingest(hook, parse_params({**base, "mode": "upsert"}), "r3")
    assert sum(r["written"] for r in results) == rows and hook.count(collection_name) == rows


def test_bad_files_are_skipped_and_listed_or_fail_before_writing(hook, collection_name, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Robots need regular calibration of their cameras.")
    (corpus / "empty.md").write_text("")
    (corpus / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500))
    # "à" tells Windows-1252 from 1250 (where it reads as a lone "ŕ"); without it the file is ambiguous and skipped.
    (corpus / "legacy.txt").write_bytes("Température: 5 °C près du café, à côté.".encode("cp1252"))
    params = parse_params({"source": str(corpus), "collection": collection_name, "embedding": "deterministic"})
    manifest, _, _ = ingest(hook, params, "run")
    bad = {b["source"]: b["reason"] for b in RunRecord.read(manifest["record_path"]).bad_files}
    assert bad == {"empty.md": "empty file", "photo.jpg": "binary file (NUL bytes), not text"}
    assert count_by_source(hook, collection_name) == {"good.txt": 1, "legacy.txt": 1}
    legacy = hook.get_conn().query(
        collection_name, filter='source == "legacy.txt"', output_fields=["text"], consistency_level="Strong"
    )
    assert legacy[0]["text"] == "Température: 5 °C près du café, à côté."

    hook.drop_collection(collection_name)
    strict = parse_params({**params.model_dump(), "on_bad_file": "fail"})
    with pytest.raises(CorpusError, match="bad file 'empty.md'.*empty file.*on_bad_file=fail"):
        split_corpus(strict, hook, folder("run-fail"))
    assert not hook.has_collection(collection_name)


def test_empty_corpus_and_missing_source_fail_before_anything_is_written(hook, collection_name, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("   ")
    params = parse_params(
        {"source": str(tmp_path / "empty"), "collection": collection_name, "embedding": "deterministic"}
    )
    with pytest.raises(CorpusError, match="yields no text to index.*blank.txt: empty file"):
        split_corpus(params, hook, folder("run"))
    missing = parse_params(
        {"source": str(tmp_path / "nowhere"), "collection": collection_name, "embedding": "deterministic"}
    )
    with pytest.raises(ValueError, match="param 'source'.*does not exist"):
        check_inputs(missing, hook)
    assert not hook.has_collection(collection_name)


def test_wrong_dimension_collection_fails_clearly_and_is_left_untouched(hook, collection_name, tmp_path):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    store = chunk_store.vector_store(
        hook, CollectionSpec(name=collection_name, dim=16), DeterministicFakeEmbedding(size=16)
    )
    store.add_documents([Document("existing row", metadata={"source": "old.md"})], ids=["old-1"])
    params = parse_params({"source": str(SAMPLE_CORPUS), "collection": collection_name, "embedding": "deterministic"})
    with pytest.raises(DimensionMismatchError, match="stores 16-dim vectors but the embedding produces 384-dim"):
        check_inputs(params, hook)
    assert hook.collection_dim(collection_name) == 16 and hook.count(collection_name) == 1


def test_validation_fails_with_a_table_when_milvus_holds_more_than_was_split(hook, collection_name, tmp_path):
    params = parse_params(
        {"source": str(SAMPLE_CORPUS / "release-notes.md"), "collection": collection_name, "embedding": "deterministic"}
    )
    manifest, _, _ = ingest(hook, params, "run")
    # A row of the same file written by a run that started later (sync never deletes it):
    stale = read_batch_file(manifest["batches"][0]["path"])[0]
    stale.metadata["run_stamp"] = 1e12
    from milvus_toolkit.embeddings import get_embeddings

    store = chunk_store.vector_store(
        hook, CollectionSpec(name=collection_name, dim=384), get_embeddings("deterministic").embeddings
    )
    store.add_documents([Document("an old paragraph", metadata=stale.metadata)], ids=["stale-1"])
    with pytest.raises(ValidationFailed) as excinfo:
        validate_collection(params, hook, SplitManifest.of(manifest))
    message = str(excinfo.value)
    expected = manifest["chunks"]
    assert "FAILED" in message and "expect_column_pair_values_to_be_equal" in message
    assert re.search(rf"\| release-notes\.md \|\s+{expected} \|\s+{expected + 1} \|", message), message


@pytest.fixture
def own_milvus(monkeypatch):
    """A Milvus server for this test alone: stopping and restarting it can never disturb the
    session's server that every other test uses."""
    import os
    import shutil as sh

    from milvus_provider.hooks.milvus import MilvusHook
    from milvus_toolkit_dev.local_milvus import LocalMilvus
    from tests.conftest import TEST_HOME, _free_port

    server = LocalMilvus(home=TEST_HOME / f"restart-{os.getpid()}", port=_free_port())
    server.up()
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_RESTART", server.connection_uri())
    hook = MilvusHook("milvus_restart")
    try:
        yield server, hook
    finally:
        hook.close()
        server.down(timeout=2, quiet=True)  # its data is thrown away: no need to wait out a graceful stop
        sh.rmtree(server.home, ignore_errors=True)


def test_a_milvus_restart_mid_write_ends_with_exact_counts(own_milvus, tmp_path):
    """Stop a real server after a few batches are written, start it again while the rest
    are being written: the writes retry with backoff and end with exactly the chunks that
    were split. (Reads that meet "collection not loaded" after a restart are covered by
    tests/provider/unit/test_hook_reads.py: here the writes after the restart load the collection.)"""
    import threading
    import time

    server, hook = own_milvus
    params = parse_params(
        {
            "source": str(SAMPLE_CORPUS),
            "collection": "restart_test",
            "embedding": "deterministic",
            "batch_size": 10,
            "concurrency": 2,
            "milvus_conn_id": "milvus_restart",
        }
    )
    check_inputs(params, hook)
    manifest = split_corpus(params, hook, folder("run")).to_xcom()
    batches = [BatchRef.of(b) for b in manifest["batches"]]
    assert len(batches) >= 6
    ensure_collection(params, hook, SplitManifest.of(manifest))
    hook.close()
    restart_errors: list[BaseException] = []

    def start_again():
        try:
            time.sleep(2)
            server.up(attempts=6)  # a quick restart on the same data can need a few tries
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            restart_errors.append(exc)

    restarter = threading.Thread(target=start_again)

    async def write_all():
        results = [await write_staged_batch(params, hook, batch) for batch in batches[:3]]
        # Stopped between two batches, on purpose, so the test never depends on timing: the
        # next batch meets a dead server and must wait for it to come back.
        await asyncio.to_thread(server.down, timeout=10, quiet=True)
        restarter.start()
        results += [await write_staged_batch(params, hook, batch) for batch in batches[3:]]
        return results

    results = asyncio.run(write_all())
    restarter.join()
    assert not restart_errors, restart_errors
    assert results[3]["retries"] > 0, "the batch after the stop should have waited for the server"
    assert sum(r["written"] for r in results) == manifest["chunks"]
    hook.close()
    assert hook.count("restart_test") == manifest["chunks"]
    assert count_by_source(hook, "restart_test") == RunRecord.read(manifest["record_path"]).expected_counts
