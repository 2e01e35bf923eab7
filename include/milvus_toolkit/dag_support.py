"""Small helpers the DAG files share (Airflow is imported lazily: the rest of the package
stays importable without it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def permanent_errors() -> tuple[type[BaseException], ...]:
    """Errors a retry cannot heal: bad params or input, a collection of the wrong shape,
    a failed validation."""
    from milvus_provider.hooks.milvus import DimensionMismatchError, SchemaMismatchError

    from milvus_toolkit.embeddings import EmbeddingConfigError
    from milvus_toolkit.ingest.documents import SourceError
    from milvus_toolkit.ingest.params import ParamsError
    from milvus_toolkit.ingest.pipeline import CorpusError
    from milvus_toolkit.ingest.validation import ValidationFailed

    return (ParamsError, SourceError, CorpusError, EmbeddingConfigError, DimensionMismatchError,
            SchemaMismatchError, ValidationFailed)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn permanent errors into ``AirflowFailException``: the task fails at once instead
    of waiting out its retries (which stay for transient errors)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def current_params(parse: Callable[[dict], T]) -> T:
    """The run's params (from the trigger form or ``-c``), validated by ``parse``."""
    from airflow.sdk import get_current_context

    with fail_fast():
        return parse(dict(get_current_context()["params"]))


def hook_for(params):
    from milvus_provider.hooks.milvus import MilvusHook

    return MilvusHook(params.milvus_conn_id)


def milvus_asset(collection: str):
    from airflow.sdk import Asset

    return Asset(f"milvus://{collection}")


def materialize(lazy_sequence) -> list:
    """Read a mapped task's lazy XCom sequence once, item by item (iterating it reads one
    past the end and logs a spurious 'XCom not found')."""
    return [lazy_sequence[i] for i in range(len(lazy_sequence))]


def log_report(text: str, logger: str = "milvus_toolkit.report") -> None:
    """Log a multi-line report, one record per line. Printed text reaches the task log
    through stdout, which Airflow reads apart from log records, so it can land after the
    task's end, in the log view's collapsed "Post Execute" group; log records keep their
    place in the main log."""
    log = logging.getLogger(logger)
    for line in text.splitlines():
        log.info("%s", line)


def source_and_split_params(collection_description: str = "Milvus collection to write to (created if missing).") -> dict:
    """The params form fields that ingest and reindex share (titles, descriptions, bounds)."""
    import os

    from airflow.sdk import Param

    from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
    from milvus_toolkit.ingest import params as p

    return {
        "source": Param(str(p.SAMPLE_CORPUS), type="string", minLength=1, title="Source",
                        description="Folder, single file or glob (e.g. /data/docs/**/*.md); also any object-storage URL (s3://bucket/docs)."),
        "collection": Param(p.DEFAULT_COLLECTION, type="string", pattern="^[A-Za-z_][A-Za-z0-9_]*$", title="Collection",
                            description=collection_description),
        "splitter": Param("auto", enum=list(p.SPLITTERS), title="Splitter",
                          description="auto picks by file type (Markdown/HTML headers, code by language, recursive otherwise)."),
        "chunk_size": Param(p.DEFAULT_CHUNK_SIZE, type="integer", minimum=50, maximum=8000, title="Chunk size",
                            description="Characters per chunk (tokens for the token splitter)."),
        "chunk_overlap": Param(p.DEFAULT_CHUNK_OVERLAP, type="integer", minimum=0, maximum=4000, title="Chunk overlap",
                               description="Characters shared by neighbouring chunks; must be below the chunk size."),
        "embedding": Param(os.environ.get("MILVUS_TOOLKIT_EMBEDDING", "local"), enum=["local", "openai", "deterministic"], title="Embedding",
                           description="local: all-MiniLM-L6-v2 (384 dims, offline). openai: OpenAI API (connection openai_default). deterministic: no model."),
        "embedding_dim": Param(None, type=["null", "integer"], minimum=1, maximum=32768, title="Embedding dimension",
                               description="Only for deterministic (default 384) or OpenAI text-embedding-3 (shortened vectors)."),
        "milvus_conn_id": Param(MILVUS_CONN_ID, type="string", title="Milvus connection", description="Airflow connection of type Milvus."),
    }
