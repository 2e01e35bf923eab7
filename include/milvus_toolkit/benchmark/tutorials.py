"""The published figures of the two Milvus tutorials this benchmark reproduces (the seeds in
``shared/seeds``), so every report can show them beside this machine's cells.

- ``llamaindex``: *RAG with Milvus and LlamaIndex Async API* (seed 000): ``MilvusVectorStore``
  with ``consistency_level="Strong"``, ``async_add`` / ``add`` of one ``TextNode`` with a
  precomputed 768-dim vector per call, ``aquery`` / ``query`` with ``similarity_top_k=3``
  against 1000 nodes; their machine and network, Milvus at ``localhost:19530``.
- ``langchain``: *Asynchronous Functions in LangChain Milvus Integration* (seeds 001, 002):
  langchain-milvus at its default Session level, OpenAI embeddings inside every add and
  search call, ``delete(expr="id == 'doc_i'")`` on a metadata field.

Each entry: (operation, count) -> (async seconds, sync seconds). Async is the unbounded
``asyncio.gather`` of single calls, sync a loop of the same calls.
"""

from __future__ import annotations

from typing import Any

TUTORIALS: dict[str, dict[str, Any]] = {
    "llamaindex": {
        "title": "LlamaIndex tutorial (RAG with Milvus and LlamaIndex Async API)",
        "url": "https://milvus.io/docs/llamaindex_milvus_async.md",
        "layer": "llamaindex",
        "consistency_level": "Strong",
        "delete_variant": None,
        "embedding": "precomputed 768-dim vectors (no model in the timed calls)",
        "why": {
            "add": "no consistency wait on an insert: {per_call_ms:.0f} ms per sync call is their client-server round "
            "trip{here}; gathered, the round trips overlap",
            "search": "Strong consistency: every sync query waits for the server's time tick (about 200 ms, as in this "
            "report's Strong rows) plus a round trip, {per_call_ms:.0f} ms per call{here}; gathered, the waits overlap",
        },
        "figures": {
            ("add", 10): (0.19, 0.56),
            ("add", 100): (0.48, 5.85),
            ("add", 1000): (3.22, 62.91),
            ("search", 10): (0.55, 3.29),
            ("search", 100): (1.39, 30.80),
            ("search", 1000): (8.81, 308.80),
        },
    },
    "langchain": {
        "title": "LangChain tutorial (Asynchronous Functions in LangChain Milvus Integration)",
        "url": "https://milvus.io/docs/langchain_milvus_async.md",
        "layer": "langchain",
        "consistency_level": "Session",
        "delete_variant": "metadata",
        "embedding": "OpenAI embeddings inside every add and search call",
        "why": {
            "add": "an OpenAI embeddings request inside every call: {per_call_ms:.0f} ms per sync add, most of it the "
            "embedding API{here}; gathered, the requests overlap",
            "search": "an OpenAI embedding of the query inside every call: {per_call_ms:.0f} ms per sync search{here}; "
            "gathered, the requests overlap",
            "delete": "a delete by a metadata filter: Milvus first runs an internal query that waits for the time tick "
            "(about 200 ms), {per_call_ms:.0f} ms per call{here}; gathered, the waits overlap",
        },
        "figures": {
            ("add", 10): (1.74, 5.36),
            ("add", 100): (2.77, 65.60),
            ("search", 10): (2.31, 6.07),
            ("search", 100): (3.72, 54.22),
            ("delete", 10): (0.58, 2.82),
            ("delete", 100): (0.61, 29.21),
        },
    },
}
