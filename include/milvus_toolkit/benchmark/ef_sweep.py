"""Recall against QPS over HNSW's search parameter ``ef``, ann-benchmarks style, so a user can
pick ``ef``.

``ef`` is the size of the candidate list an HNSW search keeps while it walks the graph: a larger
``ef`` visits more of the graph (higher recall) and costs more time (lower QPS). Milvus refuses a
search whose ``ef`` is below its ``limit`` (Milvus 2.3.5: ``ef(1) should be larger than
k(10)``): :func:`check_ef` refuses it here first, before any call to the server.

One *point* per layer and ``ef``: one client searches every query once (recall@k and nDCG@k
against the exact top ``k``, scored by :mod:`milvus_toolkit.retrieval_metrics`), and keeps
searching the queries in turn until ``seconds`` have passed; QPS is the searches of that loop
divided by its wall time (ann-benchmarks measures one client, one query at a time, too).
Pure Python: the search is a callable ``search(i, ef)``; no Milvus import here."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from milvus_toolkit.benchmark.recall import ann_scores
from milvus_toolkit.benchmark.stats import percentile

MAX_EF = 32768  # Milvus's upper bound for HNSW ef


class EfError(ValueError):
    """An ``ef`` Milvus would refuse."""


def ef_problem(ef: Any, k: int) -> str | None:
    """Why ``ef`` cannot be searched with ``limit=k`` (or ``None``)."""
    if isinstance(ef, bool) or not isinstance(ef, int):
        return f"ef must be an integer, got {ef!r}"
    if ef < k:
        return (
            f"ef {ef} is below top_k {k}: an HNSW search keeps ef candidates and returns k of them, "
            f'so Milvus refuses ef < k (Milvus 2.3.5: "ef({ef}) should be larger than k({k})"); use ef >= {k}'
        )
    if ef > MAX_EF:
        return f"ef {ef} is above Milvus's maximum {MAX_EF}"
    return None


def check_ef(ef: Any, k: int) -> int:
    problem = ef_problem(ef, k)
    if problem:
        raise EfError(problem)
    return ef


def search_params(ef: int, metric: str = "COSINE") -> dict[str, Any]:
    """The ``search_params`` of an HNSW search at ``ef`` (pymilvus ``MilvusClient.search``;
    langchain-milvus ``param``; LlamaIndex ``milvus_search_config``)."""
    return {"metric_type": metric, "params": {"ef": ef}}


def measure_point(
    search: Callable[[int, int], Any],
    ids: Callable[[Any], list[str]],
    truth: Callable[[int], Sequence[str]],
    queries: int,
    k: int,
    ef: int,
    seconds: float,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """One point of the curve: recall and nDCG over one pass of the ``queries``, QPS and
    latencies over the timed loop (the first pass included)."""
    check_ef(ef, k)
    if queries < 1:
        raise ValueError("no query to search")
    search(0, ef)  # warm-up at this ef
    results: list[tuple[list[str], Sequence[str]]] = []
    latencies: list[float] = []
    short = 0
    started = clock()
    i = 0
    while i < queries or clock() - started < seconds:
        t0 = clock()
        got = ids(search(i, ef))
        latencies.append(clock() - t0)
        if i < queries:
            results.append((got, truth(i)))
            short += len(got) < k
        i += 1
    wall = clock() - started
    scores = ann_scores(results, k)
    return {
        "ef": ef,
        "recall": round(scores.recall, 6),
        "ndcg": round(scores.ndcg, 6),
        "queries": queries,
        "short_results": short,
        "searches": len(latencies),
        "seconds": round(wall, 4),
        "qps": round(len(latencies) / wall, 2) if wall > 0 else None,
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "latency_avg_ms": round(statistics.fmean(latencies) * 1000, 3),
    }


def smallest_ef_reaching(points: Sequence[dict[str, Any]], recall: float) -> int | None:
    """The smallest measured ``ef`` whose recall is at least ``recall`` (for the report)."""
    good = [p["ef"] for p in points if p["recall"] is not None and p["recall"] >= recall]
    return min(good) if good else None
