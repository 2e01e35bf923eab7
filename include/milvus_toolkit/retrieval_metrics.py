"""The one home for retrieval metrics: hit rate@k, MRR@k, nDCG@k and recall@k.

Input: for each query, the ids a search returned, best first, and relevance judgements (id -> grade, grade > 0
means relevant). Output: per-query scores and their means, typed.

Built on ``ir-measures`` (0.4.3, with its ``pytrec_eval-terrier`` backend, the C implementation of TREC's
``trec_eval``): hit rate@k is ``Success@k``, MRR@k is ``RR@k``, nDCG@k is ``nDCG@k`` (trec_eval's linear gain,
``grade / log2(rank + 1)``), recall@k is ``R@k`` (relevant ids found in the top k / all relevant ids).
Why ir-measures and not ranx: ``pip install --dry-run`` showed ir-measures adds two wheels (itself and the 300 kB
pytrec_eval-terrier) and changes none of our pins, while ranx pulls numba, llvmlite, fastparquet, ir_datasets and
seaborn (a JIT compiler and its first-call compile cost on every worker) for the same four measures.

The run is cut at k before it is scored: pytrec_eval's reciprocal rank ignores ir-measures' cutoff (``RR@2``
scored a hit at rank 3; tests/unit/test_retrieval_metrics.py). Ids are scored by their position (the first id
ranks first); a repeated id counts at its first position only. Queries with no returned ids score 0. Every judged
query is scored, so a query the search lost still lowers the means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ir_measures
from ir_measures import RR, R, Success, nDCG

METRICS: tuple[str, ...] = ("hit_rate", "mrr", "ndcg", "recall")


@dataclass(frozen=True)
class QueryScores:
    """One query's scores at k."""

    query_id: str
    hit_rate: float
    mrr: float
    ndcg: float
    recall: float

    def get(self, metric: str) -> float:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
        return float(getattr(self, metric))


@dataclass(frozen=True)
class RetrievalScores:
    """Means over all judged queries at k, and each query's scores (in the judgements' order)."""

    k: int
    hit_rate: float
    mrr: float
    ndcg: float
    recall: float
    per_query: tuple[QueryScores, ...]

    @property
    def queries(self) -> int:
        return len(self.per_query)

    def get(self, metric: str) -> float:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
        return float(getattr(self, metric))

    def totals(self) -> dict[str, float]:
        """The four means, by metric name (for logs, reports and XCom)."""
        return {metric: self.get(metric) for metric in METRICS}


def score_rankings(
    rankings: Mapping[str, Sequence[str]],
    judgements: Mapping[str, Mapping[str, int]],
    k: int,
) -> RetrievalScores:
    """Scores each judged query's ranking at ``k``.

    ``rankings``: query id -> returned ids, best first (may miss queries: they score 0).
    ``judgements``: query id -> {id: grade}; each query needs at least one id with grade > 0.
    Rankings of queries that have no judgements are refused (a typo in a query id would otherwise go unnoticed).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not judgements:
        raise ValueError("no judged queries to score")
    unjudged = sorted(set(rankings) - set(judgements))
    if unjudged:
        raise ValueError(f"rankings for queries without judgements: {', '.join(map(repr, unjudged[:5]))}")
    qrels: dict[str, dict[str, int]] = {}
    for query_id, grades in judgements.items():
        cleaned = {str(doc): int(grade) for doc, grade in grades.items()}
        if any(grade < 0 for grade in cleaned.values()):
            raise ValueError(f"query {query_id!r}: relevance grades must be >= 0")
        if not any(grade > 0 for grade in cleaned.values()):
            raise ValueError(f"query {query_id!r} has no relevant id (grade > 0) to find")
        qrels[str(query_id)] = cleaned
    run: dict[str, dict[str, float]] = {}
    for query_id, ids in rankings.items():
        scores: dict[str, float] = {}
        for doc in ids:
            if len(scores) == k:
                break
            # Strictly decreasing scores keep the given order (trec_eval sorts by score, ties by id).
            scores.setdefault(str(doc), float(k - len(scores)))
        if scores:
            run[str(query_id)] = scores
    measures = {Success @ k: "hit_rate", RR @ k: "mrr", nDCG @ k: "ndcg", R @ k: "recall"}
    values: dict[str, dict[str, float]] = {query_id: dict.fromkeys(METRICS, 0.0) for query_id in qrels}
    for metric in ir_measures.pytrec_eval.iter_calc(list(measures), qrels, run):
        values[metric.query_id][measures[metric.measure]] = float(metric.value)
    per_query = tuple(QueryScores(query_id=query_id, **values[query_id]) for query_id in qrels)
    count = len(per_query)
    means = {metric: sum(scores.get(metric) for scores in per_query) / count for metric in METRICS}
    return RetrievalScores(k=k, per_query=per_query, **means)


def recall_at_k(retrieved: Sequence[str], relevant: Sequence[str] | set[str], k: int) -> float:
    """Recall@k of one ranking against a set of relevant ids (e.g. exact nearest neighbours)."""
    truth = {str(doc) for doc in relevant}
    if not truth:
        raise ValueError("recall needs at least one relevant id")
    return score_rankings({"q": list(retrieved)}, {"q": dict.fromkeys(truth, 1)}, k).recall
