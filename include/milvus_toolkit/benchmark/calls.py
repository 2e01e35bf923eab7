"""The call a cell times, per layer and mode: call ``i`` (``-1``: the warm-up) through
langchain-milvus (``add_documents``/``aadd_documents``, ``upsert``/``aupsert``,
``similarity_search``/``asimilarity_search``, ``delete``/``adelete``) or through the raw
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
    return raw_call(work, cell, name, client)


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
    return raw_call(work, cell, name, client)
