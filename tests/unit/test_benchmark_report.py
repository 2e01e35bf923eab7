"""Benchmark figures: percentiles, per-cell summaries, the seeds-shaped table, the chart,
the history and the regression check (no Milvus, no Airflow)."""

from __future__ import annotations

import copy
import csv
import json

import pytest
from milvus_toolkit.benchmark.plan import Cell, build_plan
from milvus_toolkit.benchmark.report import (
    find_previous_run,
    find_regressions,
    load_record,
    machine_was_busy,
    markdown_report,
    percentile,
    results_dir,
    save_record,
    save_run,
    seeds_table,
    summarize,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_record(run_id="20260101T000000Z", *, started_at="2026-01-01T00:00:00+00:00", slow=1.0, uri="http://127.0.0.1:19530", repeats=1):
    """A record shaped like the runner's: every cell of a small plan, with per-call
    latencies of 2 ms (sync) or 1 ms (async) times ``slow``."""
    plan = build_plan({"counts": [10, 100], "operations": ["add", "search"], "concurrency": [8, "all"], "repeats": repeats})
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
        ("add", 10), ("add", 100), ("search", 10), ("search", 100), ("search (Strong)", 10), ("search (Strong)", 100),
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
    assert "| operation | count | consistency | layer | mode | concurrency | seconds | ops/s | p50 ms | p95 ms | p99 ms |" in text
    assert "langchain overhead ms" in text and "Searches by consistency level" in text
    assert "Concurrency sweep" in text and "async 8 s" in text
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
    quiet["environment"] |= {"cpu_cores": 2, "cpu_cores_usable": 2, "load_average_start": [0.3, 0.2, 0.1], "load_average_end": [1.2, 0.5, 0.2]}
    assert machine_was_busy(quiet) is None and "machine was busy" not in markdown_report(quiet)
    busy = copy.deepcopy(quiet)
    busy["environment"]["load_average_end"] = [8.43, 6.69, 3.92]
    assert machine_was_busy(busy) == 8.43
    assert "**Warning:** the machine was busy (1-minute load average up to 8.43 on 2 cores)" in markdown_report(busy)
