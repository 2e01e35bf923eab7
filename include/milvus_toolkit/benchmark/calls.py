"""The call a cell times, per layer and mode: call ``i`` (``-1``: the warm-up) through
langchain-milvus (``add_documents``/``aadd_documents``, ``upsert``/``aupsert``,
``similarity_search``/``asimilarity_search``, ``delete``/``adelete``), through LlamaIndex's
``MilvusVectorStore`` as in its tutorial (``add``/``async_add`` of one ``TextNode``, the same
on an ``upsert_mode`` store for upsert, ``query``/``aquery``, ``delete``/``adelete`` by
``ref_doc_id`` or ``delete_nodes``/``adelete_nodes`` by id), or through the raw
``MilvusClient``/``AsyncMilvusClient`` (the floor)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from milvus_toolkit.benchmark.plan import Cell
from milvus_toolkit.benchmark.workload import Workload


def sync_call(work: Workload, cell: Cell, name: str, store: Any, client: Any) -> Callable[[int], Any]:
    op = cell.operation
    if cell.layer == "langchain":
        if op == "add":

            def call(i):
                pk, doc = work.document(cell, i)
                return store.add_documents([doc], ids=[pk])
        elif op == "upsert":

            def call(i):
                pk, doc = work.document(cell, i)
                store.upsert(ids=[pk], documents=[doc])
                return True
        elif op == "search":

            def call(i):
                return store.similarity_search(work.query(max(i, 0)), k=work.params.top_k)
        else:

            def call(i):
                return store.delete(expr=work.delete_filter(cell, i))

        return call
    if cell.layer == "llamaindex":
        return llama_sync_call(work, cell, store)
    return raw_call(work, cell, name, client)


def llama_sync_call(work: Workload, cell: Cell, store: Any) -> Callable[[int], Any]:
    op = cell.operation
    if op in ("add", "upsert"):  # upsert: the same add() on a store with upsert_mode=True
        return lambda i: store.add([work.node(cell, i)])
    if op == "search":
        return lambda i: store.query(work.vector_query(i))
    if cell.variant == "metadata":  # the node's ref_doc_id: LlamaIndex queries its keys, then deletes them

        def call(i):
            store.delete(work.ref_doc_id(i))
            return True  # returns None; failures raise
    else:

        def call(i):
            store.delete_nodes(node_ids=[work.delete_pk(i)])
            return True

    return call


def llama_async_call(work: Workload, cell: Cell, store: Any) -> Callable[[int], Awaitable[Any]]:
    op = cell.operation
    if op in ("add", "upsert"):

        async def call(i):
            return await store.async_add([work.node(cell, i)])
    elif op == "search":

        async def call(i):
            return await store.aquery(work.vector_query(i))
    elif cell.variant == "metadata":

        async def call(i):
            await store.adelete(work.ref_doc_id(i))
            return True
    else:

        async def call(i):
            await store.adelete_nodes(node_ids=[work.delete_pk(i)])
            return True

    return call


def raw_call(work: Workload, cell: Cell, name: str, client: Any) -> Callable[[int], Any]:
    """The raw pymilvus call of a cell. ``MilvusClient`` and ``AsyncMilvusClient`` share
    these signatures; the async client's calls return awaitables."""
    op = cell.operation
    kwargs = work.search_kwargs()
    if op == "add":
        return lambda i: client.insert(name, [work.raw_row(cell, i)])
    if op == "upsert":
        return lambda i: client.upsert(name, [work.raw_row(cell, i)])
    if op == "search":
        return lambda i: client.search(name, data=[work.vectors[work.query(max(i, 0))]], **kwargs)
    return lambda i: client.delete(name, filter=work.delete_filter(cell, i))


def async_call(work: Workload, cell: Cell, name: str, store: Any, client: Any) -> Callable[[int], Awaitable[Any]]:
    op = cell.operation
    if cell.layer == "langchain":
        if op == "add":

            async def call(i):
                pk, doc = work.document(cell, i)
                return await store.aadd_documents([doc], ids=[pk])
        elif op == "upsert":

            async def call(i):
                pk, doc = work.document(cell, i)
                await store.aupsert(ids=[pk], documents=[doc])
                return True
        elif op == "search":

            async def call(i):
                return await store.asimilarity_search(work.query(max(i, 0)), k=work.params.top_k)
        else:

            async def call(i):
                return await store.adelete(expr=work.delete_filter(cell, i))

        return call
    if cell.layer == "llamaindex":
        return llama_async_call(work, cell, store)
    return raw_call(work, cell, name, client)
