"""Timing one cell on its prepared collection: a store or client opened for the cell, one
warm-up call of the same kind, then ``count`` calls timed, each on its own (per-call
latency) and the batch as a whole. *sync* is a loop of single calls; *async* the same calls
gathered, all at once (``"all"``) or bounded by an ``asyncio.Semaphore``.

Per-call latency of an async call runs from when the coroutine starts its call (after it
got its semaphore slot) to when the call returns; with ``"all"`` that includes the time
the call waits in the client behind the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from milvus_toolkit import chunk_store
from milvus_toolkit.benchmark import llama
from milvus_toolkit.benchmark import verification as check
from milvus_toolkit.benchmark.calls import async_call, sync_call
from milvus_toolkit.benchmark.model import Measurement, Slot
from milvus_toolkit.benchmark.workload import Workload

log = logging.getLogger("milvus_toolkit.benchmark")


class CellTimer:
    def __init__(self, hook: Any, work: Workload) -> None:
        self.hook = hook
        self.work = work

    def measure(self, slot: Slot) -> Measurement:
        cell = slot.cell
        if cell.mode == "sync":
            m = self._measure_sync(slot)
        else:
            m = asyncio.run(self._measure_async(slot))
        check.check_calls(m, slot, self.work.params.top_k)
        log.info(
            "  %-58s %8.3f s  %8.1f ops/s  (%s)",
            cell.key,
            m.seconds,
            cell.count / m.seconds if m.seconds > 0 else float("inf"),
            slot.name,
        )
        return m

    def _measure_sync(self, slot: Slot) -> Measurement:
        cell = slot.cell
        store = None
        if cell.layer == "langchain":
            store = chunk_store.vector_store(self.hook, slot.spec(self.work.params.dim), self.work.embeddings)
        elif cell.layer == "llamaindex":
            store = llama.sync_store(self.hook, slot.spec(self.work.params.dim), upsert=cell.operation == "upsert")
        client = self.hook.get_conn()
        try:
            call = sync_call(self.work, cell, slot.name, store, client)
            check.check_warm_up(cell, call(-1))  # warm-up: one call of the same kind, same store/client
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

    async def _measure_async(self, slot: Slot) -> Measurement:
        cell = slot.cell
        if cell.layer == "langchain":
            async with chunk_store.open_store(
                self.hook, slot.spec(self.work.params.dim), self.work.embeddings
            ) as store:
                return await self._time_async(slot, async_call(self.work, cell, slot.name, store, None))
        if cell.layer == "llamaindex":  # made inside this loop: its async client binds to it
            async with llama.open_store(
                self.hook, slot.spec(self.work.params.dim), upsert=cell.operation == "upsert"
            ) as store:
                return await self._time_async(slot, async_call(self.work, cell, slot.name, store, None))
        async with self.hook.async_client() as client:
            return await self._time_async(slot, async_call(self.work, cell, slot.name, None, client))

    async def _time_async(self, slot: Slot, call: Callable[[int], Awaitable[Any]]) -> Measurement:
        cell = slot.cell
        check.check_warm_up(cell, await call(-1))  # warm-up
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

    def _recall(self, cell: Any, results: list[Any]) -> float | None:
        """Mean recall at ``top_k`` of a search cell's calls against the exact neighbours
        (numpy) of each call's query; computed after the clock stopped."""
        if cell.operation != "search":
            return None
        from milvus_toolkit.benchmark.recall import mean_recall

        pairs = [(check.result_ids(cell, r), self.work.exact_top_k(self.work.query(i))) for i, r in enumerate(results)]
        return mean_recall(pairs, self.work.params.top_k)

    def _measurement(self, slot: Slot, seconds: float, latencies: list[float], results: list[Any]) -> Measurement:
        cell = slot.cell
        return Measurement(
            cell=cell,
            repeat=slot.repeat,
            collection=slot.name,
            seconds=seconds,
            latencies=latencies,
            ok_calls=sum(1 for r in results if check.succeeded(cell, r)),
            hits=sum(check.hits(cell, r) for r in results) if cell.operation == "search" else None,
            recall=self._recall(cell, results),
            rows_expected=check.expected_rows(cell, slot.rows),
            upserted_expected=cell.count if cell.operation == "upsert" else None,
        )
