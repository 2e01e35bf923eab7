"""One rule for the heavy optional libraries: import them once, in the calling thread, before
any thread pool, ``asyncio.to_thread`` or task group can be the first to import them.

Importing a package for the first time from several threads at once can leave one thread
with a half-initialized module ("cannot import name 'NodeWithScore' from partially
initialized module 'llama_index.core.schema'", seen in a fresh process: issue 17). The
modules stay lazy at module level (``import milvus_toolkit.benchmark`` stays cheap): the
code that is about to start threads calls :func:`preload` with what those threads will use.

Calls are serialized by one lock, so two threads that preload at the same time import one
after the other; a module already imported costs a dictionary lookup. What is imported now
is logged with the time it took.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
from collections.abc import Iterable

log = logging.getLogger("milvus_toolkit.preload")

# Named groups: what a layer or feature imports from its worker threads.
GROUPS: dict[str, tuple[str, ...]] = {
    # the benchmark's LlamaIndex layer: nodes, queries, the store (benchmark/llama.py, workload.py)
    "llamaindex": ("llama_index.core.schema", "llama_index.core.vector_stores", "llama_index.vector_stores.milvus"),
    # langchain-milvus stores (chunk_store.py), with the BM25 function of hybrid collections
    "langchain": ("langchain_core.documents", "langchain_milvus"),
    # the local embedding model (embeddings.py)
    "local_embeddings": ("sentence_transformers", "langchain_huggingface"),
    # the great-expectations suite (ingest/validation.py)
    "validation": ("great_expectations", "great_expectations.expectations"),
}

_lock = threading.RLock()


def modules_of(names: Iterable[str]) -> list[str]:
    """Group names expanded to their modules (a name that is no group is a module), in
    order, without repeats."""
    out: list[str] = []
    for name in names:
        for module in GROUPS.get(name, (name,)):
            if module not in out:
                out.append(module)
    return out


def preload(*names: str) -> dict[str, float]:
    """Import every module named (or in the groups named) in this thread, under one lock.

    Returns the modules imported by this call with the seconds each took (empty when all
    were already imported). An ``ImportError`` is raised as is: a missing optional library
    fails here, before any thread starts."""
    imported: dict[str, float] = {}
    with _lock:
        for module in modules_of(names):
            loaded = sys.modules.get(module)
            if loaded is not None and not getattr(getattr(loaded, "__spec__", None), "_initializing", False):
                continue  # fully imported already
            started = time.perf_counter()
            importlib.import_module(module)  # waits for another thread's import of it, if any
            imported[module] = round(time.perf_counter() - started, 3)
    if imported:
        log.info(
            "Preloaded in thread %s: %s (%.2f s)",
            threading.current_thread().name,
            ", ".join(f"{m} {s:.2f} s" for m, s in imported.items()),
            sum(imported.values()),
        )
    return imported


def benchmark_groups(layers: Iterable[str], embedding: str | None = None) -> list[str]:
    """The groups a benchmark run with these layers (and this embedding's name) imports from
    its threads: the cell loop's prepare pool, the async cells' and search metrics' loops."""
    layers = set(layers)
    groups = [g for g in ("langchain", "llamaindex") if g in layers]
    if embedding == "local":
        groups.append("local_embeddings")
    return groups
