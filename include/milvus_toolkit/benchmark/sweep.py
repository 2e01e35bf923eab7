"""The figures of a time-boxed concurrency sweep, with VectorDBBench's field names.

At each level, ``concurrency`` clients (threads for sync, coroutines for async) search in a
loop for ``sweep_seconds``; each returns a :class:`WorkerResult`. A level's ``qps`` is the
successful searches of all clients divided by the wall time from the common start until the
last client returned (VectorDBBench's ``MultiProcessingSearchRunner``: ``all_count / cost``);
its latencies are those of the successful searches; its failed rate is failed / all requests
(a request fails when it raises or returns fewer than ``top_k`` hits).

Units: seconds for durations, requests per second for ``qps``, **milliseconds** for every
latency (``serial_latency_p99`` as VectorDBBench's UI shows it; its ``conc_latency_*_list``
are also given in ms here), fractions for rates and recall. Pure Python, no Milvus.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from milvus_toolkit.benchmark.stats import percentile

UNITS = {
    "qps": "requests/s (successful)",
    "serial_latency_p99": "ms",
    "conc_latency_p99_list": "ms",
    "conc_latency_avg_list": "ms",
    "conc_latency_p50_list": "ms",
    "conc_latency_p95_list": "ms",
    "conc_failed_rate_list": "fraction of requests",
    "recall": "fraction (mean over queries)",
    "insert_duration": "s",
    "optimize_duration": "s",
    "load_duration": "s",
}


@dataclass
class WorkerResult:
    """What one client did during a level: successful and failed requests, and the latency
    (seconds) of each successful one."""

    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    def record(self, seconds: float, good: bool, error: BaseException | None = None) -> None:
        if good:
            self.ok += 1
            self.latencies.append(seconds)
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = f"{type(error).__name__}: {error}"[:300] if error else "fewer hits than top_k"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def aggregate_level(concurrency: int, workers: Sequence[WorkerResult], wall_seconds: float) -> dict[str, Any]:
    """One level's figures from its clients' results."""
    if concurrency < 1 or len(workers) != concurrency:
        raise ValueError(f"{len(workers)} worker results for concurrency {concurrency}")
    if wall_seconds <= 0:
        raise ValueError(f"wall time must be positive, got {wall_seconds}")
    ok = sum(w.ok for w in workers)
    failed = sum(w.failed for w in workers)
    latencies = [x for w in workers for x in w.latencies]
    requests = ok + failed
    errors = [w.first_error for w in workers if w.first_error]
    return {
        "concurrency": concurrency,
        "duration_s": round(wall_seconds, 4),
        "requests": requests,
        "ok": ok,
        "failed": failed,
        "failed_rate": round(failed / requests, 6) if requests else 0.0,
        "qps": round(ok / wall_seconds, 2),
        "latency_p50_ms": _ms(percentile(latencies, 50)) if latencies else None,
        "latency_p95_ms": _ms(percentile(latencies, 95)) if latencies else None,
        "latency_p99_ms": _ms(percentile(latencies, 99)) if latencies else None,
        "latency_avg_ms": _ms(statistics.fmean(latencies)) if latencies else None,
        "latency_max_ms": _ms(max(latencies)) if latencies else None,
        "first_error": errors[0] if errors else None,
    }


def conc_lists(levels: Iterable[dict[str, Any]]) -> dict[str, list]:
    """VectorDBBench's per-level lists (``conc_num_list``, ``conc_qps_list``,
    ``conc_latency_p99_list``, ``conc_latency_avg_list``) plus p50, p95, the failed rate and
    the request count of each level, in concurrency order."""
    ordered = sorted(levels, key=lambda lv: lv["concurrency"])
    return {
        "conc_num_list": [lv["concurrency"] for lv in ordered],
        "conc_qps_list": [lv["qps"] for lv in ordered],
        "conc_latency_p99_list": [lv["latency_p99_ms"] for lv in ordered],
        "conc_latency_avg_list": [lv["latency_avg_ms"] for lv in ordered],
        "conc_latency_p50_list": [lv["latency_p50_ms"] for lv in ordered],
        "conc_latency_p95_list": [lv["latency_p95_ms"] for lv in ordered],
        "conc_failed_rate_list": [lv["failed_rate"] for lv in ordered],
        "conc_requests_list": [lv["requests"] for lv in ordered],
    }


def serial_summary(latencies: Sequence[float], recalls: Sequence[float], ndcgs: Sequence[float]) -> dict[str, Any]:
    """The serial pass (one client, each query once): ``serial_latency_p99`` and the mean
    ``recall`` / ``ndcg`` at ``top_k``."""
    if not latencies:
        raise ValueError("the serial pass made no search")
    return {
        "queries": len(latencies),
        "serial_latency_p99": _ms(percentile(latencies, 99)),
        "serial_latency_p95": _ms(percentile(latencies, 95)),
        "serial_latency_p50": _ms(percentile(latencies, 50)),
        "serial_latency_avg": _ms(statistics.fmean(latencies)),
        "recall": round(statistics.fmean(recalls), 6) if recalls else None,
        "ndcg": round(statistics.fmean(ndcgs), 6) if ndcgs else None,
    }


def layer_metrics(serial: dict[str, Any], sweeps: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """One layer's record: VectorDBBench's top-level ``qps`` (the best level of any mode),
    ``serial_latency_p99``, ``recall``, ``ndcg``, and per mode the levels and their lists."""
    best = max((lv for levels in sweeps.values() for lv in levels), key=lambda lv: lv["qps"], default=None)
    out: dict[str, Any] = {
        "qps": best["qps"] if best else None,
        "qps_at": {"mode": next(m for m, lvs in sweeps.items() if best in lvs), "concurrency": best["concurrency"]}
        if best
        else None,
        "serial_latency_p99": serial["serial_latency_p99"],
        "recall": serial["recall"],
        "ndcg": serial["ndcg"],
        "serial": serial,
    }
    for mode, levels in sweeps.items():
        out[mode] = {"levels": sorted(levels, key=lambda lv: lv["concurrency"]), **conc_lists(levels)}
    return out
