"""The params forms of the toolkit's DAGs, built from the pydantic params models.

Titles, descriptions, defaults, bounds, enums and patterns live on the models (``IngestParams``,
``ReindexParams``, ``EvaluateParams``, ``BenchmarkParams``); this module only says which params each
form shows, in which order, and what a declared index or the environment fixes. A param the model
requires (``source``, ``collection``) has no default in the form either: a run acts only on what
it is given. Airflow is imported lazily: the package stays importable without it.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pydantic import BaseModel

# The order of each form (a form-specific fact; everything else comes from the model).
SOURCE_AND_SPLIT = (
    "source",
    "collection",
    "source_root",
    "source_conn_id",
    "splitter",
    "chunk_size",
    "chunk_overlap",
    "embedding",
    "embedding_dim",
    "milvus_conn_id",
    "hybrid",
    "tenant",
)
SAFETY = ("on_bad_file", "max_file_mb", "max_delete_percent", "verify_content")
WRITING = ("mode", "batch_size", "concurrency")
OPERATIONAL = ("strategy", "force_reembed", "build_collection", "keep_builds", "batch_size")
QUALITY = ("evaluation", "evaluation_k", "min_quality", "max_quality_drop", "force_swap")
EVALUATE = ("collection", "evaluation", "evaluation_k", "embedding", "embedding_dim", "tenant", "milvus_conn_id")
# What a declared index's declaration gives the form's defaults (its identity fields are not on the form).
DECLARED_DEFAULTS = (
    "keep_builds",
    "max_delete_percent",
    "evaluation",
    "evaluation_k",
    "min_quality",
    "max_quality_drop",
)
EMBEDDING_ENV = "MILVUS_TOOLKIT_EMBEDDING"
_SCHEMA_KEYS = (
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "uniqueItems",
)


@cache
def _properties(model: type[BaseModel]) -> dict[str, dict]:
    return model.model_json_schema()["properties"]


def field_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The JSON schema of one model field as a form param takes it: ``X | None`` becomes
    ``type: ["null", X]`` (the form's way of an optional value), and a required field is
    nullable too, so the form starts empty and the model reports it missing."""
    prop = dict(_properties(model)[name])
    for option in prop.pop("anyOf", []):
        if option.get("type") == "null":
            continue
        prop = {**option, **prop}
        prop["type"] = ["null", option["type"]]
    if model.model_fields[name].is_required() and isinstance(prop.get("type"), str):
        prop["type"] = ["null", prop["type"]]
    return {key: prop[key] for key in _SCHEMA_KEYS if key in prop} | {
        "title": prop["title"],
        "description": prop.get("description", ""),
    }


def field_default(model: type[BaseModel], name: str) -> Any:
    """The field's default (``None`` for a required field: the form starts empty)."""
    field = model.model_fields[name]
    return None if field.is_required() else field.get_default(call_default_factory=True)


def model_param(model: type[BaseModel], name: str, defaults: dict | None = None):
    """One Airflow ``Param`` made from a model field (``defaults`` override the model's default)."""
    from airflow.sdk import Param

    schema = field_schema(model, name)
    if model.model_fields[name].is_required():
        schema["description"] = "Required. " + schema["description"]
    default = (defaults or {}).get(name, field_default(model, name))
    return Param(default, **schema)


def model_params(model: type[BaseModel], names, defaults: dict | None = None) -> dict:
    return {name: model_param(model, name, defaults) for name in names}


def _environment_defaults() -> dict:
    """The embedding the toolkit's forms offer first: the environment's choice, else the model's default
    (the benchmark's form keeps its own default, deterministic, so Milvus alone is timed)."""
    return {"embedding": os.environ[EMBEDDING_ENV]} if os.environ.get(EMBEDDING_ENV) else {}


def ingest_form() -> dict:
    from milvus_toolkit.ingest.params import IngestParams

    return model_params(IngestParams, SOURCE_AND_SPLIT + SAFETY + WRITING + QUALITY, _environment_defaults())


def reindex_form() -> dict:
    from milvus_toolkit.reindex import ReindexParams

    return model_params(ReindexParams, SOURCE_AND_SPLIT + SAFETY + OPERATIONAL + QUALITY, _environment_defaults())


def declared_reindex_form(index) -> dict:
    """A declared index's form: only what a run may choose (its identity is fixed); the
    declaration gives the defaults it declares."""
    from milvus_toolkit.reindex import ReindexParams

    declared = index.run_params()
    defaults = {name: declared.get(name) for name in DECLARED_DEFAULTS}
    return model_params(ReindexParams, OPERATIONAL + ("max_delete_percent",) + QUALITY, defaults)


def evaluate_form(index=None) -> dict:
    """``milvus_evaluate``'s form; a declared index's shows only the connection (the rest is its declaration)."""
    from milvus_toolkit.evaluation_history import EvaluateParams

    return model_params(EvaluateParams, ("milvus_conn_id",) if index is not None else EVALUATE, _environment_defaults())


def benchmark_form() -> dict:
    from milvus_toolkit.benchmark.plan import BenchmarkParams

    return model_params(BenchmarkParams, tuple(BenchmarkParams.model_fields))


def forms() -> dict[str, tuple[type[BaseModel], dict]]:
    """Every generic form with the model it is built from (for the tests that keep them equal)."""
    from milvus_toolkit.benchmark.plan import BenchmarkParams
    from milvus_toolkit.evaluation_history import EvaluateParams
    from milvus_toolkit.ingest.params import IngestParams
    from milvus_toolkit.reindex import ReindexParams

    return {
        "ingest": (IngestParams, ingest_form()),
        "reindex": (ReindexParams, reindex_form()),
        "evaluate": (EvaluateParams, evaluate_form()),
        "benchmark": (BenchmarkParams, benchmark_form()),
    }
