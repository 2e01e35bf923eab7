"""The benchmark against a real Milvus (the test session's own server), and the DAG once
through a real `airflow dags test`. Small counts and dimensions; no assertion on timing,
only on correctness: every cell measured, the same real work in sync and async,
collections dropped on success and on failure, regressions flagged."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from milvus_toolkit.benchmark import (
    BenchmarkParamsError,
    MilvusUnavailableError,
    build_plan,
    build_record,
    load_record,
    run_benchmark,
)
from milvus_toolkit.benchmark.plan import COLLECTION_PREFIX
from milvus_toolkit.embeddings import EmbeddingChoice

pytestmark = pytest.mark.integration
DIM = 8


def bench_collections(hook) -> set[str]:
    return {name for name in hook.list_collections() if name.startswith(COLLECTION_PREFIX)}


@pytest.fixture
def spy(hook, monkeypatch):
    """Records every collection the benchmark asks Milvus to create."""
    created: list[str] = []
    original = hook.create_collection

    def create(collection_name, *args, **kwargs):
        created.append(collection_name)
        return original(collection_name, *args, **kwargs)

    monkeypatch.setattr(hook, "create_collection", create)
    return created


# ---- the full matrix, small ----------------------------------------------------------------------------


def test_every_cell_is_measured_and_does_the_same_real_work(hook, spy):
    params = {
        "counts": [5, 20],
        "dim": DIM,
        "concurrency": [4],  # the semaphore path; "all" (unbounded gather) runs in the tests below
        "consistency_levels": ["Session", "Strong"],
        "wait_cells_max_count": 5,  # Strong searches and metadata deletes at count 5 only
        "search_rows": 50,
    }
    before = bench_collections(hook)
    run = run_benchmark(hook, params)
    record = build_record(run)

    # every planned cell, nothing missing, nothing zero
    planned = {c.key for c in build_plan(params).cells}
    assert {c["key"] for c in record["cells"]} == planned
    assert {"search|-|5|sync|raw|1|Strong", "delete|metadata|5|async|langchain|4|Session"} <= planned
    for cell in record["cells"]:
        assert cell["calls"] == cell["count"], cell["key"]
        for field in ("seconds", "ops_per_s", "p50_ms", "p95_ms", "p99_ms"):
            assert cell[field] and cell[field] > 0, (cell["key"], field)
    for m in run.measurements:
        assert len(m.latencies) == m.cell.count and all(x > 0 for x in m.latencies), m.cell.key

    # the collection holds what the calls claim: the verification ran, and here is its result
    for m in run.measurements:
        c = m.cell
        assert m.ok_calls == c.count, c.key
        assert m.rows_after == m.rows_expected, c.key
        if c.operation == "add":
            assert m.rows_after == c.count + 1  # + the warm-up document
        elif c.operation == "upsert":
            assert m.rows_after == c.count + 1 and m.upserted_after == c.count
        elif c.operation == "delete":
            assert m.rows_after == 0  # count + warm-up row seeded, all deleted
        else:
            assert m.rows_after == 50 and m.hits == c.count * 3

    # sync and async ran the same number of real operations in every group
    work = defaultdict(set)
    for m in run.measurements:
        c = m.cell
        work[(c.operation, c.variant, c.count, c.consistency_level)].add((m.ok_calls, m.rows_after, m.hits, m.upserted_after))
    assert all(len(outcomes) == 1 for outcomes in work.values()), work

    # environment recorded with the figures
    env = record["environment"]
    assert env["milvus_server_version"] == "v2.3.5-lite"
    assert env["clients"]["pymilvus"] and env["clients"]["langchain-milvus"]
    assert env["cpu_cores"] >= 1 and env["dim"] == DIM and env["consistency_levels"] == ["Session", "Strong"]

    # one fresh collection per measurement, all dropped
    assert len(set(spy)) == len(run.measurements) == len(run.collections_created)
    assert all(name.startswith(f"{COLLECTION_PREFIX}{record['plan']['collection_tag']}_") for name in spy)
    assert run.collections_left == []
    assert bench_collections(hook) == before


def test_repeats_use_a_fresh_collection_each_and_report_the_median(hook, spy):
    run = run_benchmark(
        hook,
        {"counts": [3], "dim": DIM, "operations": ["add"], "layers": ["raw"], "concurrency": ["all"], "repeats": 3},
    )
    record = build_record(run)
    assert len(run.measurements) == 6 and len(set(spy)) == 6
    for cell in record["cells"]:
        assert cell["repeats"] == 3 and cell["calls"] == 9
        assert cell["seconds_min"] <= cell["seconds"] <= cell["seconds_max"]
    assert all(m.rows_after == 4 for m in run.measurements)


# ---- cleanup on failure ----------------------------------------------------------------------------------


class BreaksAfter(Embeddings):
    """Deterministic vectors that stop working after ``ok_calls`` embedding calls: the run
    fails in the middle of a timed langchain loop."""

    def __init__(self, ok_calls: int) -> None:
        self.inner = DeterministicFakeEmbedding(size=DIM)
        self.calls = 0
        self.ok_calls = ok_calls

    def _tick(self) -> None:
        self.calls += 1
        if self.calls > self.ok_calls:
            raise RuntimeError("embedding service went away")

    def embed_documents(self, texts):
        self._tick()
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        self._tick()
        return self.inner.embed_query(text)


def test_collections_are_dropped_when_a_run_fails_mid_measurement(hook, spy):
    before = bench_collections(hook)
    breaking = BreaksAfter(ok_calls=4)
    broken = EmbeddingChoice("deterministic", "breaks-after-4", DIM, lambda: breaking)
    with pytest.raises(RuntimeError, match="embedding service went away"):
        run_benchmark(hook, {"counts": [10], "dim": DIM, "operations": ["add"], "concurrency": ["all"]}, embedding=broken)
    assert spy, "collections were created before the failure"
    assert bench_collections(hook) == before
    assert not any(hook.has_collection(name) for name in spy)


def test_collections_are_dropped_when_preparing_fails(hook, spy, monkeypatch):
    before = bench_collections(hook)
    original = hook.count

    def failing_count(name, filter=""):
        if len(spy) >= 3:
            raise RuntimeError("Milvus hiccup while seeding")
        return original(name, filter)

    monkeypatch.setattr(hook, "count", failing_count)
    with pytest.raises(RuntimeError, match="hiccup"):
        run_benchmark(hook, {"counts": [4], "dim": DIM, "operations": ["search"], "search_rows": 10, "concurrency": ["all"],
                             "consistency_levels": ["Session"]})
    monkeypatch.setattr(hook, "count", original)
    assert len(spy) >= 3
    assert bench_collections(hook) == before


# ---- bad input: a clear error before anything exists --------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"counts": [0, 10]}, "every count must be a positive integer, got 0"),
        ({"counts": [-1]}, "got -1"),
        ({"operations": ["add", "truncate"]}, "'truncate' is not allowed"),
        ({"embedding": "local", "dim": 768}, "dim 768 does not fit embedding 'local'"),
    ],
)
def test_bad_input_fails_before_any_collection_is_created(hook, spy, params, message):
    before = bench_collections(hook)
    with pytest.raises(BenchmarkParamsError, match="invalid benchmark parameters") as err:
        run_benchmark(hook, params)
    assert message in str(err.value)
    assert spy == [] and bench_collections(hook) == before


def test_an_embedding_of_another_dimension_is_refused_before_creating_anything(hook, spy):
    fake16 = DeterministicFakeEmbedding(size=16)
    wrong = EmbeddingChoice("deterministic", "deterministic-16", 16, lambda: fake16)
    with pytest.raises(BenchmarkParamsError, match="dim 8 does not fit embedding"):
        run_benchmark(hook, {"counts": [5], "dim": DIM}, embedding=wrong)
    assert spy == []


def test_a_milvus_that_is_down_fails_clearly_before_anything(monkeypatch, milvus_server):
    from milvus_provider.hooks.milvus import MilvusHook

    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_DOWN", "milvus://root:whatever@127.0.0.1:1/default")
    down = MilvusHook("milvus_down")
    created = []
    monkeypatch.setattr(down, "create_collection", lambda collection_name, *a, **k: created.append(collection_name))
    with pytest.raises(MilvusUnavailableError, match="Milvus is not available, nothing was created: Cannot reach Milvus"):
        run_benchmark(down, {"counts": [5], "dim": DIM, "milvus_conn_id": "milvus_down"})
    assert created == []


# ---- the DAG, once, through a real `airflow dags test` ------------------------------------------------------------


def test_dag_produces_table_record_and_chart_and_flags_a_planted_slow_result(airflow_env, hook, tmp_path):
    results = tmp_path / "benchmarks"
    conf = {
        "counts": [3, 6],
        "dim": DIM,
        "operations": ["add", "search"],
        "concurrency": ["all"],
        "consistency_levels": ["Session"],
        "search_rows": 20,
    }
    # A planted earlier run on the same server, impossibly fast: every cell of the new run
    # is far more than 20% slower and must be flagged.
    planted_cells = [
        {"key": c.key, "seconds": 1e-7} for c in build_plan(conf).cells
    ]
    planted = {
        "schema_version": 1,
        "run_id": "19990101T000000Z",
        "started_at": "1999-01-01T00:00:00+00:00",
        "environment": {
            "milvus_uri": hook.config.uri,
            "milvus_database": "default",
            "embedding_model": f"deterministic-{DIM}",
            "dim": DIM,
        },
        "params": {"top_k": 3, "search_rows": 20},
        "cells": planted_cells,
    }
    (results / "runs").mkdir(parents=True)
    (results / "runs" / "19990101T000000Z.json").write_text(json.dumps(planted))

    env = dict(airflow_env, MILVUS_BENCHMARK_RESULTS=str(results))
    before = bench_collections(hook)
    proc = subprocess.run(
        ["airflow", "dags", "test", "milvus_benchmark", "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "| operation | count | async s (unbounded gather) | sync s | speedup |" in log  # the table is logged

    (record_path,) = [p for p in (results / "runs").glob("*.json") if p.name != "19990101T000000Z.json"]
    record = load_record(record_path)
    stem = record_path.with_suffix("")
    assert {c["key"] for c in record["cells"]} == {c["key"] for c in planted_cells}
    assert all(c["seconds"] > 0 and c["p99_ms"] > 0 for c in record["cells"])
    assert record["compared_with"] == "19990101T000000Z"
    assert len(record["regressions"]) == len(planted_cells)
    assert "Slower than run 19990101T000000Z" in log

    markdown = stem.with_suffix(".md").read_text()
    assert "| add | 3 |" in markdown and "| add | 6 |" in markdown and "| search | 6 |" in markdown
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(stem.with_suffix(".csv").read_text().splitlines()) == 1 + len(planted_cells)
    assert (results / "history.csv").exists() and (results / "latest.md").exists()
    assert bench_collections(hook) == before
