"""The toolkit's own collection layout (one row per chunk) and the langchain-milvus stores on it.

Generic Milvus access is the provider's ``MilvusHook``; what is specific to this toolkit's
chunks lives here: the fixed schema, the check that an existing collection has it, and the
settings of the LangChain ``Milvus`` store the pipelines write through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from milvus_toolkit.rules import MAX_TEXT_BYTES, MAX_VECTOR_DIM, PermanentError, check_collection_name

ConsistencyLevel = Literal["Strong", "Bounded", "Session", "Eventually"]


class LayoutMismatchError(PermanentError):
    """An existing collection does not have the layout this toolkit writes."""


@dataclass(frozen=True)
class CollectionSpec:
    """The explicit layout of a collection this toolkit writes.

    ``pk`` is a VARCHAR primary key given by the caller (``auto_id=False``): deterministic
    chunk ids make re-runs idempotent. ``source`` is a real scalar field (not a dynamic
    one) so per-source counts and deletes are cheap filters. Any other metadata goes into
    Milvus's dynamic field.
    """

    name: str
    dim: int
    metric_type: Literal["COSINE", "L2", "IP"] = "COSINE"
    index_type: str = "HNSW"
    index_params: dict[str, Any] = field(default_factory=lambda: {"M": 16, "efConstruction": 200})
    search_params: dict[str, Any] = field(default_factory=lambda: {"ef": 64})
    consistency_level: ConsistencyLevel = "Session"
    description: str = ""

    primary_field: str = "pk"
    text_field: str = "text"
    vector_field: str = "vector"
    source_field: str = "source"
    max_id_length: int = 512
    max_text_length: int = MAX_TEXT_BYTES
    max_source_length: int = 2048

    def __post_init__(self) -> None:
        try:
            check_collection_name(self.name)
        except ValueError as exc:
            raise ValueError(f"collection name {self.name!r} is not valid in Milvus: {exc}") from None
        if not 1 <= self.dim <= MAX_VECTOR_DIM:
            raise ValueError(f"vector dimension must be between 1 and {MAX_VECTOR_DIM}, got {self.dim}")


def ensure_collection(hook, spec: CollectionSpec) -> bool:
    """Create the collection with the toolkit's schema and index unless it exists, and load
    it. An existing one is checked (dimension, primary key, fields), never altered or
    dropped. Returns ``True`` when it was created now."""
    if hook.has_collection(spec.name):
        check_collection(hook, spec)
    return hook.create_collection(
        spec.name, spec.dim, primary_field=spec.primary_field, vector_field=spec.vector_field,
        id_max_length=spec.max_id_length, metric_type=spec.metric_type, index_type=spec.index_type,
        index_params=spec.index_params, description=spec.description, consistency_level=spec.consistency_level,
        varchar_fields={spec.text_field: spec.max_text_length, spec.source_field: spec.max_source_length},
    )


def check_collection(hook, spec: CollectionSpec) -> None:
    """Raise a clear error when an existing collection cannot hold ``spec``'s rows."""
    from milvus_provider.hooks.milvus import DimensionMismatchError

    info = hook.describe_collection(spec.name)
    fields = {f["name"]: f for f in info.get("fields", [])}
    where = f"collection '{spec.name}' on {hook.config.uri}"
    vector = fields.get(spec.vector_field)
    if vector is None:
        raise LayoutMismatchError(f"{where} has no vector field '{spec.vector_field}'")
    dim = int((vector.get("params") or {}).get("dim", -1))
    if dim != spec.dim:
        raise DimensionMismatchError(
            f"{where} stores {dim}-dim vectors but the embedding produces {spec.dim}-dim "
            f"vectors. Nothing was changed. Use another collection name, or drop and "
            f"rebuild this one on purpose (e.g. a full reindex into a new collection)."
        )
    missing = [name for name in (spec.primary_field, spec.text_field, spec.source_field) if name not in fields]
    if missing:
        raise LayoutMismatchError(f"{where} lacks the field(s) {missing}; it was not created by this toolkit")
    primary = fields[spec.primary_field]
    if not primary.get("is_primary") or getattr(primary.get("type"), "name", str(primary.get("type"))).upper() != "VARCHAR" or info.get("auto_id"):
        raise LayoutMismatchError(f"{where}: '{spec.primary_field}' must be a VARCHAR primary key with auto_id off")


def _store_kwargs(hook, spec: CollectionSpec, embedding) -> dict[str, Any]:
    return {
        "embedding_function": embedding,
        "collection_name": spec.name,
        "connection_args": hook.config.client_kwargs(),
        "consistency_level": spec.consistency_level,
        "index_params": {"index_type": spec.index_type, "metric_type": spec.metric_type, "params": spec.index_params},
        "search_params": {"metric_type": spec.metric_type, "params": spec.search_params},
        "auto_id": False,  # ids are ours (deterministic); never let Milvus pick them
        "drop_old": False,
        "primary_field": spec.primary_field,
        "text_field": spec.text_field,
        "vector_field": spec.vector_field,
        "enable_dynamic_field": True,
        "timeout": hook.config.timeout,
    }


def vector_store(hook, spec: CollectionSpec, embedding):
    """A langchain-milvus ``Milvus`` store for sync use, on a collection with the toolkit's
    layout (created here if missing; checked if present). Close it with ``store.client.close()``."""
    from langchain_milvus import Milvus

    ensure_collection(hook, spec)
    return Milvus(**_store_kwargs(hook, spec, embedding))


@asynccontextmanager
async def open_store(hook, spec: CollectionSpec, embedding) -> AsyncIterator[Any]:
    """A ``Milvus`` store made inside the running event loop, its clients closed on exit.

    langchain-milvus caches its ``AsyncMilvusClient`` on the store and binds it to the loop it
    was made in, so a store must live and die within one loop."""
    from langchain_milvus import Milvus

    await asyncio.to_thread(ensure_collection, hook, spec)
    store = Milvus(**_store_kwargs(hook, spec, embedding))
    try:
        yield store
    finally:
        await store.aclient.close()
        store.client.close()
