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
   few consecutive cells (up to ``PREPARE_BATCH``) are prepared together, in parallel,
   which saves most of the ~2.5 s that creating and loading one collection costs on
   Milvus 2.3.5; nothing is prepared while a cell is timed;
2. pre-filled with the rows the operation needs (search: ``search_rows`` documents, delete
   and upsert: ``count`` documents plus a warm-up row), then a Strong ``count(*)`` so that
   every row is visible before the clock starts;
3. a store or client opened for the cell and *one* call of the same kind made (warm-up:
   channel, schema cache, the first search on a loaded segment);
4. ``count`` calls timed, each call on its own (per-call latency) and the batch as a whole;
5. afterwards, with Strong reads: the collection holds exactly the rows expected (add:
   +count, upsert: count rows rewritten, delete: count rows fewer) and every search
   returned ``top_k`` hits, so sync and async provably did the same real work;
6. the collection is dropped (at the end of its batch, and in any case in a ``finally``).

Per-call latency of an async call runs from when the coroutine starts its call (after it
got its semaphore slot) to when the call returns; with ``"all"`` that includes the time
the call waits in the client behind the others.

Nothing here imports Airflow: the runner works with any *hook-like* object that offers
``MilvusHook``'s methods (``health_check``, ``ensure_collection``, ``get_conn``,
``async_client``, ``get_vector_store``, ``avector_store``, ``count``, ``has_collection``,
``drop_collection``), so tests drive it against a real Milvus without Airflow.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from milvus_toolkit.rules import PermanentError
from milvus_toolkit.benchmark.plan import (
    COLLECTION_PREFIX,
    BenchmarkParams,
    BenchmarkParamsError,
    Cell,
    Plan,
    build_plan,
)

log = logging.getLogger("milvus_toolkit.benchmark")

SOURCE = "milvus_benchmark"
UPSERTED_SOURCE = "milvus_benchmark_upserted"
PREPARE_WORKERS = 16  # DDL waits (create, index, load) overlap well on the server
PREPARE_BATCH = 20  # collections prepared (and alive, idle) at once
INSERT_BATCH = 1000


class BenchmarkError(RuntimeError):
    """A benchmark could not run, or measured something other than what it should."""


class MilvusUnavailableError(BenchmarkError):
    """Milvus cannot be reached or answered with an error; nothing was created."""


class VerificationError(PermanentError, BenchmarkError):
    """A cell did not do the real work it claims (rows, hits or call results differ)."""


@dataclass
class Measurement:
    """One timed batch: one cell, one repeat, one fresh collection."""

    cell: Cell
    repeat: int
    collection: str
    seconds: float
    latencies: list[float]
    ok_calls: int
    hits: int | None = None
    rows_expected: int | None = None
    rows_after: int | None = None
    upserted_expected: int | None = None
    upserted_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.cell.to_dict() | {
            "repeat": self.repeat,
            "collection": self.collection,
            "seconds": round(self.seconds, 6),
            "ok_calls": self.ok_calls,
            "hits": self.hits,
            "rows_expected": self.rows_expected,
            "rows_after": self.rows_after,
            "upserted_expected": self.upserted_expected,
            "upserted_after": self.upserted_after,
            "latencies_ms": [round(x * 1000, 3) for x in self.latencies],
        }


@dataclass
class _Slot:
    """A prepared collection for one (cell, repeat)."""

    cell: Cell
    repeat: int
    name: str
    rows: int = 0
    measurement: Measurement | None = None


@dataclass
class BenchmarkRun:
    """Everything one run measured, plus where and with what."""

    run_id: str
    started_at: str
    finished_at: str
    params: dict[str, Any]
    environment: dict[str, Any]
    plan: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    collections_created: list[str] = field(default_factory=list)
    collections_left: list[str] = field(default_factory=list)


# ---- entry points ------------------------------------------------------------------------------


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


def prepare(hook: Any, params: BenchmarkParams | dict[str, Any] | None, *, embedding: Any = None) -> tuple[Plan, Any, dict]:
    """Validate everything that can be checked without creating anything: the parameters,
    the plan, the embedding's dimension and Milvus's health. Raises ``BenchmarkParamsError``
    or ``MilvusUnavailableError``."""
    plan = build_plan(params)
    choice = resolve_embedding(plan.params, embedding)
    server = check_milvus(hook)
    return plan, choice, server


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
    runner = _Runner(hook, choice, plan)
    try:
        runner.run()
    finally:
        left = runner.cleanup()
    env["load_average_end"] = _loadavg()
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
    )


def collect_environment(hook: Any, server: dict[str, Any], choice: Any, params: BenchmarkParams) -> dict[str, Any]:
    """The facts a figure depends on: server, client versions, machine, embedding."""
    try:
        cores_usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores_usable = os.cpu_count()
    return {
        "milvus_server_version": server.get("server_version"),
        "milvus_uri": server.get("uri") or getattr(getattr(hook, "config", None), "uri", None),
        "milvus_database": server.get("database"),
        "milvus_round_trip_ms": server.get("round_trip_ms"),
        "clients": {name: _version(name) for name in (
            "pymilvus", "langchain-milvus", "langchain-core", "grpcio", "apache-airflow", "numpy")},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": cores_usable,
        "load_average_start": _loadavg(),
        "embedding": choice.name,
        "embedding_model": choice.model,
        "dim": params.dim,
        "consistency_levels": list(params.consistency_levels),
        "counts": list(params.counts),
        "index": {"type": "HNSW", "metric": "COSINE", "params": {"M": 16, "efConstruction": 200}, "search": {"ef": 64}},
        "top_k": params.top_k,
        "search_rows": params.search_rows,
    }


# ---- the runner ---------------------------------------------------------------------------------


class _Runner:
    def __init__(self, hook: Any, choice: Any, plan: Plan) -> None:
        self.hook = hook
        self.choice = choice
        self.embeddings = choice.embeddings
        self.plan = plan
        self.params = plan.params
        self.tag = uuid.uuid4().hex[:8]
        self.created: list[str] = []  # every collection this run asked Milvus to create
        self._lock = threading.Lock()
        self._seq = 0
        self.measurements: list[Measurement] = []
        self._vectors: dict[str, list[float]] = {}
        rnd = random.Random(20250124)
        size = max([self.params.search_rows, *self.params.counts]) + 1
        # the seeds' documents: "This is test document {i} with some random content: ..."
        self._texts = [f"This is test document {i} with some random content: {rnd.random()}" for i in range(size)]

    # -- orchestration

    def run(self) -> None:
        batches = self._batches()
        for number, groups in enumerate(batches, 1):
            slots = [
                _Slot(cell, r, self._new_name()) for group in groups for r in range(self.params.repeats) for cell in group
            ]
            log.info(
                "Batch %d/%d: %s (%d fresh collections)",
                number, len(batches),
                ", ".join(f"{g[0].row_label} x{g[0].count} @{g[0].consistency_level}" for g in groups), len(slots),
            )
            clock = time.perf_counter
            t0 = clock()
            try:
                self._prepare(slots)
                t1 = clock()
                for slot in slots:
                    slot.measurement = self._measure(slot)
                t2 = clock()
                self._verify(slots)
                log.info(
                    "  batch %d: prepared in %.1f s, measured in %.1f s, verified in %.1f s",
                    number, t1 - t0, t2 - t1, clock() - t2,
                )
            finally:
                self._drop([s.name for s in slots])
            self.measurements.extend(s.measurement for s in slots if s.measurement is not None)

    def _batches(self) -> list[list[list[Cell]]]:
        """Consecutive groups whose collections are prepared together (up to
        ``PREPARE_BATCH`` collections; a bigger group is a batch of its own). Creating,
        indexing and loading a collection is mostly waiting on the server, so preparing many
        at once costs little more than preparing one (~2.5 s alone, ~0.4 s each in a batch)."""
        batches: list[list[list[Cell]]] = []
        size = 0
        for group in self.plan.groups():
            n = len(group) * self.params.repeats
            if batches and size + n <= PREPARE_BATCH:
                batches[-1].append(group)
                size += n
            else:
                batches.append([group])
                size = n
        return batches

    def cleanup(self) -> list[str]:
        """Drop every collection of this run that still exists; returns those that could
        not be dropped (logged; the next run's report lists them too)."""
        left = []
        for name in self.created:
            try:
                if self.hook.has_collection(name):
                    self.hook.drop_collection(name)
            except Exception as exc:  # Milvus went away mid-run: say so, do not hide the cause
                log.warning("Could not drop benchmark collection %s: %s", name, exc)
                left.append(name)
        return left

    def _new_name(self) -> str:
        self._seq += 1
        return f"{COLLECTION_PREFIX}{self.tag}_{self._seq:04d}"

    def _spec(self, slot: _Slot):
        from milvus_provider.config import CollectionSpec

        return CollectionSpec(
            name=slot.name,
            dim=self.params.dim,
            consistency_level=slot.cell.consistency_level,
            description=f"milvus_benchmark {slot.cell.key} (dropped after the run)",
        )

    # -- preparation (not timed)

    def _prepare(self, slots: list[_Slot]) -> None:
        self.hook.get_conn()  # one shared sync client, made before the threads use it
        needed = {s.cell.operation for s in slots}
        self._ensure_vectors(needed, max(s.cell.count for s in slots))

        def one(slot: _Slot) -> None:
            with self._lock:
                self.created.append(slot.name)  # before creating: a half-made one is dropped too
            self.hook.ensure_collection(self._spec(slot))
            rows = self._seed_rows(slot.cell)
            client = self.hook.get_conn()
            for i in range(0, len(rows), INSERT_BATCH):
                client.insert(slot.name, rows[i : i + INSERT_BATCH])
            slot.rows = len(rows)
            if rows:  # Strong: every row is visible to the timed calls, whatever their level
                counted = self.hook.count(slot.name)
                if counted != len(rows):
                    raise VerificationError(f"{slot.name}: seeded {len(rows)} rows but counted {counted}")

        _parallel(one, slots)

    def _ensure_vectors(self, operations: set[str], count: int) -> None:
        texts: list[str] = []
        if "search" in operations:
            texts += self._texts[: self.params.search_rows] + [self._query(i) for i in range(50)]
        texts += self._texts[: count + 1] + [self._upsert_text(i) for i in range(count)] + ["warm-up document"]
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            for text, vector in zip(todo, self.embeddings.embed_documents(todo), strict=True):
                self._vectors[text] = [float(x) for x in vector]

    def _row(self, pk: str, text: str, doc_id: str, source: str = SOURCE) -> dict[str, Any]:
        return {"pk": pk, "text": text, "source": source, "doc_id": doc_id, "vector": self._vectors[text]}

    def _seed_rows(self, cell: Cell) -> list[dict[str, Any]]:
        if cell.operation == "search":
            return [self._row(f"s{i}", self._texts[i], f"doc_{i}") for i in range(self.params.search_rows)]
        if cell.operation == "delete":
            rows = [self._row(f"d{i}", self._texts[i], f"doc_{i}") for i in range(cell.count)]
            return rows + [self._row("d_warmup", "warm-up document", "warmup")]
        if cell.operation == "upsert":
            rows = [self._row(f"u{i}", self._texts[i], f"doc_{i}") for i in range(cell.count)]
            return rows + [self._row("u_warmup", "warm-up document", "warmup")]
        return []

    # -- the calls (index i -> one operation); warm-up uses index -1

    @staticmethod
    def _query(i: int) -> str:
        return f"test document {i % 50}"  # the seeds' queries

    @staticmethod
    def _upsert_text(i: int) -> str:
        return f"Upserted test document {i}"

    def _delete_filter(self, cell: Cell, i: int) -> str:
        if cell.variant == "metadata":  # the seeds: expr = f"id == 'doc_{i}'" on a metadata field
            return f'doc_id == "{"warmup" if i < 0 else f"doc_{i}"}"'
        return f'pk == "{"d_warmup" if i < 0 else f"d{i}"}"'

    def _document(self, cell: Cell, i: int):
        from langchain_core.documents import Document

        if i < 0:
            return "a_warmup" if cell.operation == "add" else "u_warmup", Document(
                page_content="warm-up document", metadata={"source": SOURCE, "doc_id": "warmup"}
            )
        if cell.operation == "add":
            return f"a{i}", Document(page_content=self._texts[i], metadata={"source": SOURCE, "doc_id": f"doc_{i}"})
        return f"u{i}", Document(page_content=self._upsert_text(i), metadata={"source": UPSERTED_SOURCE, "doc_id": f"doc_{i}"})

    def _raw_row(self, cell: Cell, i: int) -> dict[str, Any]:
        pk, doc = self._document(cell, i)
        return self._row(pk, doc.page_content, doc.metadata["doc_id"], doc.metadata["source"])

    def _search_kwargs(self) -> dict[str, Any]:
        return {
            "limit": self.params.top_k,
            "anns_field": "vector",
            "search_params": {"metric_type": "COSINE", "params": {"ef": 64}},
            "output_fields": ["pk"],
        }

    def _sync_call(self, cell: Cell, name: str, store: Any, client: Any) -> Callable[[int], Any]:
        op = cell.operation
        if cell.layer == "langchain":
            if op == "add":
                def call(i):
                    pk, doc = self._document(cell, i)
                    return store.add_documents([doc], ids=[pk])
            elif op == "upsert":
                def call(i):
                    pk, doc = self._document(cell, i)
                    store.upsert(ids=[pk], documents=[doc])
                    return True
            elif op == "search":
                def call(i):
                    return store.similarity_search(self._query(max(i, 0)), k=self.params.top_k)
            else:
                def call(i):
                    return store.delete(expr=self._delete_filter(cell, i))
            return call
        return self._raw_call(cell, name, client)

    def _raw_call(self, cell: Cell, name: str, client: Any) -> Callable[[int], Any]:
        """The raw pymilvus call of a cell. ``MilvusClient`` and ``AsyncMilvusClient`` share
        these signatures; the async client's calls return awaitables."""
        op = cell.operation
        kwargs = self._search_kwargs()
        if op == "add":
            return lambda i: client.insert(name, [self._raw_row(cell, i)])
        if op == "upsert":
            return lambda i: client.upsert(name, [self._raw_row(cell, i)])
        if op == "search":
            return lambda i: client.search(name, data=[self._vectors[self._query(max(i, 0))]], **kwargs)
        return lambda i: client.delete(name, filter=self._delete_filter(cell, i))

    def _async_call(self, cell: Cell, name: str, store: Any, client: Any) -> Callable[[int], Awaitable[Any]]:
        op = cell.operation
        if cell.layer == "langchain":
            if op == "add":
                async def call(i):
                    pk, doc = self._document(cell, i)
                    return await store.aadd_documents([doc], ids=[pk])
            elif op == "upsert":
                async def call(i):
                    pk, doc = self._document(cell, i)
                    await store.aupsert(ids=[pk], documents=[doc])
                    return True
            elif op == "search":
                async def call(i):
                    return await store.asimilarity_search(self._query(max(i, 0)), k=self.params.top_k)
            else:
                async def call(i):
                    return await store.adelete(expr=self._delete_filter(cell, i))
            return call
        return self._raw_call(cell, name, client)

    # -- timing

    def _measure(self, slot: _Slot) -> Measurement:
        cell = slot.cell
        if cell.mode == "sync":
            m = self._measure_sync(slot)
        else:
            m = asyncio.run(self._measure_async(slot))
        if m.ok_calls != cell.count:
            raise VerificationError(
                f"{cell.key}: {cell.count - m.ok_calls} of {cell.count} calls reported failure (collection {slot.name})"
            )
        if cell.operation == "search" and m.hits != cell.count * self.params.top_k:
            raise VerificationError(
                f"{cell.key}: {cell.count} searches returned {m.hits} hits, expected {cell.count * self.params.top_k}"
            )
        log.info(
            "  %-58s %8.3f s  %8.1f ops/s  (%s)",
            cell.key, m.seconds, cell.count / m.seconds if m.seconds > 0 else float("inf"), slot.name,
        )
        return m

    def _measure_sync(self, slot: _Slot) -> Measurement:
        cell = slot.cell
        store = None
        if cell.layer == "langchain":
            store = self.hook.get_vector_store(self._spec(slot), self.embeddings)
        client = self.hook.get_conn()
        try:
            call = self._sync_call(cell, slot.name, store, client)
            _check(cell, call(-1))  # warm-up: one call of the same kind, same store/client
            latencies: list[float] = []
            results: list[Any] = []
            clock = time.perf_counter
            started = clock()
            for i in range(cell.count):
                t0 = clock()
                results.append(call(i))
                latencies.append(clock() - t0)
            seconds = clock() - started
        finally:
            if store is not None:
                store.client.close()
        return self._measurement(slot, seconds, latencies, results)

    async def _measure_async(self, slot: _Slot) -> Measurement:
        cell = slot.cell
        if cell.layer == "langchain":
            async with self.hook.avector_store(self._spec(slot), self.embeddings) as store:
                return await self._time_async(slot, self._async_call(cell, slot.name, store, None))
        async with self.hook.async_client() as client:
            return await self._time_async(slot, self._async_call(cell, slot.name, None, client))

    async def _time_async(self, slot: _Slot, call: Callable[[int], Awaitable[Any]]) -> Measurement:
        cell = slot.cell
        _check(cell, await call(-1))  # warm-up
        latencies = [0.0] * cell.count
        clock = time.perf_counter
        semaphore = asyncio.Semaphore(cell.semaphore) if cell.semaphore is not None else None

        async def one(i: int) -> Any:
            if semaphore is None:
                t0 = clock()
                result = await call(i)
                latencies[i] = clock() - t0
                return result
            async with semaphore:
                t0 = clock()
                result = await call(i)
                latencies[i] = clock() - t0
                return result

        started = clock()
        results = await asyncio.gather(*(one(i) for i in range(cell.count)))
        seconds = clock() - started
        return self._measurement(slot, seconds, latencies, list(results))

    def _measurement(self, slot: _Slot, seconds: float, latencies: list[float], results: list[Any]) -> Measurement:
        cell = slot.cell
        ok = sum(1 for r in results if _succeeded(cell, r))
        hits = sum(_hits(cell, r) for r in results) if cell.operation == "search" else None
        expected = {
            "add": 1 + cell.count,  # warm-up row + one per call
            "upsert": slot.rows,  # rewritten in place
            "delete": slot.rows - 1 - cell.count,  # warm-up row and one per call gone
            "search": slot.rows,
        }[cell.operation]
        return Measurement(
            cell=cell,
            repeat=slot.repeat,
            collection=slot.name,
            seconds=seconds,
            latencies=latencies,
            ok_calls=ok,
            hits=hits,
            rows_expected=expected,
            upserted_expected=cell.count if cell.operation == "upsert" else None,
        )

    # -- verification and dropping (not timed)

    def _verify(self, slots: list[_Slot]) -> None:
        def one(slot: _Slot) -> None:
            m = slot.measurement
            assert m is not None
            m.rows_after = self.hook.count(slot.name)
            if m.upserted_expected is not None:
                m.upserted_after = self.hook.count(slot.name, filter=f'source == "{UPSERTED_SOURCE}"')

        _parallel(one, slots)
        for slot in slots:
            m = slot.measurement
            if m.rows_after != m.rows_expected:
                raise VerificationError(
                    f"{m.cell.key}: collection {slot.name} holds {m.rows_after} rows after the run, "
                    f"expected {m.rows_expected}"
                )
            if m.upserted_expected is not None and m.upserted_after != m.upserted_expected:
                raise VerificationError(
                    f"{m.cell.key}: {m.upserted_after} rows carry the upserted content, expected {m.upserted_expected}"
                )

    def _drop(self, names: list[str]) -> None:
        def one(name: str) -> None:
            try:
                if self.hook.has_collection(name):
                    self.hook.drop_collection(name)
            except Exception as exc:  # retried by cleanup() at the end of the run
                log.warning("Could not drop %s now (will retry at the end): %s", name, exc)

        _parallel(one, names)


# ---- helpers ------------------------------------------------------------------------------------


def _succeeded(cell: Cell, result: Any) -> bool:
    if result is False or result is None:
        return False  # langchain-milvus's delete() returns False instead of raising
    if cell.layer == "langchain" and cell.operation == "add":
        return isinstance(result, list) and len(result) == 1
    return True


def _check(cell: Cell, result: Any) -> None:
    if not _succeeded(cell, result):
        raise BenchmarkError(f"{cell.key}: the warm-up call failed (returned {result!r})")


def _hits(cell: Cell, result: Any) -> int:
    if cell.layer == "raw":
        return len(result[0]) if result else 0
    return len(result)


def _parallel(fn: Callable[[Any], None], items: list[Any]) -> None:
    """Run ``fn`` over ``items`` on a few threads; the first error is raised after all
    started calls finished (so nothing is half-registered)."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(PREPARE_WORKERS, len(items))) as pool:
        futures = [pool.submit(fn, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None
