"""Recall and nDCG at ``top_k`` against exact results computed with numpy on the same vectors
(VectorDBBench's ``recall`` and ``ndcg``: the share of the true ``k`` nearest neighbours a
search returned, averaged over the queries; nDCG also rewards returning them in order).

The exact neighbours are a brute-force scan of every row: cosine similarity (the benchmark's
metric) is the dot product of L2-normalized vectors, the largest first; ties go to the lower
row index, like a stable sort. Pure numpy, no Milvus."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

METRICS = ("COSINE", "IP", "L2")


def exact_top_k(
    base: Sequence[Sequence[float]] | np.ndarray,
    queries: Sequence[Sequence[float]] | np.ndarray,
    k: int,
    *,
    metric: str = "COSINE",
    ids: Sequence[str] | None = None,
) -> list[list]:
    """For every query, the ``k`` nearest rows of ``base`` (their ``ids``, or row indexes),
    best first."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    data = np.asarray(base, dtype=np.float64)
    q = np.asarray(queries, dtype=np.float64)
    if data.ndim != 2 or q.ndim != 2 or data.shape[1] != q.shape[1]:
        raise ValueError(f"base {data.shape} and queries {q.shape} must be 2-d with the same dimension")
    if not 1 <= k <= len(data):
        raise ValueError(f"k must be between 1 and the number of rows ({len(data)}), got {k}")
    if ids is not None and len(ids) != len(data):
        raise ValueError(f"{len(ids)} ids for {len(data)} rows")
    if metric == "COSINE":
        data = data / np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-30)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
    if metric == "L2":
        # smaller is nearer: sort by the squared distance
        scores = -((q**2).sum(axis=1)[:, None] - 2 * q @ data.T + (data**2).sum(axis=1)[None, :])
    else:
        scores = q @ data.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    if ids is None:
        return [[int(j) for j in row] for row in order]
    return [[ids[int(j)] for j in row] for row in order]


def recall_at_k(got: Iterable, truth: Sequence, k: int | None = None) -> float:
    """The share of the true ``k`` nearest neighbours among the ``k`` results returned
    (VectorDBBench's ``calc_recall``); duplicates in ``got`` count once."""
    k = len(truth) if k is None else k
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    want = set(list(truth)[:k])
    returned = set(list(got)[:k])
    return len(want & returned) / k


def ndcg_at_k(got: Sequence, truth: Sequence, k: int | None = None) -> float:
    """Normalized discounted cumulative gain: a true neighbour at rank r (0-based) of the
    results gains 1/log2(r + 2); the ideal order gains the sum over the first ``k`` ranks."""
    k = len(truth) if k is None else k
    want = set(list(truth)[:k])
    seen: set = set()
    dcg = 0.0
    for rank, item in enumerate(list(got)[:k]):
        if item in want and item not in seen:
            dcg += 1 / math.log2(rank + 2)
            seen.add(item)
    ideal = sum(1 / math.log2(r + 2) for r in range(k))
    return dcg / ideal


def mean_recall(results: Iterable[tuple[Sequence, Sequence]], k: int) -> float | None:
    """Mean recall over ``(got, truth)`` pairs, ``None`` for no pairs."""
    values = [recall_at_k(got, truth, k) for got, truth in results]
    return round(float(np.mean(values)), 6) if values else None
