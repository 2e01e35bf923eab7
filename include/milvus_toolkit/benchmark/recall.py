"""Recall and nDCG at ``top_k`` against exact results computed with numpy on the same vectors
(VectorDBBench's ``recall`` and ``ndcg``: the share of the true ``k`` nearest neighbours a
search returned, averaged over the queries; nDCG also rewards returning them in order).

The exact neighbours are a brute-force scan of every row: cosine similarity (the benchmark's
metric) is the dot product of L2-normalized vectors, the largest first; ties go to the lower
row index, like a stable sort. The scores themselves come from
:mod:`milvus_toolkit.retrieval_metrics` (ir-measures), the toolkit's one home for retrieval
metrics. No Milvus."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from milvus_toolkit.retrieval_metrics import RetrievalScores, score_rankings

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


def ann_scores(results: Sequence[tuple[Sequence, Sequence]], k: int) -> RetrievalScores:
    """Recall@k and nDCG@k (and hit rate, MRR) of ``(got, truth)`` pairs, one per query: the
    true ``k`` nearest neighbours (``truth[:k]``) are the relevant ids, each of grade 1. Scored
    by the toolkit's one home for retrieval metrics (:mod:`milvus_toolkit.retrieval_metrics`),
    so recall is VectorDBBench's ``calc_recall`` (true neighbours returned / ``k``; a duplicate
    counts once) and nDCG rewards returning them in order."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be positive, got {k}")
    rankings: dict[str, list[str]] = {}
    judgements: dict[str, dict[str, int]] = {}
    for n, (got, truth) in enumerate(results):
        want = [str(t) for t in list(truth)[:k]]
        if len(want) < k:
            raise ValueError(f"query {n}: {len(want)} true neighbours for k={k}")
        judgements[str(n)] = dict.fromkeys(want, 1)
        rankings[str(n)] = [str(g) for g in got]
    return score_rankings(rankings, judgements, k)


def recall_at_k(got: Iterable, truth: Sequence, k: int | None = None) -> float:
    """The share of the true ``k`` nearest neighbours among the ``k`` results returned
    (VectorDBBench's ``calc_recall``); duplicates in ``got`` count once."""
    k = len(truth) if k is None else k
    return ann_scores([(list(got), truth)], k).recall


def ndcg_at_k(got: Sequence, truth: Sequence, k: int | None = None) -> float:
    """Normalized discounted cumulative gain of one search against its true neighbours."""
    k = len(truth) if k is None else k
    return ann_scores([(list(got), truth)], k).ndcg


def mean_recall(results: Iterable[tuple[Sequence, Sequence]], k: int) -> float | None:
    """Mean recall over ``(got, truth)`` pairs, ``None`` for no pairs."""
    pairs = list(results)
    return round(ann_scores(pairs, k).recall, 6) if pairs else None
