"""milvus_ingest against the session's Milvus. The first test runs the DAG through real Airflow
(`airflow dags test`) on both servers (the 2.3.5 one and Milvus Lite): what only a real run
shows (the report in the log, XCom size, the staging teardown). The others are about the
pipeline's answers to bad input: they take the DAG's steps in this process (``Run`` in
conftest.py; a run that fails before writing is tested through Airflow in test_data_safety.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from langchain_core.documents import Document

from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import CollectionSpec, count_by_source
from milvus_toolkit.embeddings import get_embeddings
from milvus_toolkit.ingest.documents import SourceError, discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS, ParamsError, parse_params
from milvus_toolkit.ingest.pipeline import CorpusError
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.ingest.validation import ValidationFailed
from tests.integration.conftest import Run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def dags_test(env: dict, conf: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["airflow", "dags", "test", "milvus_ingest", "-c", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result.output = result.stdout + result.stderr  # type: ignore[attr-defined]
    return result


def expected_counts(source: Path, chunk_size: int = 1000, overlap: int = 150) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in load(discover(str(source))):
        counts[doc.source] = len(split_document(doc, SplitSettings("auto", chunk_size, overlap)))
    return counts


def latest_run_xcoms(env: dict) -> list[tuple]:
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as conn:
        run_id = conn.execute(
            "select run_id from dag_run where dag_id='milvus_ingest' order by id desc limit 1"
        ).fetchone()[0]
        return conn.execute(
            "select task_id, key, value from xcom where dag_id='milvus_ingest' and run_id=?", (run_id,)
        ).fetchall()


def ingested(hook, conf: dict, name: str) -> Run:
    """One milvus_ingest run in this process (its report: ``.report()``)."""
    run = Run(hook, parse_params(conf), name)
    run.all()
    return run


@pytest.mark.airflow
def test_ingest_sample_corpus_twice_exact_counts_same_rows_small_xcom(
    airflow_env, server_conn_id, server_hook, collection_name
):
    # On both servers (milvus_default: 2.3.5, milvus_lite: Milvus Lite 3.2.2); the other DAG tests on 2.3.5 only.
    hook = server_hook
    conf = {
        "source": str(SAMPLE_CORPUS),
        "collection": collection_name,
        "embedding": "deterministic",
        "batch_size": 25,
        "concurrency": 4,
        "milvus_conn_id": server_conn_id,
    }
    first = dags_test(airflow_env, conf)
    assert first.returncode == 0, first.output[-5000:]
    expected = expected_counts(SAMPLE_CORPUS)
    total = sum(expected.values())
    assert f"Ingest into '{collection_name}'" in first.output
    assert "files    : 10 seen, 10 indexed, 0 skipped" in first.output
    assert f"chunks   : {total} in {-(-total // 25)} batches" in first.output
    assert "validate : passed" in first.output
    assert count_by_source(hook, collection_name) == expected
    ids = sorted(r["pk"] for b in hook.iter_rows(collection_name, ["pk"]) for r in b)

    xcoms = [
        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for _, _, value in latest_run_xcoms(airflow_env)
    ]
    size = sum(len(value.encode()) for value in xcoms)
    assert size < 20_000, f"XCom holds {size} bytes"
    blob = " ".join(xcoms)
    chunk_starts = {
        c.page_content[:40]
        for d in load(discover(str(SAMPLE_CORPUS)))
        for c in split_document(d, SplitSettings("auto", 1000, 150))
    }
    leaked = [start for start in chunk_starts if start in blob]
    assert not leaked, (
        f"chunk text in XCom: {leaked[:3]} ... {blob[blob.find(leaked[0]) - 300 :][:600] if leaked else ''}"
    )
    staging = Path(airflow_env["MILVUS_TOOLKIT_STAGING"])
    assert not any(staging.glob("milvus_ingest-*/*/batch-*.jsonl")), "staged batches removed after success"

    ingested(hook, conf, "second")  # the same corpus again (in this process): the same rows
    assert sorted(r["pk"] for b in hook.iter_rows(collection_name, ["pk"]) for r in b) == ids
    assert hook.count(collection_name) == total


def test_bad_params_fail_before_anything_is_written(hook, collection_name):
    with pytest.raises(ParamsError, match=r"chunk_overlap \(400\) must be smaller than chunk_size \(400\)"):
        ingested(
            hook,
            {
                "source": str(SAMPLE_CORPUS),
                "collection": collection_name,
                "embedding": "deterministic",
                "chunk_size": 400,
                "chunk_overlap": 400,
            },
            "overlap",
        )
    assert not hook.has_collection(collection_name)

    with pytest.raises(SourceError, match="param 'source': '/no/such/folder' does not exist"):
        ingested(hook, {"collection": collection_name, "embedding": "deterministic", "source": "/no/such/folder"}, "x")
    assert not hook.has_collection(collection_name)


def test_bad_files_skipped_and_listed_or_failing_the_run(hook, collection_name, tmp_path):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "notes.md").write_text("# Notes\n\nThe sprayer needs a new nozzle before spring.\n")
    (corpus / "empty.txt").write_text("")
    (corpus / "scan.pdf").write_bytes(b"%PDF-1.7 not really")
    (corpus / "blob.bin").write_bytes(bytes(range(256)) * 4)
    conf = {"collection": collection_name, "embedding": "deterministic", "source": str(corpus)}

    with pytest.raises(CorpusError, match="on_bad_file=fail"):
        ingested(hook, {**conf, "on_bad_file": "fail"}, "failed")
    assert not hook.has_collection(collection_name), "nothing written"

    skipped = ingested(hook, conf, "skipped").report()
    assert "files    : 4 seen, 1 indexed, 3 skipped" in skipped
    assert "skipped empty.txt (its rows are kept): empty file" in skipped
    assert "skipped blob.bin (its rows are kept): binary file (NUL bytes), not text" in skipped
    assert "skipped scan.pdf (its rows are kept): unreadable PDF" in skipped
    assert count_by_source(hook, collection_name) == {"notes.md": 1}


def test_a_failed_validation_fails_the_run_with_a_table(hook, collection_name):
    source = SAMPLE_CORPUS / "grower-faq.txt"
    spec = CollectionSpec(name=collection_name, dim=384)
    store = chunk_store.vector_store(hook, spec, get_embeddings("deterministic").embeddings)
    # A row of the same source that a run started later wrote (far-future run_stamp): this
    # run must not delete it, and validation must notice that the counts differ.
    store.add_documents(
        [Document("a newer answer", metadata={"source": "grower-faq.txt", "run_stamp": 1e12})], ids=["newer-1"]
    )
    expected = expected_counts(source)["grower-faq.txt"]
    with pytest.raises(ValidationFailed) as failed:
        ingested(hook, {"collection": collection_name, "embedding": "deterministic", "source": str(source)}, "run")
    assert "| grower-faq.txt |" in str(failed.value) and f"{expected + 1}" in str(failed.value)
    assert hook.count(collection_name) == expected + 1, "validation reports; a newer run's row is never deleted"
