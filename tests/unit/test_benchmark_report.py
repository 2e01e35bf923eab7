"""Benchmark figures: percentiles, per-cell summaries, the seeds-shaped table, the chart,
the history and the regression check (no Milvus, no Airflow)."""

from __future__ import annotations

import copy
import csv
import json

import pytest

from milvus_toolkit.benchmark.plan import Cell, build_plan
from milvus_toolkit.benchmark.regression import find_previous_run, find_regressions
from milvus_toolkit.benchmark.render import markdown_report
from milvus_toolkit.benchmark.stats import machine_was_busy, percentile, summarize
from milvus_toolkit.benchmark.storage import load_record, results_dir, save_record, save_run
from milvus_toolkit.benchmark.tables import seeds_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_record(
    run_id="20260101T000000Z",
    *,
    started_at="2026-01-01T00:00:00+00:00",
    slow=1.0,
    uri="http://127.0.0.1:19530",
    repeats=1,
):
    """A record shaped like the runner's: every cell of a small plan, with per-call
    latencies of 2 ms (sync) or 1 ms (async) times ``slow``."""
    plan = build_plan(
        {"counts": [10, 100], "operations": ["add", "search"], "concurrency": [8, "all"], "repeats": repeats}
    )
    measurements = []
    for cell in plan.cells:
        for r in range(repeats):
            per_call = (0.002 if cell.mode == "sync" else 0.001) * slow
            if cell.waits_per_call:
                per_call = 0.2 * slow
            seconds = per_call * cell.count if cell.mode == "sync" else per_call * cell.count / 4
            measurements.append(
                cell.to_dict()
                | {
                    "repeat": r,
                    "collection": f"bench_x_{len(measurements):04d}",
                    "seconds": seconds * (1 + r),  # repeats differ: the median is reported
                    "ok_calls": cell.count,
                    "latencies_ms": [per_call * 1000] * cell.count,
                }
            )
    return {
        "schema_version": 1,
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": started_at,
        "environment": {
            "milvus_server_version": "v2.3.5-lite",
            "milvus_uri": uri,
            "milvus_database": "default",
            "embedding": "deterministic",
            "embedding_model": "deterministic-768",
            "dim": 768,
            "clients": {"pymilvus": "3.0.2"},
            "cpu_cores": 2,
        },
        "params": plan.params.summary(),
        "plan": {"cells": len(plan.cells), "skipped": plan.skipped},
        "cells": summarize(measurements),
        "measurements": measurements,
        "collections_created": len(measurements),
        "collections_left": [],
        "regressions": [],
        "compared_with": None,
    }


# ---- percentiles and summaries -------------------------------------------------------------------


def test_percentile_interpolates_like_numpy():
    data = [1, 2, 3, 4]
    assert percentile(data, 50) == 2.5
    assert percentile(data, 0) == 1 and percentile(data, 100) == 4
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([3, 1, 2], 50) == 2  # order does not matter


def test_percentile_rejects_nonsense():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_summary_is_the_median_over_repeats_and_pools_latencies():
    cell = Cell("add", 4, "sync", "raw", "1", "Session")
    ms = [
        cell.to_dict() | {"seconds": s, "latencies_ms": lat}
        for s, lat in [(0.4, [1, 2, 3, 4]), (0.1, [5, 6, 7, 8]), (0.2, [9, 10, 11, 12])]
    ]
    (summary,) = summarize(ms)
    assert summary["seconds"] == 0.2 and summary["seconds_min"] == 0.1 and summary["seconds_max"] == 0.4
    assert summary["repeats"] == 3 and summary["calls"] == 12
    assert summary["ops_per_s"] == 20.0
    assert summary["p50_ms"] == 6.5
    assert summary["p99_ms"] == pytest.approx(11.89)
    assert summary["max_ms"] == 12


def test_every_cell_has_figures():
    record = fake_record(repeats=2)
    assert len(record["cells"]) == record["plan"]["cells"]
    for cell in record["cells"]:
        assert cell["repeats"] == 2 and cell["calls"] == 2 * cell["count"]
        for field in ("seconds", "ops_per_s", "p50_ms", "p95_ms", "p99_ms"):
            assert cell[field] > 0, (cell["key"], field)


# ---- the seeds-shaped table and the report ---------------------------------------------------------


def test_seeds_table_shape_operation_by_count_with_speedup():
    record = fake_record()
    rows = seeds_table(record, "langchain")
    assert [(r["operation"], r["count"]) for r in rows] == [
        ("add", 10),
        ("add", 100),
        ("search", 10),
        ("search", 100),
        ("search (Strong)", 10),
        ("search (Strong)", 100),
    ]
    add10 = rows[0]
    assert add10["sync_s"] == pytest.approx(0.02) and add10["async_s"] == pytest.approx(0.0025)
    assert add10["speedup"] == 8.0
    for row in rows:
        assert row["async_s"] and row["sync_s"] and row["speedup"]


def test_markdown_report_has_the_tables_the_issue_asks_for():
    text = markdown_report(fake_record())
    assert "| operation | count | async s (unbounded gather) | sync s | speedup |" in text
    assert "| add | 10 | 0.0025 | 0.020 | 8.0x |" in text
    assert "## Raw pymilvus client (the floor)" in text
    assert (
        "| operation | count | consistency | layer | mode | concurrency | seconds | ops/s | p50 ms | p95 ms "
        "| p99 ms | recall |" in text
    )
    assert (
        "langchain overhead ms" in text and "llamaindex overhead ms" in text and "Searches by consistency level" in text
    )
    assert "Async concurrency levels of the cells" in text and "async 8 s" in text
    assert "search at Strong, count 1000" not in text  # not asked: counts were 10 and 100
    assert "No earlier comparable run" in text


# ---- history and the regression check ----------------------------------------------------------------


def test_a_planted_slow_result_is_flagged():
    previous = fake_record("20260101T000000Z")
    current = fake_record("20260108T000000Z", started_at="2026-01-08T00:00:00+00:00")
    slow = next(c for c in current["cells"] if c["key"] == "search|-|100|sync|raw|1|Session")
    slow["seconds"] *= 1.5
    flagged = find_regressions(current, previous, threshold=0.2)
    assert [r["key"] for r in flagged] == [slow["key"]]
    assert flagged[0]["slower_pct"] == 50.0 and flagged[0]["previous_run"] == "20260101T000000Z"


def test_small_changes_and_speedups_are_not_flagged():
    previous = fake_record()
    current = copy.deepcopy(previous)
    for cell in current["cells"]:
        cell["seconds"] *= 1.19 if cell["mode"] == "sync" else 0.5
    assert find_regressions(current, previous, 0.2) == []
    assert find_regressions(current, None, 0.2) == []


def test_cells_missing_from_the_previous_run_are_not_compared():
    previous = fake_record()
    previous["cells"] = previous["cells"][:3]
    current = fake_record(slow=3.0)
    assert {r["key"] for r in find_regressions(current, previous)} == {c["key"] for c in previous["cells"]}


def test_save_run_writes_every_artifact_and_compares_with_the_previous_run(tmp_path):
    first = fake_record("20260101T000000Z")
    paths = save_run(first, tmp_path)
    assert first["compared_with"] is None and first["regressions"] == []
    for kind in ("json", "csv", "markdown", "png"):
        assert (tmp_path / "runs" / f"20260101T000000Z.{ {'markdown': 'md'}.get(kind, kind) }").exists(), kind
    assert open(paths["png"], "rb").read(8) == PNG_MAGIC
    assert (tmp_path / "latest.md").exists() and (tmp_path / "latest.png").exists()

    second = fake_record("20260108T000000Z", started_at="2026-01-08T00:00:00+00:00", slow=2.0)  # everything 2x slower
    save_run(second, tmp_path)
    assert second["compared_with"] == "20260101T000000Z"
    assert {r["key"] for r in second["regressions"]} == {c["key"] for c in second["cells"]}
    saved = load_record(tmp_path / "runs" / "20260108T000000Z.json")
    assert len(saved["regressions"]) == len(second["cells"])
    assert "more than 20% slower" in (tmp_path / "runs" / "20260108T000000Z.md").read_text()

    with open(tmp_path / "history.csv") as fh:
        history = list(csv.DictReader(fh))
    assert len(history) == len(first["cells"]) + len(second["cells"])
    assert {row["run_id"] for row in history} == {"20260101T000000Z", "20260108T000000Z"}
    with open(paths["csv"]) as fh:
        assert len(list(csv.DictReader(fh))) == len(first["cells"])


def test_only_runs_on_the_same_server_are_compared(tmp_path):
    save_record(fake_record("20260101T000000Z", uri="http://elsewhere:19530", slow=0.1), tmp_path)
    current = fake_record("20260108T000000Z", started_at="2026-01-08T00:00:00+00:00")
    assert find_previous_run(tmp_path, current) is None
    save_record(fake_record("20260102T000000Z", started_at="2026-01-02T00:00:00+00:00", slow=0.1), tmp_path)
    save_record(fake_record("20260103T000000Z", started_at="2026-01-03T00:00:00+00:00", slow=0.1), tmp_path)
    assert find_previous_run(tmp_path, current)["run_id"] == "20260103T000000Z"  # the newest earlier one


def test_results_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MILVUS_BENCHMARK_RESULTS", str(tmp_path / "bench"))
    assert results_dir() == tmp_path / "bench"
    monkeypatch.delenv("MILVUS_BENCHMARK_RESULTS")
    monkeypatch.setenv("LOCAL_HOME", str(tmp_path))
    assert results_dir() == tmp_path / "benchmarks"
    monkeypatch.delenv("LOCAL_HOME")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert results_dir() == tmp_path / "airflow" / "milvus_toolkit" / "benchmarks"  # never beside the code
    monkeypatch.delenv("AIRFLOW_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert results_dir() == tmp_path / "home" / ".local" / "share" / "milvus_toolkit" / "benchmarks"


def test_records_round_trip_as_json(tmp_path):
    record = fake_record()
    path = save_record(record, tmp_path)
    assert load_record(path) == json.loads(json.dumps(record))
    path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ValueError, match="schema version"):
        load_record(path)


def test_a_busy_machine_is_called_out_in_the_report():
    quiet = fake_record()
    quiet["environment"] |= {
        "cpu_cores": 2,
        "cpu_cores_usable": 2,
        "load_average_start": [0.3, 0.2, 0.1],
        "load_average_end": [1.2, 0.5, 0.2],
    }
    assert machine_was_busy(quiet) is None and "machine was busy" not in markdown_report(quiet)
    busy = copy.deepcopy(quiet)
    busy["environment"]["load_average_end"] = [8.43, 6.69, 3.92]
    assert machine_was_busy(busy) == 8.43
    assert "**Warning:** the machine was busy (1-minute load average up to 8.43 on 2 cores)" in markdown_report(busy)


# ---- LlamaIndex, the tutorials beside ours, the gaps explained, the search metrics ----------------------


def fake_search_metrics(*, hybrid: bool = False):
    """A ``search_metrics`` section shaped like the runner's, from the sweep's own functions."""
    from milvus_toolkit.benchmark.sweep import UNITS, WorkerResult, aggregate_level, layer_metrics, serial_summary

    def level(concurrency, qps, ms):
        workers = []
        for _ in range(concurrency):
            w = WorkerResult()
            for _ in range(10):
                w.record(ms / 1000, True)
            workers.append(w)
        return aggregate_level(concurrency, workers, wall_seconds=10 * concurrency / qps)

    layers = {}
    for n, layer in enumerate(("langchain", "llamaindex", "raw")):
        serial = serial_summary([0.002 + n / 1000] * 49 + [0.009], [1.0] * 49 + [2 / 3], [1.0] * 50)
        layers[layer] = layer_metrics(
            serial,
            {
                "sync": [level(1, 300.0 + n, 3.0), level(8, 350.0 + n, 20.0)],
                "async": [level(1, 250.0 + n, 4.0), level(8, 500.0 + n, 15.0)],
            },
        )
    section = {
        "consistency_level": "Session",
        "top_k": 3,
        "rows": 1000,
        "dim": 768,
        "queries": 50,
        "sweep_concurrency": [1, 8],
        "sweep_seconds": 3.0,
        "modes": ["sync", "async"],
        "units": UNITS,
        "load": {
            "rows": 1000,
            "insert_duration": 0.2,
            "optimize_duration": 7.5,
            "load_duration": 7.7,
            "flush_s": 2.7,
            "index_s": 0.5,
            "load_s": 4.0,
            "first_search_s": 0.3,
            "insert_rows_per_s": 5000.0,
        },
        "layers": layers,
        "hybrid": {
            "capabilities": {"version": "v2.3.5-lite", "bm25": False},
            "measured": False,
            "reason": "Milvus server v2.3.5-lite has no BM25 full-text search (needs Milvus 2.5+ or Milvus Lite 3.x)",
        },
    }
    if hybrid:
        section["hybrid"] = {
            "measured": True,
            "rrf_k": 60,
            "sweep_concurrency": 8,
            "collection_rows": 1000,
            "kinds": {
                "dense": {
                    "serial": serial_summary([0.002] * 50, [1.0] * 50, [1.0] * 50),
                    "sync": level(8, 400.0, 9.0),
                    "async": level(8, 450.0, 8.0),
                },
                "bm25": {
                    "serial": serial_summary([0.006] * 50, [], [])
                    | {"own_document_first": 1.0, "own_document_in_top_k": 1.0},
                    "sync": level(8, 150.0, 30.0),
                    "async": level(8, 160.0, 28.0),
                },
                "hybrid": {
                    "serial": serial_summary([0.008] * 50, [], [])
                    | {"own_document_first": 0.7, "own_document_in_top_k": 1.0},
                    "sync": level(8, 120.0, 40.0),
                    "async": level(8, 125.0, 38.0),
                },
            },
        }
    return section


def test_the_report_has_a_llamaindex_table_and_the_tutorial_rows_beside_ours():
    record = fake_record()
    assert {c["layer"] for c in record["cells"]} == {"langchain", "llamaindex", "raw"}
    text = markdown_report(record)
    assert "## LlamaIndex MilvusVectorStore: async vs sync (the LlamaIndex tutorial's calls)" in text
    assert "### LlamaIndex tutorial (RAG with Milvus and LlamaIndex Async API)" in text
    # the tutorial's search at Strong, beside our llamaindex search at Strong (fake: 200 ms per call, async 4x faster)
    assert "| search | 100 | 1.39 | 30.80 | 22.2x | 5.00 | 20.00 | 4.0x | Strong |  |" in text
    assert "| add | 10 | 0.190 | 0.560 | 2.9x | 0.0025 | 0.020 | 8.0x | Session |  |" in text
    # rows this run did not measure say so, beside the tutorial's figure
    assert "| add | 1000 | 3.22 | 62.91 | 19.5x | - | - | - | Session | count 1000 not measured in this run |" in text
    assert "| search | 1000 | 8.81 | 309 | 35.1x |" in text
    # the LangChain tutorial too, with its own layer
    assert "| add | 100 | 2.77 | 65.60 | 23.7x | 0.025 | 0.200 | 8.0x | Session |  |" in text
    assert (
        "| delete by metadata | 100 | 0.610 | 29.21 | 47.9x | - | - | - | Session | count 100 not measured "
        "in this run |" in text
    )


def test_tutorial_rows_fall_back_to_the_baseline_level_and_say_so():
    from milvus_toolkit.benchmark.tables import tutorial_table

    record = fake_record()
    record["cells"] = [c for c in record["cells"] if c["consistency_level"] != "Strong"]
    record["params"]["consistency_levels"] = ["Session"]
    row = next(r for r in tutorial_table(record, "llamaindex") if (r["operation"], r["count"]) == ("search", 10))
    assert row["consistency"] == "Session" and row["sync_s"] is not None
    assert row["note"] == "here at Session: the tutorial's Strong was not measured"
    record["cells"] = [c for c in record["cells"] if c["layer"] != "llamaindex"]
    assert tutorial_table(record, "llamaindex")[0]["note"] == "layer llamaindex not measured in this run"


def test_every_large_gap_is_explained_from_the_figures():
    record = fake_record()
    # Which rows are listed depends on the planted figures only: at count 10 the Strong
    # searches are 2 s sync vs 0.5 s gathered (4x), below LARGE_GAP, so not listed ...
    assert "- **here, llamaindex: search (Strong) x10," not in markdown_report(record)
    strong = next(c for c in record["cells"] if c["key"] == "search|-|100|async|llamaindex|all|Strong")
    strong["seconds"] = 0.25  # 20 s sync -> 80x
    strong10 = next(c for c in record["cells"] if c["key"] == "search|-|10|async|llamaindex|all|Strong")
    strong10["seconds"] = 0.05  # ... until the gathered batch is planted faster: 2 s sync -> 40x
    text = markdown_report(record)
    assert "## Why the large sync/async gaps (5x or more)" in text
    assert (
        "- **here, llamaindex: search (Strong) x100, 80.0x**: every sync call waits (p50 200.0 ms): a Strong "
        "search waits "
        "until the server's time tick passes the request. Gathered all at once, the waits overlap: 100 calls in 0.25 s "
        "(2.50 ms per call)." in text
    )
    assert (  # the row the DAG test's run may or may not measure as large (issue 17)
        "- **here, llamaindex: search (Strong) x10, 40.0x**: every sync call waits (p50 200.0 ms): a Strong "
        "search waits "
        "until the server's time tick passes the request. Gathered all at once, the waits overlap: 10 calls in 0.05 s "
        "(5.00 ms per call)." in text
    )
    assert "- **here, raw: add x10, 8.0x**: sync is 10 round trips of p50 2.00 ms one after the other" in text
    # the tutorials' own gaps: what their per-call time is made of
    assert (
        "- **llamaindex tutorial: search x1000, 35.1x**: Strong consistency: every sync query waits for the server's "
        "time tick"
    ) in text and "309 ms per call" in text
    assert "- **llamaindex tutorial: add x1000, 19.5x**: no consistency wait on an insert: 63 ms per sync call" in text
    assert (
        "- **langchain tutorial: add x100, 23.7x**: an OpenAI embeddings request inside every call: 656 ms "
        "per sync add, "
        "most of it the embedding API (this run, langchain at Session: p50 2.0 ms per sync call)"
    ) in text
    assert "langchain tutorial: add x10," not in text  # 3.1x: not a large gap


def test_the_search_metrics_section_has_vectordbbench_figures_per_layer_and_level():
    record = fake_record()
    record["search_metrics"] = fake_search_metrics()
    text = markdown_report(record)
    assert "## Search metrics (VectorDBBench's fields)" in text
    assert "**load_duration 7.70 s**" in text and "flush 2.70 s" in text
    assert "| layer | qps (best level) | at | serial_latency_p99 ms | serial p50 ms | recall | ndcg |" in text
    assert "| raw | 502 | async x8 | 6.55 | 4.00 | 0.993 | 1.00 |" in text  # p99 of 49 x 4 ms and one 9 ms
    assert "| layer | mode | clients | qps | p50 | p95 | p99 | avg | failed rate | requests |" in text
    assert "| llamaindex | sync | 8 | 351 | 20.00 | 20.00 | 20.00 | 20.00 | 0.00% | 80 |" in text
    assert (
        "Not measured: Milvus server v2.3.5-lite has no BM25 full-text search (needs Milvus 2.5+ or Milvus Lite 3.x)."
        in text
    )
    record["search_metrics"] = fake_search_metrics(hybrid=True)
    text = markdown_report(record)
    assert "| search | serial p50 ms | serial p99 ms | sync qps | async qps | async p99 ms | check |" in text
    assert "| bm25 | 6.00 | 6.00 | 150 | 160 | 28.00 | own doc first 1.0, in top k 1.0 |" in text
    assert "| dense | 2.00 | 2.00 | 400 | 450 | 8.00 | recall 1.00 |" in text


def test_the_server_version_and_what_it_supports_head_the_report():
    record = fake_record()
    record["environment"]["milvus_capabilities"] = {
        "version": "milvus_lite-3.2.2",
        "flavor": "milvus-lite",
        "milvus_api": "2.5",
        "bm25": True,
        "hybrid_search": True,
        "partition_key": True,
        "aliases": True,
        "authentication": False,
    }
    record["environment"]["milvus_server_version"] = "milvus_lite-3.2.2"
    text = markdown_report(record)
    assert (
        "- Milvus **milvus_lite-3.2.2** at http://127.0.0.1:19530 (database default); milvus-lite, Milvus 2.5 API, "
        "supports: bm25, hybrid_search, partition_key, aliases"
    ) in text


def test_save_run_draws_the_sweep_and_adds_its_levels_to_the_history(tmp_path):
    record = fake_record()
    record["search_metrics"] = fake_search_metrics()
    paths = save_run(record, tmp_path)
    assert open(paths["sweep_png"], "rb").read(8) == PNG_MAGIC
    assert (tmp_path / "latest.sweep.png").exists()
    with open(tmp_path / "history.csv") as fh:
        history = list(csv.DictReader(fh))
    sweep = [r for r in history if r["operation"] == "search_sweep"]
    assert len(sweep) == 3 * 2 * 2  # layers x modes x levels
    raw8 = next(r for r in sweep if (r["layer"], r["mode"], r["concurrency"]) == ("raw", "async", "8"))
    assert (
        float(raw8["ops_per_s"]) == 502.0
        and float(raw8["recall"]) == pytest.approx(0.993333)
        and raw8["failed_rate"] == "0.0"
    )
    assert len(history) == len(record["cells"]) + len(sweep)
    # a run without search metrics draws no sweep chart
    plain = fake_record("20260108T000000Z", started_at="2026-01-08T00:00:00+00:00")
    assert "sweep_png" not in save_run(plain, tmp_path)


def test_an_older_history_gets_the_new_columns_and_keeps_its_rows(tmp_path):
    from milvus_toolkit.benchmark.storage import HISTORY_FIELDS, append_history

    old_fields = [f for f in HISTORY_FIELDS if f not in ("recall", "failed_rate")]
    path = tmp_path / "history.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=old_fields)
        writer.writeheader()
        writer.writerow({f: "old" for f in old_fields})
    record = fake_record()
    append_history(record, path)
    with open(path) as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == HISTORY_FIELDS
    assert rows[0]["run_id"] == "old" and rows[0]["recall"] == ""
    assert len(rows) == 1 + len(record["cells"])
