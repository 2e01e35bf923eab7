"""The ingest parameters, validated before anything is read or written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
from milvus_toolkit.rules import (
    COLLECTION_NAME_PATTERN,
    MAX_VECTOR_DIM,
    TENANT_PATTERN,
    EmbeddingName,
    PermanentError,
    check_collection_name,
    check_tenant,
    describe_validation_errors,
)

# Data shipped beside the package (include/sample_corpus), for the tests and the demo.
SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "sample_corpus"
Splitter = Literal["auto", "recursive", "markdown", "html", "token", "code"]
WriteMode = Literal["upsert", "add"]
OnBadFile = Literal["skip", "fail"]
SPLITTERS: tuple[str, ...] = Splitter.__args__
MODES: tuple[str, ...] = WriteMode.__args__

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 150
# Chunks per mapped task. Measured (README, "Ingest throughput"): 500 spent more time in
# task overhead than in writing; 10,000 costs ~75 MB more per task and ran 1.8x faster.
DEFAULT_FILES_PER_SHARD = 2000
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


# Fields that more than one params model declares (ingest/reindex, evaluate), each written once.
EmbeddingDim = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_VECTOR_DIM,
        title="Embedding dimension",
        description="Only for deterministic (default 384) or OpenAI text-embedding-3 (shortened vectors).",
    ),
]
EvaluationK = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        title="Evaluation k",
        description="Results per query that are scored (builds compare only on the same set and k).",
    ),
]
MilvusConnId = Annotated[
    str, Field(min_length=1, title="Milvus connection", description="Airflow connection of type Milvus.")
]
EVALUATION_DESCRIPTION = (
    "JSONL of queries and what a good answer contains (expected_sources / expected_text), a path or "
    "object-storage URL. Validation scores hit rate, MRR and nDCG at k and records them on the collection; "
    "a full rebuild swaps only within the quality gate."
)
# The params forms (milvus_toolkit.forms) are built from these fields: a pattern checked by a validator
# below is also given to the form (json_schema_extra), so the form refuses what the model refuses.
COLLECTION_SCHEMA = {"pattern": COLLECTION_NAME_PATTERN}
TENANT_SCHEMA = {"pattern": TENANT_PATTERN}


class IngestParams(BaseModel):
    """What ``milvus_ingest`` (and ``milvus_reindex``) accept. Field names are the DAG's
    param names, so error messages point at the form field to fix. Titles, descriptions,
    bounds and enums here are also the params form's (``milvus_toolkit.forms``)."""

    model_config = ConfigDict(extra="forbid")

    # No defaults for what a run acts on: a scheduled or triggered run that was not told
    # which corpus and which collection fails before touching anything.
    source: str = Field(
        min_length=1,
        title="Source",
        description="Folder, single file or glob (e.g. /data/docs/**/*.md); also any object-storage URL "
        "(s3://bucket/docs).",
    )
    collection: str = Field(
        title="Collection",
        description="Milvus collection to write to (created if missing).",
        json_schema_extra=COLLECTION_SCHEMA,
    )
    source_root: str | None = Field(
        None,
        title="Source root",
        description="Stable root that source names are relative to (default: the root recorded on the "
        "collection, else the source folder). Ingesting a sub-folder keeps names like guide/intro.md.",
    )
    # Object storage (docs/object-storage.md): the Airflow connection that reads `source` (aws_default for
    # s3:// when not given). A connection id in the URL (s3://<conn_id>@bucket/key) is moved here.
    source_conn_id: str | None = Field(
        None,
        min_length=1,
        title="Source connection",
        description="Airflow connection whose credentials read an object-storage source (default: aws_default "
        "for s3://; for gs:// and az:// the provider's default). See docs/object-storage.md.",
    )
    mode: WriteMode = Field(
        "upsert",
        title="Write mode",
        description="upsert: embed and rewrite every chunk. add: embed only chunks not yet in the collection "
        "(others get fresh metadata).",
    )
    splitter: Splitter = Field(
        "auto",
        title="Splitter",
        description="auto picks by file type (Markdown/HTML headers, code by language, recursive otherwise).",
    )
    chunk_size: int = Field(
        DEFAULT_CHUNK_SIZE,
        ge=50,
        le=8000,
        title="Chunk size",
        description="Characters per chunk (tokens for the token splitter).",
    )
    chunk_overlap: int = Field(
        DEFAULT_CHUNK_OVERLAP,
        ge=0,
        le=4000,
        title="Chunk overlap",
        description="Characters shared by neighbouring chunks; must be below the chunk size.",
    )
    embedding: EmbeddingName = Field(
        "local",
        title="Embedding",
        description="local: all-MiniLM-L6-v2 (384 dims, offline). openai: OpenAI API (connection "
        "openai_default). deterministic: no model.",
    )
    embedding_dim: EmbeddingDim = None
    batch_size: int = Field(
        DEFAULT_BATCH_SIZE, ge=1, le=100_000, title="Batch size", description="Chunks per mapped write task."
    )
    concurrency: int = Field(
        DEFAULT_CONCURRENCY, ge=1, le=256, title="Concurrency", description="Async write calls in flight per task."
    )
    files_per_shard: int = Field(
        DEFAULT_FILES_PER_SHARD,
        ge=1,
        le=1_000_000,
        title="Files per shard",
        description="Sources loaded and split by one mapped task (each task holds one file and one batch at a time).",
    )
    on_bad_file: OnBadFile = Field(
        "skip",
        title="On a bad file",
        description="skip: list unreadable, empty, binary or undecodable files, keep their rows, go on. "
        "fail: stop before writing anything.",
    )
    max_file_mb: int = Field(
        DEFAULT_MAX_FILE_MB,
        ge=1,
        le=100_000,
        title="Largest file (MB)",
        description="Bigger files are skipped (and keep their rows).",
    )
    verify_content: bool = Field(
        False,
        title="Verify content",
        description="Read and hash every source, also those whose size and modification time (or ETag) say "
        "they did not change: catches an edit that kept both (a weekly run, say). Slower.",
    )
    max_delete_percent: float = Field(
        DEFAULT_MAX_DELETE_PERCENT,
        ge=0,
        le=100,
        title="Deletion budget (%)",
        description="A run that would delete more than this share of the collection stops before writing anything.",
    )
    milvus_conn_id: MilvusConnId = MILVUS_CONN_ID
    # Milvus 2.5+: BM25 keyword search beside the dense vectors (hybrid retrieval).
    hybrid: bool = Field(
        False,
        title="Hybrid (BM25 + dense)",
        description="Milvus 2.5+: the collection also gets a BM25 keyword index of the text, for keyword and "
        "hybrid search. Must match how an existing collection was made.",
    )
    # A collection partitioned by tenant: this run writes, counts and deletes only this tenant's rows.
    tenant: str | None = Field(
        None,
        title="Tenant",
        description="Milvus 2.2+: write into this tenant of a collection partitioned by tenant; counts, "
        "validation and deletes touch only this tenant's rows.",
        json_schema_extra=TENANT_SCHEMA,
    )
    # Retrieval quality (milvus_toolkit.evaluation, docs/quality.md): an evaluation set (JSONL path or URL) that
    # validation scores at k; a full rebuild swaps only within the gate; force_swap accepts scores the gate refuses.
    evaluation: str | None = Field(None, min_length=1, title="Evaluation set", description=EVALUATION_DESCRIPTION)
    evaluation_k: EvaluationK = DEFAULT_EVALUATION_K
    min_quality: float | None = Field(
        None,
        ge=0,
        le=1,
        title="Minimum quality (nDCG@k)",
        description="A full rebuild scoring below this is not served; an incremental run below it fails.",
    )
    max_quality_drop: float = Field(
        DEFAULT_MAX_QUALITY_DROP,
        ge=0,
        le=1,
        title="Largest quality drop (nDCG@k)",
        description="A full rebuild may score at most this much below the serving collection; an incremental "
        "run at most this much below the last validated scores.",
    )
    force_swap: bool = Field(
        False,
        title="Force swap (override the quality gate)",
        description="Serve the build (or accept the scores) even when the quality gate refuses; the report says so.",
    )

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
