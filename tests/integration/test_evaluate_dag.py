"""milvus_evaluate through real Airflow (`airflow dags test`, the one Airflow-level quality test) against the
session's Milvus 2.3.5 server: scores land in the history, the chart is drawn next to the benchmark's, and the
baseline validation compares with is left alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from milvus_toolkit import evaluation as ev
from milvus_toolkit.evaluation_history import evaluate_serving, parse_evaluate_params, read_history
from milvus_toolkit.ingest.params import parse_params
from tests.integration.conftest import Run

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.usefixtures("private_staging")]
SAMPLE_SET = str(Path(__file__).resolve().parents[2] / "include" / "evaluations" / "sample_corpus.jsonl")


def test_milvus_evaluate_records_history_and_a_chart_and_gates_nothing(
    airflow_env, hook, collection_name, corpus, tmp_path
):
    params = parse_params(
        {"source": str(corpus), "collection": collection_name, "embedding": "deterministic", "evaluation": SAMPLE_SET}
    )
    Run(hook, params, "evaluate").all()  # validation records the baseline
    baseline = hook.collection_properties(collection_name)[ev.BASELINE]
    results = tmp_path / "results"
    conf = {"collection": collection_name, "evaluation": SAMPLE_SET, "embedding": "deterministic"}
    done = subprocess.run(
        ["airflow", "dags", "test", "milvus_evaluate", "-c", json.dumps(conf)],
        env={**airflow_env, "MILVUS_BENCHMARK_RESULTS": str(results)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    history = results / "quality" / f"{collection_name}.jsonl"
    [entry] = read_history(history)
    assert entry["set"] == ev.load_evaluation_set(SAMPLE_SET).digest and entry["k"] == 5
    assert entry["serving"] == collection_name and entry["queries"] == 38
    assert set(entry["scores"]) == {f"dense_{m}_at_5" for m in ("hit_rate", "mrr", "ndcg", "recall")}
    assert "Evaluation of '" in output and "Totals at k=5" in output, "the per-query table and totals are logged"
    chart = results / "quality" / f"{collection_name}.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert hook.collection_properties(collection_name)[ev.BASELINE] == baseline, "evaluating gates nothing"

    # A second evaluation appends to the same history (in-process: the Airflow wiring was proven above).
    again = evaluate_serving(parse_evaluate_params(conf), hook, run_id="second", folder=results / "quality")
    assert [e["run_id"] for e in read_history(history)][1] == "second"
    assert again["paths"]["chart"] == str(chart)


def test_milvus_evaluate_refuses_another_model_than_the_collections(hook, collection_name, corpus, tmp_path):
    params = parse_params({"source": str(corpus / "release-notes.md"), "collection": collection_name})
    Run(hook, params.model_copy(update={"embedding": "deterministic", "embedding_dim": 8}), "other").all()
    from milvus_toolkit.marks import EmbeddingMismatchError

    conf = {"collection": collection_name, "evaluation": SAMPLE_SET, "embedding": "deterministic"}
    with pytest.raises(EmbeddingMismatchError, match="holds vectors of"):
        evaluate_serving(parse_evaluate_params(conf), hook, folder=tmp_path / "quality")
    assert not (tmp_path / "quality").exists(), "nothing recorded"
