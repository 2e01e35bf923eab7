"""The quality-gated blue/green swap (issue 20, item 3), against the session's real Milvus servers with the
local model (all-MiniLM-L6-v2) and the sample corpus's evaluation set. Runs go through the in-process
``Reindex`` / ``Run`` harnesses, which call the DAGs' steps in order."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from milvus_toolkit import evaluation as ev
from milvus_toolkit import marks, reindex
from tests.integration.conftest import Reindex, Run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]
SAMPLE_SET = str(Path(__file__).resolve().parents[2] / "include" / "evaluations" / "sample_corpus.jsonl")


def conf(corpus, alias, **extra) -> dict:
    return {"source": str(corpus), "collection": alias, "embedding": "local", "evaluation": SAMPLE_SET, **extra}


def quality_of(hook, collection) -> dict[str, str]:
    props = hook.collection_properties(hook.describe_alias(collection) or collection)
    return {k.removeprefix(ev.QUALITY): v for k, v in props.items() if k.startswith(ev.QUALITY)}


def test_a_rebuild_that_loses_quality_is_refused_one_that_keeps_it_swaps_and_force_swap_says_so(
    hook, corpus, alias, caplog
):
    caplog.set_level(logging.INFO)
    first = Reindex(hook, conf(corpus, alias, strategy="full"), "q1")
    assert first.all()["swapped"]
    good = hook.describe_alias(alias)
    recorded = quality_of(hook, good)
    assert recorded["status"] == "validated" and recorded["k"] == "5"
    assert recorded["set"] == ev.load_evaluation_set(SAMPLE_SET).digest
    assert float(recorded["dense_ndcg_at_5"]) > 0  # measured, not assumed
    baseline = ev.recorded(hook, alias)
    assert baseline["scores"]["dense"]["ndcg"] == pytest.approx(float(recorded["dense_ndcg_at_5"]))

    # Meaningless vectors: the counts validate, retrieval does not. Refused before the swap.
    caplog.clear()
    broken = Reindex(hook, conf(corpus, alias, strategy="full", embedding="deterministic"), "q2")
    with pytest.raises(ev.QualityGateFailed, match="was refused: the alias still serves") as refused:
        broken.all()
    assert hook.describe_alias(alias) == good, "the alias still serves the good build"
    kept = broken.plan["target"]
    assert hook.has_collection(kept), "the refused build is kept for inspection"
    assert reindex.is_build_of(hook.collection_properties(kept), alias)
    assert quality_of(hook, kept)["status"] == "refused"
    assert float(quality_of(hook, kept)["dense_ndcg_at_5"]) < float(recorded["dense_ndcg_at_5"]) - 0.02
    assert ev.recorded(hook, kept) is None, "a refused build records no baseline"
    message = str(refused.value)
    assert "Queries that got worse" in message and "baseline" in message
    worse = [line.split(":")[0].strip() for line in message.splitlines() if line.startswith("    ") and " -> " in line]
    assert worse and set(worse) <= set(baseline["per_query"]), "the log names the queries that got worse"
    assert "Queries that got worse" in caplog.text

    # Another chunk size that keeps quality: compared with the serving build measured now, and swapped.
    resized = Reindex(hook, conf(corpus, alias, strategy="full", chunk_size=800, chunk_overlap=120), "q3")
    swap = resized.all()
    assert swap["swapped"] and hook.describe_alias(alias) == resized.plan["target"]
    assert "(measured now)" in caplog.text
    assert quality_of(hook, alias)["status"] == "validated"

    # force_swap overrides the gate, and the report says so.
    forced = Reindex(hook, conf(corpus, alias, strategy="full", embedding="deterministic", force_swap=True), "q4")
    swap = forced.all()
    assert swap["swapped"] and hook.describe_alias(alias) == forced.plan["target"]
    assert quality_of(hook, alias)["status"] == "forced"
    summary = forced.summary  # what the DAG's report task logs and puts in the Asset event
    assert "OVERRIDDEN by force_swap" in summary.text, summary.text
    assert summary.figures["quality_gate"] == "forced" and summary.figures["quality_set"] == recorded["set"]
    assert summary.figures["quality.dense_ndcg_at_5"] == pytest.approx(
        float(quality_of(hook, alias)["dense_ndcg_at_5"])
    )


def test_an_incremental_run_that_loses_quality_fails_validation_and_keeps_the_baseline(hook, corpus, alias):
    Reindex(hook, conf(corpus, alias, strategy="full"), "i1").all()
    before = ev.recorded(hook, alias)
    faq = corpus / "grower-faq.txt"
    faq.write_text("NOTES\n\n" + "Nothing to see here; this page was emptied by mistake.\n" * 3, encoding="utf-8")
    with pytest.raises(ev.QualityGateFailed, match="failed its quality check") as failed:
        Reindex(hook, conf(corpus, alias, max_delete_percent=50), "i2").all()
    only_faq = {
        q.id
        for q in ev.load_evaluation_set(SAMPLE_SET).queries
        if q.expected_sources == ("grower-faq.txt",) and before["per_query"][q.id] > 0
    }
    named = {line.split(":")[0].strip() for line in str(failed.value).splitlines() if line.startswith("    ")}
    assert only_faq and only_faq <= named, "the queries answered only by the emptied file are named as worse"
    assert quality_of(hook, alias)["status"] == "failed"
    assert ev.recorded(hook, alias) == before, "the baseline of the last validated run is kept"
    # The writes are in: a run that accepts the new scores (force_swap) records them as the baseline.
    Reindex(hook, conf(corpus, alias, force_swap=True), "i3").all()
    assert quality_of(hook, alias)["status"] == "forced"
    assert ev.recorded(hook, alias)["scores"] != before["scores"]


def test_a_hybrid_collection_is_measured_dense_bm25_and_hybrid(lite_hook, collection_name, corpus):
    from milvus_toolkit.ingest.params import parse_params

    params = parse_params(
        {
            "source": str(corpus),
            "collection": collection_name,
            "embedding": "deterministic",  # BM25 needs no model; the dense side is meaningless on purpose
            "hybrid": True,
            "milvus_conn_id": "milvus_lite",
            "evaluation": SAMPLE_SET,
        }
    )
    run = Run(lite_hook, params, "hybrid")
    run.plan()
    run.write()
    run.delete()
    from milvus_toolkit.ingest.pipeline import validate_collection

    quality = validate_collection(params, lite_hook, run.staged).facts["quality"]
    modes = {key.split("_", 1)[0] for key in quality["scores"]}
    assert modes == {"dense", "bm25", "hybrid"}
    assert quality["gate"]["metric"] == "hybrid ndcg@5"
    props = quality_of(lite_hook, collection_name)
    assert {"bm25_ndcg_at_5", "hybrid_mrr_at_5", "dense_hit_rate_at_5"} <= set(props)
    record = json.loads(lite_hook.collection_properties(collection_name)[ev.BASELINE])
    assert record["gate"] == "hybrid ndcg@5"
    # keyword queries are what BM25 is for: it beats meaningless dense vectors on them
    assert quality["scores"]["bm25_ndcg_at_5"] > quality["scores"]["dense_ndcg_at_5"]
    assert marks.EMBEDDING in lite_hook.collection_properties(collection_name)
