"""``milvus_evaluate``: score a serving collection on its evaluation set, keep the history, chart it.

The history of a collection is ``<results>/quality/<collection>.jsonl`` (one JSON object per evaluation) and its
chart ``<results>/quality/<collection>.png``, where ``<results>`` is the benchmark's results folder
(``milvus_toolkit.benchmark.storage.results_dir``), so the charts sit next to the benchmark's. An evaluation does
not gate and does not move the baseline validation compares with: it only measures.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from milvus_toolkit import evaluation as ev
from milvus_toolkit import marks
from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
from milvus_toolkit.ingest.params import (
    COLLECTION_SCHEMA,
    DEFAULT_EVALUATION_K,
    EVALUATION_DESCRIPTION,
    TENANT_SCHEMA,
    EmbeddingDim,
    EvaluationK,
    MilvusConnId,
    ParamsError,
    parse_model,
)
from milvus_toolkit.retrieval_metrics import METRICS
from milvus_toolkit.rules import EmbeddingName, check_collection_name, check_tenant

log = logging.getLogger(__name__)
CHARTED = ("ndcg", "mrr", "hit_rate")


class EvaluateParams(BaseModel):
    """What ``milvus_evaluate`` accepts: the serving name, the set and the embedding of the collection's vectors."""

    model_config = ConfigDict(extra="forbid")

    collection: str = Field(
        title="Collection",
        description="The serving name (alias or collection) to evaluate.",
        json_schema_extra=COLLECTION_SCHEMA,
    )
    evaluation: str = Field(min_length=1, title="Evaluation set", description=EVALUATION_DESCRIPTION)
    evaluation_k: EvaluationK = DEFAULT_EVALUATION_K
    embedding: EmbeddingName = Field(
        "local",
        title="Embedding",
        description="The model the collection's vectors were made with (checked against the collection).",
    )
    embedding_dim: EmbeddingDim = None
    tenant: str | None = Field(
        None,
        title="Tenant",
        description="Evaluate only this tenant's rows of a collection partitioned by tenant.",
        json_schema_extra=TENANT_SCHEMA,
    )
    milvus_conn_id: MilvusConnId = MILVUS_CONN_ID

    @field_validator("collection")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_collection_name(value)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return check_tenant(value) if value is not None else None

    @field_validator("evaluation")
    @classmethod
    def _absolute(cls, value: str) -> str:
        import os

        return value if "://" in value or os.path.isabs(value) else os.path.abspath(value)


def parse_evaluate_params(raw: dict) -> EvaluateParams:
    known = set(EvaluateParams.model_fields)
    return parse_model(EvaluateParams, {k: v for k, v in raw.items() if k in known}, "evaluate")


def quality_dir(folder: Path | str | None = None) -> Path:
    if folder is not None:
        return Path(folder)
    from milvus_toolkit.benchmark.storage import results_dir

    return results_dir() / "quality"


def evaluate_serving(params: EvaluateParams, hook, *, run_id: str = "", folder: Path | str | None = None) -> dict:
    """Score the set on what ``params.collection`` serves, append to its history and redraw its chart.
    Returns the history entry plus ``paths`` (history and chart) and flat ``quality.*`` figures."""
    from milvus_toolkit.chunk_store import CollectionSpec
    from milvus_toolkit.embeddings import get_embeddings

    evalset = ev.load_evaluation_set(params.evaluation)
    physical = hook.describe_alias(params.collection) or params.collection
    if not hook.has_collection(physical):
        raise ParamsError(f"param 'collection': {params.collection!r} does not exist; there is nothing to evaluate")
    embedding = get_embeddings(params.embedding, dim=params.embedding_dim)
    identity = marks.check_embedding(hook, physical, marks.embedding_identity(embedding))
    spec = CollectionSpec(
        name=physical, dim=embedding.dim, hybrid=bool(hook.collection_layout(physical)["bm25"]), tenant=params.tenant
    )
    result = ev.evaluate(hook, ev.Target.of(spec), evalset, params.evaluation_k, embedding.embeddings)
    log.info("Retrieval quality of '%s' (serving '%s'):\n%s", params.collection, physical, result.table())
    entry = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "collection": params.collection,
        "serving": physical,
        "run_id": run_id,
        "model": identity or marks.embedding_identity(embedding),
        "set": result.set_digest,
        "k": result.k,
        "queries": len(result.per_query()),
        "gate": f"{result.gate_mode} {ev.GATE_METRIC}@{result.k}",
        "scores": result.flat(),
    }
    folder = quality_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    history = folder / f"{params.collection}.jsonl"
    with history.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")
    chart = folder / f"{params.collection}.png"
    write_quality_chart(read_history(history), chart)
    log.info("History: %s; chart: %s", history, chart)
    return {
        **entry,
        "paths": {"history": str(history), "chart": str(chart)},
        **{f"quality.{key}": value for key, value in result.flat().items()},
    }


def read_history(path: Path | str) -> list[dict[str, Any]]:
    """The entries of a history file (a line that cannot be read is skipped, with a warning)."""
    entries = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s:%d: not a JSON line, skipped", path, number)
    return entries


def write_quality_chart(entries: list[dict[str, Any]], path: Path | str) -> Path:
    """Scores over time, one panel per metric, one line per search mode. Only the entries measured with the newest
    entry's set and k are drawn (other sets and k do not compare)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from datetime import datetime

    import matplotlib.pyplot as plt

    newest = entries[-1]
    same = [e for e in entries if e.get("set") == newest.get("set") and e.get("k") == newest.get("k")]
    k = newest.get("k")
    times = [datetime.strptime(e["at"], "%Y-%m-%dT%H:%M:%SZ") for e in same]
    modes = sorted({key.split("_", 1)[0] for e in same for key in e.get("scores", {})})
    fig, axes = plt.subplots(1, len(CHARTED), figsize=(5 * len(CHARTED), 3.6), squeeze=False)
    for ax, metric in zip(axes.flat, CHARTED, strict=True):
        for mode in modes:
            key = f"{mode}_{metric}_at_{k}"
            points = [(t, e["scores"][key]) for t, e in zip(times, same, strict=True) if key in e.get("scores", {})]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=mode)
        ax.set_title(f"{metric}@{k}")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Retrieval quality of '{newest.get('collection')}' (set {newest.get('set')}, {newest.get('queries')} "
        f"queries, {len(same)} evaluations)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


__all__ = ["EvaluateParams", "METRICS", "evaluate_serving", "parse_evaluate_params", "write_quality_chart"]
