"""retrieval_metrics against values computed by hand."""

import math

import pytest

from milvus_toolkit.retrieval_metrics import METRICS, recall_at_k, score_rankings


def test_one_query_scores_match_the_hand_computed_values():
    # relevant: a (grade 1), b (grade 1); ranking: c, a, d, b
    scores = score_rankings({"q": ["c", "a", "d", "b"]}, {"q": {"a": 1, "b": 1}}, k=3)
    only = scores.per_query[0]
    assert only.hit_rate == 1.0
    assert only.mrr == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3)  # a at rank 2; b is beyond k
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert only.ndcg == pytest.approx(dcg / idcg)
    assert only.recall == pytest.approx(1 / 2)


def test_the_cutoff_hides_what_ranks_below_k():
    scores = score_rankings({"q": ["x", "y", "a"]}, {"q": {"a": 1}}, k=2)
    assert scores.totals() == {"hit_rate": 0.0, "mrr": 0.0, "ndcg": 0.0, "recall": 0.0}
    scores = score_rankings({"q": ["x", "y", "a"]}, {"q": {"a": 1}}, k=3)
    assert scores.mrr == pytest.approx(1 / 3)
    assert scores.ndcg == pytest.approx(1 / math.log2(4))


def test_means_count_queries_that_returned_nothing_or_were_not_searched():
    judgements = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}}
    scores = score_rankings({"q1": ["a"], "q2": []}, judgements, k=5)
    assert [s.query_id for s in scores.per_query] == ["q1", "q2", "q3"]
    assert scores.queries == 3
    assert scores.hit_rate == pytest.approx(1 / 3)
    assert scores.mrr == pytest.approx(1 / 3)
    assert scores.per_query[1].get("ndcg") == 0.0


def test_graded_relevance_uses_linear_gain():
    # grades: a=2, b=1; ranking b, a  -> DCG = 1/log2(2) + 2/log2(3); ideal = 2/log2(2) + 1/log2(3)
    scores = score_rankings({"q": ["b", "a"]}, {"q": {"a": 2, "b": 1}}, k=2)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert scores.ndcg == pytest.approx(expected)


def test_the_given_order_wins_over_id_order_and_repeats_count_once():
    # ids chosen so that sorting by id would put the relevant one first
    scores = score_rankings({"q": ["z", "z", "a"]}, {"q": {"a": 1}}, k=2)
    assert scores.mrr == pytest.approx(1 / 2)


def test_recall_against_exact_neighbours():
    assert recall_at_k(["1", "2", "9", "4"], ["1", "2", "3", "4"], k=4) == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    "rankings, judgements, k, message",
    [
        ({}, {"q": {"a": 1}}, 0, "k must be a positive integer"),
        ({}, {}, 3, "no judged queries"),
        ({"typo": ["a"]}, {"q": {"a": 1}}, 3, "without judgements"),
        ({}, {"q": {"a": 0}}, 3, "no relevant id"),
        ({}, {"q": {"a": -1}}, 3, "grades must be >= 0"),
    ],
)
def test_bad_input_is_refused_with_a_reason(rankings, judgements, k, message):
    with pytest.raises(ValueError, match=message):
        score_rankings(rankings, judgements, k)


def test_metric_names_are_the_stable_four():
    assert METRICS == ("hit_rate", "mrr", "ndcg", "recall")
    scores = score_rankings({"q": ["a"]}, {"q": {"a": 1}}, k=1)
    assert scores.totals() == dict.fromkeys(METRICS, 1.0)
    with pytest.raises(ValueError, match="unknown metric"):
        scores.get("map")
