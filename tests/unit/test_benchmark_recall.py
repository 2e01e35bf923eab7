"""Recall and nDCG at top_k against numpy's exact neighbours (no Milvus)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from milvus_toolkit.benchmark.recall import exact_top_k, mean_recall, ndcg_at_k, recall_at_k


def test_exact_top_k_is_the_brute_force_cosine_order():
    base = [[1, 0], [0, 1], [1, 1], [-1, 0], [10, 1]]
    # cosine to (1, 0): row 0 = 1.0, row 4 = 0.995, row 2 = 0.707, row 1 = 0, row 3 = -1
    assert exact_top_k(base, [[1, 0]], 3) == [[0, 4, 2]]
    # scale does not matter for cosine, it does for inner product
    assert exact_top_k(base, [[3, 0]], 2) == [[0, 4]]
    assert exact_top_k(base, [[1, 0]], 2, metric="IP") == [[4, 0]]
    # L2: nearest first
    assert exact_top_k(base, [[0.9, 0.9]], 2, metric="L2") == [[2, 0]]


def test_exact_top_k_names_rows_by_their_ids_and_breaks_ties_by_row_order():
    base = [[1, 0], [1, 0], [0, 1]]
    assert exact_top_k(base, [[1, 0], [0, 1]], 2, ids=["a", "b", "c"]) == [["a", "b"], ["c", "a"]]


def test_exact_top_k_agrees_with_a_plain_python_scan():
    rnd = np.random.default_rng(7)
    base = rnd.normal(size=(300, 24))
    queries = rnd.normal(size=(20, 24))
    got = exact_top_k(base, queries, 5)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    for q, row in zip(queries, got, strict=True):
        expected = sorted(range(len(base)), key=lambda j: -cos(q, base[j]))[:5]
        assert row == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be between 1 and the number of rows"),
        ({"k": 4}, "k must be between 1 and the number of rows (3)"),
        ({"k": 1, "metric": "HAMMING"}, "metric must be one of"),
        ({"k": 1, "ids": ["a"]}, "1 ids for 3 rows"),
    ],
)
def test_exact_top_k_rejects_nonsense(kwargs, message):
    with pytest.raises(ValueError) as err:
        exact_top_k([[1, 0], [0, 1], [1, 1]], [[1, 0]], **kwargs)
    assert message in str(err.value)


def test_recall_is_the_share_of_true_neighbours_returned():
    truth = ["a", "b", "c"]
    assert recall_at_k(["a", "b", "c"], truth) == 1.0
    assert recall_at_k(["c", "b", "a"], truth) == 1.0  # order does not matter for recall
    assert recall_at_k(["a", "x", "y"], truth) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "a", "a"], truth) == pytest.approx(1 / 3)  # a duplicate counts once
    assert recall_at_k([], truth) == 0.0
    assert recall_at_k(["a", "b"], truth, k=2) == 1.0
    with pytest.raises(ValueError):
        recall_at_k(["a"], truth, k=0)


def test_ndcg_rewards_the_right_order():
    truth = ["a", "b", "c"]
    assert ndcg_at_k(["a", "b", "c"], truth) == pytest.approx(1.0)
    assert ndcg_at_k(["c", "b", "a"], truth) == pytest.approx(1.0)  # every true neighbour, any order: all gains
    assert ndcg_at_k(["x", "a", "b"], truth) < ndcg_at_k(["a", "b", "x"], truth) < 1.0
    assert ndcg_at_k(["x", "y", "z"], truth) == 0.0


def test_mean_recall_over_queries():
    assert mean_recall([(["a", "b"], ["a", "b"]), (["a", "x"], ["a", "b"])], 2) == 0.75
    assert mean_recall([], 3) is None
