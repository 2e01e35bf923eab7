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
    from milvus_toolkit.ingest.writing import ChunksRejected
    from milvus_toolkit.marks import EmbeddingMismatchError
    from milvus_toolkit.sync import DeletionBudgetExceeded

    return (ParamsError, SourceError, CorpusError, EmbeddingConfigError, DimensionMismatchError,
            SchemaMismatchError, ValidationFailed, EmbeddingMismatchError, DeletionBudgetExceeded, ChunksRejected)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn permanent errors into ``AirflowFailException``: the task fails at once instead
    of waiting out its retries (which stay for transient errors)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def current_params(parse: Callable[[dict], T], fixed: dict | None = None) -> T:
    """The run's params (from the trigger form, ``-c`` or a triggering Asset event),
    validated by ``parse``. ``fixed`` (a declared index) wins over anything the run says."""
    from airflow.sdk import get_current_context

    with fail_fast():
        raw = {**dict(get_current_context()["params"]), **triggering_event_params(), **(fixed or {})}
        return parse(raw)


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
    """The params form fields that ingest and reindex share (titles, descriptions, bounds).
    Source and collection have no default: a run acts only on what it is given."""
    import os

    from airflow.sdk import Param

    from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
    from milvus_toolkit.ingest import params as p

    return {
        "source": Param(None, type=["null", "string"], minLength=1, title="Source",
                        description="Required. Folder, single file or glob (e.g. /data/docs/**/*.md); also any object-storage URL (s3://bucket/docs)."),
        "collection": Param(None, type=["null", "string"], pattern="^[A-Za-z_][A-Za-z0-9_]*$", title="Collection",
                            description="Required. " + collection_description),
        "source_root": Param(None, type=["null", "string"], title="Source root",
                             description="Stable root that source names are relative to (default: the root recorded on the collection, else the source folder). Ingesting a sub-folder keeps names like guide/intro.md."),
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
        **safety_params(),
    }


def safety_params(max_delete_percent: float | None = None) -> dict:
    from airflow.sdk import Param

    from milvus_toolkit.ingest import params as p

    return {
        "on_bad_file": Param("skip", enum=["skip", "fail"], title="On a bad file",
                             description="skip: list unreadable, empty, binary or undecodable files, keep their rows, go on. fail: stop before writing anything."),
        "max_file_mb": Param(p.DEFAULT_MAX_FILE_MB, type="integer", minimum=1, maximum=100000, title="Largest file (MB)",
                             description="Bigger files are skipped (and keep their rows)."),
        "max_delete_percent": Param(max_delete_percent if max_delete_percent is not None else p.DEFAULT_MAX_DELETE_PERCENT,
                                    type="number", minimum=0, maximum=100, title="Deletion budget (%)",
                                    description="A run that would delete more than this share of the collection stops before writing anything."),
    }


def refuse_declared(collection: str, dag_id: str) -> None:
    """A declared index's collection is written only by its own DAG (one writer, one run at
    a time): a generic run into it could delete or mix what the index keeps."""
    from milvus_toolkit.declared import owner_of
    from milvus_toolkit.ingest.params import ParamsError

    owner = owner_of(collection)
    if owner is not None and owner.dag_id != dag_id:
        raise ParamsError(
            f"param 'collection': '{collection}' is kept by the declared index '{owner.name}'; run its DAG "
            f"{owner.dag_id} (or declare another collection). Nothing was changed."
        )


def triggering_event_params() -> dict:
    """What an Asset event that triggered this run names: the asset URI (or the event's
    ``extra["source"]``) is the source; ``extra`` may also carry ``collection`` and other
    params. Empty for runs not triggered by an Asset."""
    from airflow.sdk import get_current_context

    import os

    events = get_current_context().get("triggering_asset_events") or {}
    for asset, asset_events in events.items():
        for event in list(asset_events)[-1:]:
            extra = dict(getattr(event, "extra", None) or {})
            named = {"source": extra.pop("source", getattr(asset, "uri", None) or str(asset))}
            if os.environ.get("MILVUS_INGEST_TRIGGER_COLLECTION"):
                named["collection"] = os.environ["MILVUS_INGEST_TRIGGER_COLLECTION"]
            return {**named, **{k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool))}}
    return {}
