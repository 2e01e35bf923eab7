"""Evaluation sets: parsing (bad lines named by file and line), judging answers, the quality gate."""

import json
import re
from pathlib import Path

import pytest

from milvus_toolkit import evaluation as ev
from milvus_toolkit.ingest.documents import discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS

SAMPLE_SET = Path(__file__).resolve().parents[2] / "include" / "evaluations" / "sample_corpus.jsonl"


def write(tmp_path, lines) -> str:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_good_set_loads_with_defaults_and_blank_lines_skipped(tmp_path):
    path = write(
        tmp_path,
        [
            {"query": "where is the dock?", "expected_sources": "dock.rst"},
            "",
            {"id": "e", "kind": "keyword", "query": " ESTOP ", "expected_text": ["ESTOP_ACTIVE"], "note": "code"},
        ],
    )
    evalset = ev.load_evaluation_set(path)
    assert [(q.id, q.query, q.expected_sources, q.expected_text, q.kind, q.line) for q in evalset.queries] == [
        ("line1", "where is the dock?", ("dock.rst",), (), None, 1),
        ("e", "ESTOP", (), ("ESTOP_ACTIVE",), "keyword", 3),
    ]
    assert evalset.kinds() == ["keyword"]


def test_every_bad_line_is_refused_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        [
            {"query": "fine", "expected_sources": ["a.md"]},
            "{not json",
            '["a list"]',
            {"query": "", "expected_sources": ["a.md"]},
            {"query": "no answer"},
            {"query": "typo", "expected_source": ["a.md"]},
            {"id": "line1", "query": "same id", "expected_sources": ["a.md"]},
            {"query": "bad list", "expected_text": ["ok", 3]},
        ],
    )
    with pytest.raises(ev.EvaluationSetError) as caught:
        ev.load_evaluation_set(path)
    message = str(caught.value)
    for line, problem in [
        (2, "not valid JSON"),
        (3, "expected a JSON object"),
        (4, "'query' must be a non-empty string"),
        (5, "give 'expected_sources' and/or 'expected_text'"),
        (6, "unknown key(s) ['expected_source']"),
        (7, "id 'line1' already used on line 1"),
        (8, "'expected_text' must be a non-empty string or a list"),
    ]:
        assert f"{path}:{line}: {problem}" in message, message
    assert f"{path}:1:" not in message
    assert message.startswith(f"evaluation set {path}: 8 problem(s)")


def test_an_unreadable_or_empty_set_is_refused(tmp_path):
    with pytest.raises(ev.EvaluationSetError, match="cannot be read"):
        ev.load_evaluation_set(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ev.EvaluationSetError, match="holds no queries"):
        ev.load_evaluation_set(write(tmp_path, ["", "  "]))


def test_a_set_in_object_storage_is_read_like_a_source():
    from milvus_toolkit.ingest.documents import source_path

    remote = source_path("memory://evaluations/set.jsonl")
    remote.parent.mkdir(parents=True, exist_ok=True)
    remote.write_text('{"query": "q", "expected_sources": ["a.md"]}\n{"query": ""}\n', encoding="utf-8")
    with pytest.raises(ev.EvaluationSetError, match="memory://evaluations/set.jsonl:2: 'query' must be"):
        ev.load_evaluation_set("memory://evaluations/set.jsonl")


def test_the_digest_follows_content_not_formatting(tmp_path):
    one = ev.load_evaluation_set(write(tmp_path, ['{"query": "q", "expected_sources": ["a"]}']))
    spaced = ev.load_evaluation_set(write(tmp_path, ['{ "expected_sources" : "a",   "query":"q" }']))
    other = ev.load_evaluation_set(write(tmp_path, ['{"query": "q", "expected_sources": ["b"]}']))
    assert one.digest == spaced.digest != other.digest
    assert re.fullmatch(r"[0-9a-f]{16}", one.digest)


def hit(source, text="", pk="x"):
    return {"pk": pk, "source": source, "text": text}


def test_answers_not_chunks_are_judged():
    by_source = ev.EvalQuery("q", "?", expected_sources=("a.md", "b.md"))
    # two chunks of a.md: only the first counts; b.md at rank 4
    ranked = ev.judge(by_source, [hit("z.md"), hit("a.md"), hit("a.md"), hit("b.md")], "source", "text")
    assert ranked == ["miss:0", "source:a.md", "miss:2", "source:b.md"]
    by_text = ev.EvalQuery("t", "?", expected_sources=("a.md",), expected_text=("Five  Metres",))
    assert ev.judge(by_text, [hit("b.md", "five metres"), hit("a.md", "keep\nfive metres away")], "source", "text") == [
        "miss:0",
        "text:Five  Metres",
    ]


def test_scores_of_hits_match_hand_computed_values():
    import math

    evalset = ev.EvaluationSet(
        "mem",
        (
            ev.EvalQuery("a", "?", expected_sources=("a.md", "b.md")),
            ev.EvalQuery("b", "?", expected_sources=("c.md",)),
        ),
    )
    hits = [[hit("z"), hit("a.md"), hit("a.md"), hit("b.md")], [hit("z"), hit("y")]]
    scores, first = ev.score_hits(evalset, hits, k=3)
    assert first == {"a": 2, "b": None}
    a = scores.per_query[0]
    assert (a.hit_rate, a.mrr, a.recall) == (1.0, 0.5, 0.5)  # b.md is at rank 4, beyond k
    assert a.ndcg == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert scores.hit_rate == 0.5


def result(per_query: dict[str, float], k=5, mode="dense") -> ev.QualityResult:
    from milvus_toolkit.retrieval_metrics import QueryScores, RetrievalScores

    rows = tuple(QueryScores(q, 1.0, v, v, 1.0) for q, v in per_query.items())
    mean = sum(per_query.values()) / len(per_query)
    return ev.QualityResult("c", "d" * 16, k, {mode: RetrievalScores(k, 1.0, mean, mean, 1.0, rows)}, mode)


def test_the_gate_passes_within_the_drop_and_names_what_got_worse():
    now = result({"a": 1.0, "b": 0.5, "c": 0.9})  # mean 0.8
    baseline = ev.Baseline("serving", 0.81, {"a": 1.0, "b": 0.63, "c": 0.8})
    decision = ev.decide(now, baseline, min_quality=None, max_quality_drop=0.02)
    assert decision.passed and not decision.forced
    assert decision.worse == [("b", 0.63, 0.5)]
    assert "b: 0.630 -> 0.500" in decision.text()


def test_the_gate_refuses_a_drop_and_a_floor_and_force_overrides_saying_so():
    now = result({"a": 0.5, "b": 0.5})
    baseline = ev.Baseline("serving", 0.9, {"a": 1.0, "b": 0.8})
    refused = ev.decide(now, baseline, min_quality=0.6, max_quality_drop=0.02)
    assert not refused.passed
    assert refused.reasons == [
        "0.500 is below min_quality 0.600",
        "0.500 is 0.400 below the baseline 0.900 (max_quality_drop 0.020)",
    ]
    assert [qid for qid, _, _ in refused.worse] == ["a", "b"]
    forced = ev.decide(now, baseline, min_quality=0.6, max_quality_drop=0.02, force=True)
    assert forced.passed and forced.forced and "OVERRIDDEN by force_swap" in forced.text()
    assert forced.summary()["forced"] is True
    first_build = ev.decide(now, None, min_quality=None, max_quality_drop=0.02)
    assert first_build.passed and first_build.baseline is None


def test_a_recorded_baseline_counts_only_for_the_same_set_and_k():
    now = result({"a": 0.5})
    record = now.record()
    assert ev.baseline_from_record(record, now, "c").score == 0.5
    assert ev.baseline_from_record({**record, "k": 10}, now, "c") is None
    assert ev.baseline_from_record({**record, "set": "0" * 16}, now, "c") is None
    assert ev.baseline_from_record(None, now, "c") is None


def test_the_sample_corpus_set_is_valid_and_answerable():
    evalset = ev.load_evaluation_set(str(SAMPLE_SET))
    assert len(evalset.queries) >= 25
    assert set(evalset.kinds()) == {"keyword", "meaning"}
    texts = {doc.source: " ".join(t for _, t in doc.pages) for doc in load(discover(str(SAMPLE_CORPUS)))}
    for query in evalset.queries:
        assert set(query.expected_sources) <= set(texts), query.id
        for wanted in query.expected_text:
            assert any(wanted.casefold() in " ".join(t.split()).casefold() for t in texts.values()), (query.id, wanted)


def test_a_declared_index_names_its_set_relative_to_the_declaration_file(tmp_path):
    from milvus_toolkit.declared import DeclarationError, load_declarations

    (tmp_path / "sets").mkdir()
    declarations = tmp_path / "indexes.yaml"
    entry = "  - name: docs\n    source: corpus\n    collection: docs\n    evaluation: sets/docs.jsonl\n"
    declarations.write_text("indexes:\n" + entry + "    evaluate_schedule: '@daily'\n", encoding="utf-8")
    [index] = load_declarations(declarations)
    assert index.evaluation == str(tmp_path / "sets" / "docs.jsonl")
    assert index.evaluate_dag_id == "milvus_evaluate__docs" and index.evaluate_schedule == "@daily"
    run = index.run_params()
    assert run["evaluation"] == index.evaluation and run["max_quality_drop"] == 0.02
    assert "evaluate_schedule" not in run, "a schedule is not a run param"
    declarations.write_text("indexes:\n" + entry + "    max_quality_drop: 2\n", encoding="utf-8")
    with pytest.raises(DeclarationError, match="index 'docs': field 'max_quality_drop'"):
        load_declarations(declarations)
