"""LlamaIndex's ``MilvusVectorStore`` (llama-index-vector-stores-milvus), used as the LlamaIndex
tutorial uses it: ``TextNode``s with precomputed vectors, ``add`` / ``async_add``,
``query`` / ``aquery``, ``delete`` / ``adelete``.

Its collection has LlamaIndex's own layout (``id``, ``doc_id``, ``text``, ``embedding``, the
rest of the node in the dynamic field), made by the store itself; index and metric are the
benchmark's (HNSW/COSINE, ``ef`` 64) so that the layers differ only in the client code.

The store opens a ``MilvusClient`` and, unless told not to, an ``AsyncMilvusClient`` in its
constructor. With pymilvus 3.0.2 that constructor also works outside an event loop, but the
async client then binds to the first loop that uses it: a second ``asyncio.run`` with the
same store fails with "Event loop is closed" (checked here; llama_index issue #20313 reports
a hard failure with other pymilvus versions). So an async store is made *inside* the running
loop and closed before the loop ends (:func:`open_store`); sync stores get no async client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from milvus_toolkit.preload import preload

EMBEDDING_FIELD = "embedding"  # as in the tutorial


def store_kwargs(hook: Any, spec: Any, *, upsert: bool = False) -> dict[str, Any]:
    """``MilvusVectorStore`` arguments for a collection of ``spec``'s name, dimension,
    consistency level, index and metric, on the hook's connection (its secrets stay in
    the dict: never log it)."""
    conn = dict(hook.config.client_kwargs())
    return {
        "uri": conn.pop("uri"),
        "token": conn.pop("token", ""),
        **conn,  # db_name, timeout, TLS: passed on to MilvusClient / AsyncMilvusClient
        "collection_name": spec.name,
        "dim": spec.dim,
        "embedding_field": EMBEDDING_FIELD,
        "similarity_metric": spec.metric_type,
        "consistency_level": spec.consistency_level,
        "index_config": {"index_type": spec.index_type, **spec.index_params},
        "search_config": dict(spec.search_params),
        "overwrite": False,
        "upsert_mode": upsert,
    }


def sync_store(hook: Any, spec: Any, *, upsert: bool = False, index: bool = True):
    """A store without async client (creates the collection when missing: indexed and loaded,
    or with ``index=False`` without index, hence not loaded). Close it with :func:`close_sync`."""
    preload("llamaindex")  # a no-op after the runner's preload; serialized if a thread gets here first
    from llama_index.vector_stores.milvus import IndexManagement, MilvusVectorStore

    extra = {} if index else {"index_management": IndexManagement.NO_VALIDATION}
    return MilvusVectorStore(**store_kwargs(hook, spec, upsert=upsert), use_async_client=False, **extra)


def close_sync(store: Any) -> None:
    store.client.close()


@asynccontextmanager
async def open_store(hook: Any, spec: Any, *, upsert: bool = False) -> AsyncIterator[Any]:
    """A store made inside the running event loop (its ``AsyncMilvusClient`` belongs to this
    loop), both clients closed on exit."""
    preload("llamaindex")
    from llama_index.vector_stores.milvus import MilvusVectorStore

    asyncio.get_running_loop()  # fail early and clearly outside a coroutine
    kwargs = store_kwargs(hook, spec, upsert=upsert)
    # The constructor makes blocking calls (connect, list/create collection): off the loop's
    # thread would bind the async client to no loop, so it runs here, before any timing.
    store = MilvusVectorStore(**kwargs, use_async_client=True)
    try:
        yield store
    finally:
        try:
            await store.aclient.close()
        finally:
            store.client.close()


def create_collection(hook: Any, spec: Any, nodes: list[Any], batch: int = 1000, *, index: bool = True) -> int:
    """Create ``spec``'s collection through the store itself (LlamaIndex's layout; indexed and
    loaded, or with ``index=False`` neither, for an index built after the rows are in), then
    add ``nodes`` in batches. Returns the rows written."""
    store = sync_store(hook, spec, index=index)
    try:
        for i in range(0, len(nodes), batch):
            store.add(nodes[i : i + batch])
    finally:
        close_sync(store)
    return len(nodes)
