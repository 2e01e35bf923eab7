"""The concurrency sweep's figures with VectorDBBench's field names (no Milvus)."""

from __future__ import annotations

import pytest

from milvus_toolkit.benchmark.sweep import WorkerResult, aggregate_level, conc_lists, layer_metrics, serial_summary


def worker(latencies_ms, failed=0):
    w = WorkerResult()
    for ms in latencies_ms:
        w.record(ms / 1000, True)
    for _ in range(failed):
        w.record(0.5, False, TimeoutError("deadline exceeded"))
    return w


def test_a_level_pools_its_clients():
    level = aggregate_level(2, [worker([1, 2, 3, 4]), worker([5, 6, 7, 8], failed=2)], wall_seconds=2.0)
    assert level["concurrency"] == 2 and level["requests"] == 10 and level["ok"] == 8 and level["failed"] == 2
    assert level["qps"] == 4.0  # successful searches / wall time (VectorDBBench: all_count / cost)
    assert level["failed_rate"] == 0.2
    assert level["latency_p50_ms"] == 4.5 and level["latency_avg_ms"] == 4.5 and level["latency_max_ms"] == 8.0
    assert level["latency_p99_ms"] == pytest.approx(7.93)
    assert level["latency_p95_ms"] == pytest.approx(7.65)
    assert level["first_error"] == "TimeoutError: deadline exceeded"  # failed calls do not enter the latencies


def test_a_level_where_everything_failed_has_no_latency_and_no_qps():
    level = aggregate_level(1, [worker([], failed=3)], 1.0)
    assert level["qps"] == 0.0 and level["failed_rate"] == 1.0 and level["latency_p99_ms"] is None


def test_a_result_with_too_few_hits_is_a_failure():
    w = WorkerResult()
    w.record(0.001, False)
    assert w.failed == 1 and w.latencies == [] and w.first_error == "fewer hits than top_k"


@pytest.mark.parametrize(("concurrency", "workers", "wall"), [(2, 1, 1.0), (0, 0, 1.0), (1, 1, 0.0)])
def test_inconsistent_inputs_are_refused(concurrency, workers, wall):
    with pytest.raises(ValueError):
        aggregate_level(concurrency, [worker([1])] * workers, wall)


def levels(*pairs):
    """Levels with the given (concurrency, qps); latencies grow with concurrency."""
    return [
        aggregate_level(c, [worker([c * 1.0, c * 2.0]) for _ in range(c)], wall_seconds=2 * c / qps) for c, qps in pairs
    ]


def test_vectordbbench_lists_are_in_concurrency_order():
    lists = conc_lists(levels((8, 100.0), (1, 40.0), (32, 90.0)))
    assert lists["conc_num_list"] == [1, 8, 32]
    assert lists["conc_qps_list"] == [40.0, 100.0, 90.0]
    # level 1: latencies [1, 2] ms -> p99 1.99; levels 8 and 32: half at c, half at 2c ms -> p99 = 2c
    assert lists["conc_latency_p99_list"] == [pytest.approx(1.99), 16.0, 64.0]
    assert lists["conc_latency_avg_list"] == [1.5, 12.0, 48.0]
    assert set(lists) >= {
        "conc_latency_p50_list",
        "conc_latency_p95_list",
        "conc_failed_rate_list",
        "conc_requests_list",
    }
    assert lists["conc_failed_rate_list"] == [0.0, 0.0, 0.0]


def test_layer_metrics_take_the_best_level_of_any_mode_as_qps():
    serial = serial_summary([0.001, 0.002, 0.010], recalls=[1.0, 0.5, 1.0], ndcgs=[1.0, 0.5, 1.0])
    m = layer_metrics(serial, {"sync": levels((1, 40.0), (8, 60.0)), "async": levels((1, 30.0), (8, 120.0))})
    assert m["qps"] == 120.0 and m["qps_at"] == {"mode": "async", "concurrency": 8}
    assert m["serial_latency_p99"] == pytest.approx(9.84) and m["recall"] == pytest.approx(0.833333)
    assert m["sync"]["conc_qps_list"] == [40.0, 60.0] and m["async"]["conc_num_list"] == [1, 8]
    assert [lv["concurrency"] for lv in m["async"]["levels"]] == [1, 8]


def test_serial_summary_needs_searches():
    with pytest.raises(ValueError):
        serial_summary([], [], [])
    assert serial_summary([0.002], [], [])["recall"] is None
