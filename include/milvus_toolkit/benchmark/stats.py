"""The figures of a benchmark run: percentiles, one summary per cell, the run's JSON-able
record, and whether the machine was too busy for the figures to be trusted."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

SCHEMA_VERSION = 1


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default), so p50 of an even-sized sample is the mean of the middle two."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    rank = (len(data) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summarize(measurements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per cell: the median batch time over repeats, throughput, and the
    per-call latency percentiles over every call of every repeat."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for m in measurements:
        by_key.setdefault(m["key"], []).append(m)
    cells = []
    for key, group in by_key.items():
        first = group[0]
        seconds = [m["seconds"] for m in group]
        latencies = [x for m in group for x in m["latencies_ms"]]
        median = statistics.median(seconds)
        recalls = [m["recall"] for m in group if m.get("recall") is not None]
        cells.append(
            {
                "key": key,
                **{
                    f: first[f]
                    for f in ("operation", "variant", "count", "mode", "layer", "concurrency", "consistency_level")
                },
                "repeats": len(group),
                "calls": len(latencies),
                "seconds": round(median, 6),
                "seconds_min": round(min(seconds), 6),
                "seconds_max": round(max(seconds), 6),
                "seconds_all": [round(s, 6) for s in seconds],
                "ops_per_s": round(first["count"] / median, 2) if median > 0 else None,
                "p50_ms": round(percentile(latencies, 50), 3),
                "p95_ms": round(percentile(latencies, 95), 3),
                "p99_ms": round(percentile(latencies, 99), 3),
                "mean_ms": round(statistics.fmean(latencies), 3),
                "max_ms": round(max(latencies), 3),
                "recall": round(statistics.fmean(recalls), 4) if recalls else None,
            }
        )
    return cells


def build_record(run: Any) -> dict[str, Any]:
    """The JSON-able record of a ``BenchmarkRun`` (every figure plus the environment)."""
    measurements = [m.to_dict() for m in run.measurements]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "environment": run.environment,
        "params": run.params,
        "plan": run.plan,
        "cells": summarize(measurements),
        "measurements": measurements,
        "collections_created": len(run.collections_created),
        "collections_left": run.collections_left,
        "search_metrics": getattr(run, "search_metrics", None),
        "regressions": [],
        "compared_with": None,
    }


def machine_was_busy(record: dict[str, Any]) -> float | None:
    """The highest 1-minute load average seen at start or end when it exceeds 75% of the
    cores: other processes then shared the CPU with the client and the server."""
    env = record.get("environment", {})
    cores = env.get("cpu_cores_usable") or env.get("cpu_cores") or 1
    loads = [la[0] for la in (env.get("load_average_start"), env.get("load_average_end")) if la]
    peak = max(loads, default=0.0)
    return peak if peak > 0.75 * cores else None
