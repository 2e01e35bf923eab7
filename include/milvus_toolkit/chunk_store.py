"""The toolkit's own collection layout (one row per chunk), and the one owner of chunk rows.

Generic Milvus access is the provider's ``MilvusHook``; what is specific to this toolkit's
chunks lives here: the fixed schema, the check that an existing collection has it (once per
run, in ``prepare``: later tasks trust the checked spec), the settings of the LangChain
``Milvus`` store the pipelines write new chunks through (``aupsert``, on a store made from the
hook's connection), and every read or write of chunk rows besides: existence, stored hashes,
metadata refreshes, the diff scan, deletes and per-source counts, all through ``MilvusHook``
methods. No other toolkit module touches a pymilvus client (tests/unit/test_architecture.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from milvus_toolkit.preload import preload
from milvus_toolkit.rules import (
    MAX_TENANT_LENGTH,
    MAX_TEXT_BYTES,
    MAX_VECTOR_DIM,
    TENANT_FIELD,
    check_collection_name,
    tenant_filter,
)

ConsistencyLevel = Literal["Strong", "Bounded", "Session", "Eventually"]

# The chunk rows' field names: constants, used by every module that reads or writes chunk rows (sync,
# validation, evaluation, the pipeline), not settings of a CollectionSpec. Chosen over "taken from the spec
# everywhere" (issue 18 item 4) because nothing ever set them to anything else, the stored rows of every
# existing collection already have these names (a run could not rename them without a migration), and the
# splitter's chunk metadata ("source") and the diff scan read rows where no spec is at hand. The spec keeps
# them as read-only properties for code that reads them from a spec.
PRIMARY_FIELD = "pk"
TEXT_FIELD = "text"
VECTOR_FIELD = "vector"
SOURCE_FIELD = "source"  # also the chunk metadata key the splitter sets (milvus_toolkit.ingest.splitting)
SPARSE_FIELD = "sparse"


def __getattr__(name: str):
    # One error type for "this collection has another layout": the hook's SchemaMismatchError
    # (imported lazily: this module stays importable without Airflow). ``LayoutMismatchError``
    # is kept as its name here.
    if name == "LayoutMismatchError":
        from milvus_provider.hooks.milvus import SchemaMismatchError

        return SchemaMismatchError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class CollectionSpec:
    """The explicit layout of a collection this toolkit writes.

    ``pk`` is a VARCHAR primary key given by the caller (``auto_id=False``): deterministic
    chunk ids make re-runs idempotent. ``source`` is a real scalar field (not a dynamic
    one) so per-source counts and deletes are cheap filters. Any other metadata goes into
    Milvus's dynamic field.

    ``hybrid`` (Milvus 2.5+): the text field gets an analyzer and a BM25 function into the
    sparse field ``sparse_field``, so the collection serves keyword and hybrid search.
    ``tenant`` (Milvus 2.2+): the rows belong to one tenant of a collection partitioned by
    the ``tenant`` field (its partition key); every read that decides a write or delete is
    scoped to that tenant (:attr:`scope_filter`).
    """

    name: str
    dim: int
    metric_type: Literal["COSINE", "L2", "IP"] = "COSINE"
    index_type: str = "HNSW"
    index_params: dict[str, Any] = field(default_factory=lambda: {"M": 16, "efConstruction": 200})
    search_params: dict[str, Any] = field(default_factory=lambda: {"ef": 64})
    consistency_level: ConsistencyLevel = "Session"
    description: str = ""

    max_id_length: int = 512
    max_text_length: int = MAX_TEXT_BYTES
    max_source_length: int = 2048
    hybrid: bool = False
    tenant: str | None = None

    # The field names are the module's constants (see PRIMARY_FIELD), read-only here.
    primary_field = property(lambda self: PRIMARY_FIELD)
    text_field = property(lambda self: TEXT_FIELD)
    vector_field = property(lambda self: VECTOR_FIELD)
    source_field = property(lambda self: SOURCE_FIELD)
    sparse_field = property(lambda self: SPARSE_FIELD)
    tenant_field = property(lambda self: TENANT_FIELD)

    @property
    def scope_filter(self) -> str:
        """Filter expression of this spec's rows: its tenant's, or '' (the whole collection)."""
        return tenant_filter(self.tenant)

    @property
    def features(self) -> list[str]:
        """The server features this layout needs (see ``MilvusHook.capabilities``)."""
        return [name for name, needed in (("bm25", self.hybrid), ("partition_key", self.tenant)) if needed]

    def __post_init__(self) -> None:
        try:
            check_collection_name(self.name)
        except ValueError as exc:
            raise ValueError(f"collection name {self.name!r} is not valid in Milvus: {exc}") from None
        if not 1 <= self.dim <= MAX_VECTOR_DIM:
            raise ValueError(f"vector dimension must be between 1 and {MAX_VECTOR_DIM}, got {self.dim}")


def ensure_collection(hook, spec: CollectionSpec) -> bool:
    """Create the collection with the toolkit's schema and index unless it exists, and load
    it. An existing one is checked (dimension, primary key, fields, options) once, here, and
    never altered or dropped. Returns ``True`` when it was created now."""
    if spec.features:  # before anything exists or is written: a clear "this server lacks X"
        hook.require(*spec.features, action=f"writing collection '{spec.name}'")
    if hook.has_collection(spec.name):
        check_collection(hook, spec)
        hook.load_collection(spec.name)
        return False
    varchar_fields = {TEXT_FIELD: spec.max_text_length, SOURCE_FIELD: spec.max_source_length}
    if spec.tenant:
        varchar_fields[TENANT_FIELD] = MAX_TENANT_LENGTH
    return hook.create_collection(
        spec.name,
        spec.dim,
        primary_field=PRIMARY_FIELD,
        vector_field=VECTOR_FIELD,
        id_max_length=spec.max_id_length,
        metric_type=spec.metric_type,
        index_type=spec.index_type,
        index_params=spec.index_params,
        description=spec.description,
        consistency_level=spec.consistency_level,
        varchar_fields=varchar_fields,
        bm25_input_field=TEXT_FIELD if spec.hybrid else None,
        bm25_output_field=SPARSE_FIELD,
        partition_key_field=TENANT_FIELD if spec.tenant else None,
    )


def check_collection(hook, spec: CollectionSpec) -> None:
    """Raise a clear error when an existing collection cannot hold ``spec``'s rows."""
    from milvus_provider.hooks.milvus import DimensionMismatchError, SchemaMismatchError, layout_of

    info = hook.describe_collection(spec.name)
    fields = {f["name"]: f for f in info.get("fields", [])}
    where = f"collection '{spec.name}' on {hook.config.uri}"
    vector = fields.get(VECTOR_FIELD)
    if vector is None:
        raise SchemaMismatchError(f"{where} has no vector field '{VECTOR_FIELD}'")
    dim = int((vector.get("params") or {}).get("dim", -1))
    if dim != spec.dim:
        raise DimensionMismatchError(
            f"{where} stores {dim}-dim vectors but the embedding produces {spec.dim}-dim "
            f"vectors. Nothing was changed. Use another collection name, or drop and "
            f"rebuild this one on purpose (e.g. a full reindex into a new collection)."
        )
    missing = [name for name in (PRIMARY_FIELD, TEXT_FIELD, SOURCE_FIELD) if name not in fields]
    if missing:
        raise SchemaMismatchError(f"{where} lacks the field(s) {missing}; it was not created by this toolkit")
    primary = fields[PRIMARY_FIELD]
    if (
        not primary.get("is_primary")
        or getattr(primary.get("type"), "name", str(primary.get("type"))).upper() != "VARCHAR"
        or info.get("auto_id")
    ):
        raise SchemaMismatchError(f"{where}: '{PRIMARY_FIELD}' must be a VARCHAR primary key with auto_id off")
    check_options(where, spec, layout_of(info))  # from the description read above: no second call


def check_options(where: str, spec: CollectionSpec, layout: dict) -> None:
    """The run's ``hybrid`` and ``tenant`` options must match how the collection was made,
    both ways: a run never writes rows that the collection's other readers would miss, and
    never reads (so never deletes) across tenants."""
    from milvus_provider.hooks.milvus import SchemaMismatchError

    is_hybrid = layout["bm25"].get(TEXT_FIELD) == SPARSE_FIELD
    if spec.hybrid and not is_hybrid:
        raise SchemaMismatchError(
            f"{where} was created without BM25 keyword search, so hybrid=true cannot write into it. Nothing "
            f"was changed. Rebuild it as hybrid (milvus_reindex with strategy=full and hybrid=true) or write "
            f"into a new collection."
        )
    if is_hybrid and not spec.hybrid:
        raise SchemaMismatchError(f"{where} is a hybrid (BM25) collection: pass hybrid=true to write into it")
    key = layout["partition_key_field"]
    if spec.tenant and key != TENANT_FIELD:
        raise SchemaMismatchError(
            f"{where} has no '{TENANT_FIELD}' partition key, so it cannot hold tenants (tenant="
            f"{spec.tenant!r}). Nothing was changed; use a collection created with a tenant."
        )
    if key and not spec.tenant:
        raise SchemaMismatchError(
            f"{where} holds tenants (partition key '{key}'): pass tenant=<name>; a run without one would "
            f"read and delete across every tenant"
        )


def _store_kwargs(hook, spec: CollectionSpec, embedding) -> dict[str, Any]:
    dense_index = {"index_type": spec.index_type, "metric_type": spec.metric_type, "params": spec.index_params}
    dense_search = {"metric_type": spec.metric_type, "params": spec.search_params}
    layout: dict[str, Any] = {
        "vector_field": VECTOR_FIELD,
        "index_params": dense_index,
        "search_params": dense_search,
    }
    if spec.hybrid:  # langchain-milvus's own BM25 support: the server computes the sparse field
        from langchain_milvus import BM25BuiltInFunction

        layout = {
            "builtin_function": BM25BuiltInFunction(input_field_names=TEXT_FIELD, output_field_names=SPARSE_FIELD),
            "vector_field": [VECTOR_FIELD, SPARSE_FIELD],
            "index_params": [dense_index, {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"}],
            "search_params": [dense_search, {"metric_type": "BM25"}],
        }
    if spec.tenant:
        layout["partition_key_field"] = TENANT_FIELD
    return {
        **layout,
        "embedding_function": embedding,
        "collection_name": spec.name,
        "connection_args": hook.config.client_kwargs(),
        "consistency_level": spec.consistency_level,
        "auto_id": False,  # ids are ours (deterministic); never let Milvus pick them
        "drop_old": False,
        "primary_field": PRIMARY_FIELD,
        "text_field": TEXT_FIELD,
        "enable_dynamic_field": True,
        "timeout": hook.config.timeout,
    }


def vector_store(hook, spec: CollectionSpec, embedding, *, checked: bool = False):
    """A langchain-milvus ``Milvus`` store for sync use, on a collection with the toolkit's
    layout: created here if missing and checked if present, unless ``checked`` (this run's
    ``prepare`` checked the spec already). Close it with :func:`close_store`, or use
    :func:`search_store`."""
    preload("langchain")
    from langchain_milvus import Milvus

    if not checked:
        ensure_collection(hook, spec)
    return Milvus(**_store_kwargs(hook, spec, embedding))


def close_store(store) -> None:
    """Close the sync client of a store made by :func:`vector_store`."""
    store.client.close()


@contextmanager
def search_store(hook, spec: CollectionSpec, embedding) -> Iterator[Any]:
    """A sync store on a collection this run already checked, closed on exit (validation)."""
    store = vector_store(hook, spec, embedding, checked=True)
    try:
        yield store
    finally:
        close_store(store)


@asynccontextmanager
async def open_store(hook, spec: CollectionSpec, embedding, *, checked: bool = False) -> AsyncIterator[Any]:
    """A ``Milvus`` store made inside the running event loop, its clients closed on exit.
    The collection is created or checked first unless ``checked`` (the write tasks: this
    run's ``prepare`` checked the spec, and they trust it).

    langchain-milvus caches its ``AsyncMilvusClient`` on the store and binds it to the loop it
    was made in, so a store must live and die within one loop."""
    preload("langchain")  # here, before asyncio.to_thread: no worker thread imports it first
    from langchain_milvus import Milvus

    if not checked:
        await asyncio.to_thread(ensure_collection, hook, spec)
    store = Milvus(**_store_kwargs(hook, spec, embedding))
    try:
        yield store
    finally:
        await store.aclient.close()
        store.client.close()


# ---- chunk rows: every read, refresh and delete of them, through MilvusHook methods --------------------


def read_rows(hook, collection: str, ids: list[str], fields: list[str]) -> list[dict]:
    """The rows with these ids (missing ids are absent), Strong consistency."""
    return hook.get(collection, ids, output_fields=fields)


def delete_rows(hook, collection: str, ids: list[str]) -> int:
    """Delete rows by id (never by filter); returns how many."""
    return hook.delete(collection, ids)


def count_by_source(hook, collection: str, source_field: str = SOURCE_FIELD, *, filter: str = "") -> dict[str, int]:
    """Exact row count per source over the whole collection (or alias), ``filter``'s rows only:
    the chunk rows read with the hook's ``iter_rows`` (Strong consistency, paged by primary key,
    so rows written just before are counted). One entry per source, never per row."""
    counts: Counter[str] = Counter()
    for batch in hook.iter_rows(collection, [source_field], filter=filter):
        counts.update(row[source_field] for row in batch)
    return dict(counts)


# Sources named in one filter (``source in [...]``): an expression of a few tens of kB at most.
SOURCES_PER_QUERY = 256


def source_groups(sources: Iterable[str]) -> Iterator[list[str]]:
    """``sources`` in sorted groups of at most ``SOURCES_PER_QUERY``."""
    ordered = sorted(set(sources))
    for start in range(0, len(ordered), SOURCES_PER_QUERY):
        yield ordered[start : start + SOURCES_PER_QUERY]


def _of_sources(filter: str) -> str:
    return f"({filter}) and {SOURCE_FIELD} in {{sources}}" if filter else f"{SOURCE_FIELD} in {{sources}}"


def rows_of_sources(hook, collection: str, sources: Iterable[str], fields: list[str], *, filter: str = ""):
    """The rows of these sources only (``filter``'s), streamed in batches (Strong reads, a
    group of sources per query): what a run reads costs what it changed, not what the
    collection holds."""
    for group in source_groups(sources):
        yield from hook.iter_rows(collection, fields, filter=_of_sources(filter), filter_params={"sources": group})


def count_of_sources(hook, collection: str, sources: list[str], *, filter: str = "") -> int:
    """Rows of these sources (``filter``'s), counted by Milvus itself (Strong): nothing is read."""
    return hook.count(collection, _of_sources(filter), filter_params={"sources": list(sources)})


def source_fingerprints(hook, collection: str, *, filter: str = "") -> dict:
    """Per source, the fingerprint its rows record (``milvus_toolkit.fingerprints.Recorded``),
    streamed with the hook's ``iter_rows`` (Strong consistency): one entry per source."""
    from milvus_toolkit.fingerprints import FINGERPRINT, recorded

    rows = (row for batch in hook.iter_rows(collection, [SOURCE_FIELD, FINGERPRINT], filter=filter) for row in batch)
    return recorded(rows)


def stored_meta_hashes(
    hook, spec: CollectionSpec, ids: list[str], fingerprints: dict[str, str] | None = None
) -> dict[str, str | None]:
    """id -> ``meta_hash`` of the rows among ``ids`` already in the collection. With
    ``fingerprints`` (id -> the source fingerprint the run gives it), a row that records another
    fingerprint reports no ``meta_hash``, so it is rewritten (its source's rows then agree again)."""
    from milvus_toolkit.fingerprints import FINGERPRINT
    from milvus_toolkit.sync import META_HASH

    pk = PRIMARY_FIELD
    rows = read_rows(hook, spec.name, ids, [pk, META_HASH, *([FINGERPRINT] if fingerprints else [])])
    return {
        row[pk]: None if fingerprints and row.get(FINGERPRINT) != fingerprints.get(row[pk]) else row.get(META_HASH)
        for row in rows
    }


def refresh_metadata(hook, spec: CollectionSpec, chunks: list) -> int:
    """Rewrite the rows of ``chunks`` (langchain ``Document``s already in the collection) with
    their fresh metadata and their stored vectors: no embedding. Returns the rows written."""
    if not chunks:
        return 0
    pk, vector = PRIMARY_FIELD, VECTOR_FIELD
    vectors = {row[pk]: row[vector] for row in read_rows(hook, spec.name, [c.id for c in chunks], [pk, vector])}
    rows = [
        {**chunk.metadata, pk: chunk.id, TEXT_FIELD: chunk.page_content, vector: vectors[chunk.id]}
        for chunk in chunks
        if chunk.id in vectors
    ]
    return hook.upsert(spec.name, rows) if rows else 0


async def existing_ids(hook, store, ids: Sequence[str], pk: str = PRIMARY_FIELD) -> set[str]:
    """The subset of ``ids`` already in the collection of ``store`` (one opened by
    :func:`open_store`), Strong consistency: ``MilvusHook.aget`` on the store's own async client
    (bound to this event loop; no second connection per call)."""
    rows = await hook.aget(store.collection_name, list(ids), output_fields=[pk], client=store.aclient)
    return {row[pk] for row in rows}
