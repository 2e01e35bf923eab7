"""The ingest parameters, validated before anything is read or written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from milvus_toolkit.rules import (
    MAX_VECTOR_DIM,
    PermanentError,
    check_collection_name,
    check_tenant,
    describe_validation_errors,
)

# Data shipped beside the package (include/sample_corpus), for the tests and the demo.
SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "sample_corpus"
SPLITTERS = ("auto", "recursive", "markdown", "html", "token", "code")
MODES = ("upsert", "add")

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 150
# Chunks per mapped task. Measured (README, "Ingest throughput"): 500 spent more time in
# task overhead than in writing; 10,000 costs ~75 MB more per task and ran 1.8x faster.
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_FILE_MB = 100
# One run may delete at most this share of the collection's rows unless told otherwise.
DEFAULT_MAX_DELETE_PERCENT = 10.0
# Retrieval quality: scored at k=5; a full rebuild may score at most 0.02 (nDCG@k) below what it replaces.
DEFAULT_EVALUATION_K = 5
DEFAULT_MAX_QUALITY_DROP = 0.02


class ParamsError(PermanentError, ValueError):
    """Bad parameters; the message names each offending param."""


class IngestParams(BaseModel):
    """What ``milvus_ingest`` (and ``milvus_reindex``) accept. Field names are the DAG's
    param names, so error messages point at the form field to fix."""

    model_config = ConfigDict(extra="forbid")

    # No defaults for what a run acts on: a scheduled or triggered run that was not told
    # which corpus and which collection fails before touching anything.
    source: str = Field(min_length=1)
    collection: str
    source_root: str | None = Field(None, description="stable root that source names are relative to")
    # Object storage (docs/object-storage.md): the Airflow connection that reads `source` (aws_default for
    # s3:// when not given). A connection id in the URL (s3://<conn_id>@bucket/key) is moved here.
    source_conn_id: str | None = Field(None, min_length=1)
    mode: Literal["upsert", "add"] = "upsert"
    splitter: Literal["auto", "recursive", "markdown", "html", "token", "code"] = "auto"
    chunk_size: int = Field(DEFAULT_CHUNK_SIZE, ge=50, le=8000)
    chunk_overlap: int = Field(DEFAULT_CHUNK_OVERLAP, ge=0, le=4000)
    embedding: Literal["local", "openai", "deterministic"] = "local"
    embedding_dim: int | None = Field(None, ge=1, le=MAX_VECTOR_DIM)
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=100_000)
    concurrency: int = Field(DEFAULT_CONCURRENCY, ge=1, le=256)
    on_bad_file: Literal["skip", "fail"] = "skip"
    max_file_mb: int = Field(DEFAULT_MAX_FILE_MB, ge=1, le=100_000)
    max_delete_percent: float = Field(DEFAULT_MAX_DELETE_PERCENT, ge=0, le=100)
    milvus_conn_id: str = Field("milvus_default", min_length=1)
    # Milvus 2.5+: BM25 keyword search beside the dense vectors (hybrid retrieval).
    hybrid: bool = False
    # A collection partitioned by tenant: this run writes, counts and deletes only this tenant's rows.
    tenant: str | None = None
    # Retrieval quality (milvus_toolkit.evaluation, docs/quality.md): an evaluation set (JSONL path or URL) that
    # validation scores at k; a full rebuild swaps only within the gate; force_swap accepts scores the gate refuses.
    evaluation: str | None = Field(None, min_length=1, description="evaluation set: JSONL path or object-storage URL")
    evaluation_k: int = Field(DEFAULT_EVALUATION_K, ge=1, le=100)
    min_quality: float | None = Field(None, ge=0, le=1)
    max_quality_drop: float = Field(DEFAULT_MAX_QUALITY_DROP, ge=0, le=1)
    force_swap: bool = False

    @field_validator("source", "source_root", "evaluation")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        """A relative local path is resolved once, when the params are read, against the
        worker's working folder, and every step then uses (and records) the absolute path.
        Before, parts of a run compared a relative source with an absolute root and failed."""
        if value is None or "://" in value or value == "-" or os.path.isabs(value):
            return value
        return os.path.abspath(value)

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        return check_collection_name(value)

    @field_validator("tenant")
    @classmethod
    def _tenant_name(cls, value: str | None) -> str | None:
        return check_tenant(value) if value is not None else None

    @model_validator(mode="after")
    def _conn_id_out_of_the_url(self) -> IngestParams:
        """``s3://conn@bucket/docs`` -> source ``s3://bucket/docs``, source_conn_id ``conn``: source
        names and the recorded root never depend on which credentials read them."""
        scheme, sep, rest = self.source.partition("://")
        netloc, slash, key = rest.partition("/")
        if sep and "@" in netloc:
            conn_id, _, bucket = netloc.rpartition("@")
            if self.source_conn_id not in (None, conn_id):
                raise ValueError(f"source names connection '{conn_id}', source_conn_id '{self.source_conn_id}'")
            self.source, self.source_conn_id = f"{scheme}://{bucket}{slash}{key}", conn_id
        return self

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestParams:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self


def parse_params(raw: dict) -> IngestParams:
    """Validate raw DAG params; raise ``ParamsError`` listing every bad param by name."""
    return parse_model(IngestParams, raw, "ingest")


def parse_model(model: type[BaseModel], raw: dict, what: str):
    """Validate raw params into ``model``. An empty param (``None``) counts as not given, so
    a required one fails with "is required" instead of falling back to anything."""
    try:
        return model(**{key: value for key, value in raw.items() if value is not None})
    except ValidationError as exc:
        raise ParamsError(f"invalid {what} parameters: " + "; ".join(describe_validation_errors(exc))) from None
