"""The cell loop: the plan's cells in batches, each batch on fresh collections.

Per batch: the collections of a few consecutive cells (up to ``PREPARE_BATCH``) are created,
loaded and seeded together, in parallel, before anything is timed (which saves most of the
~2.5 s that creating and loading one collection costs on Milvus 2.3.5), with a Strong
``count(*)`` so every seeded row is visible before the clock starts; then each cell is timed
(``timing``), verified (``verification``), and the batch's collections are dropped (also on
failure; ``cleanup`` retries whatever is left at the end of the run)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from milvus_toolkit import chunk_store
from milvus_toolkit.benchmark import llama
from milvus_toolkit.benchmark.model import Measurement, Slot, VerificationError
from milvus_toolkit.benchmark.parallel import parallel
from milvus_toolkit.benchmark.plan import COLLECTION_PREFIX, Cell, Plan
from milvus_toolkit.benchmark.timing import CellTimer
from milvus_toolkit.benchmark.verification import verify_rows
from milvus_toolkit.benchmark.workload import Workload

log = logging.getLogger("milvus_toolkit.benchmark")

PREPARE_BATCH = 20  # collections prepared (and alive, idle) at once
INSERT_BATCH = 1000


class CellLoop:
    def __init__(self, hook: Any, choice: Any, plan: Plan) -> None:
        self.hook = hook
        self.plan = plan
        self.params = plan.params
        self.work = Workload(plan.params, choice.embeddings)
        self.timer = CellTimer(hook, self.work)
        self.tag = uuid.uuid4().hex[:8]
        self.created: list[str] = []  # every collection this run asked Milvus to create
        self._lock = threading.Lock()
        self._seq = 0
        self.measurements: list[Measurement] = []

    def run(self) -> None:
        batches = self._batches()
        for number, groups in enumerate(batches, 1):
            slots = [
                Slot(cell, r, self._new_name())
                for group in groups
                for r in range(self.params.repeats)
                for cell in group
            ]
            log.info(
                "Batch %d/%d: %s (%d fresh collections)",
                number,
                len(batches),
                ", ".join(f"{g[0].row_label} x{g[0].count} @{g[0].consistency_level}" for g in groups),
                len(slots),
            )
            clock = time.perf_counter
            t0 = clock()
            try:
                self._prepare(slots)
                t1 = clock()
                for slot in slots:
                    slot.measurement = self.timer.measure(slot)
                t2 = clock()
                verify_rows(self.hook, slots)
                log.info(
                    "  batch %d: prepared in %.1f s, measured in %.1f s, verified in %.1f s",
                    number,
                    t1 - t0,
                    t2 - t1,
                    clock() - t2,
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

    def reserve_name(self) -> str:
        """A fresh collection name, registered for cleanup before anything creates it (for
        the search metrics, which make their own collections)."""
        name = self._new_name()
        with self._lock:
            self.created.append(name)
        return name

    def _new_name(self) -> str:
        self._seq += 1
        return f"{COLLECTION_PREFIX}{self.tag}_{self._seq:04d}"

    def _prepare(self, slots: list[Slot]) -> None:
        self.hook.get_conn()  # one shared sync client, made before the threads use it
        self.work.ensure_vectors({s.cell.operation for s in slots}, max(s.cell.count for s in slots))

        def one(slot: Slot) -> None:
            with self._lock:
                self.created.append(slot.name)  # before creating: a half-made one is dropped too
            rows = self.work.seed_rows(slot.cell)
            if slot.cell.layer == "llamaindex":  # LlamaIndex's own layout, made and filled by its store
                llama.create_collection(
                    self.hook, slot.spec(self.params.dim), [self.work.text_node(r) for r in rows], INSERT_BATCH
                )
            else:
                chunk_store.ensure_collection(self.hook, slot.spec(self.params.dim))
                client = self.hook.get_conn()
                for i in range(0, len(rows), INSERT_BATCH):
                    client.insert(slot.name, rows[i : i + INSERT_BATCH])
            slot.rows = len(rows)
            if rows:  # Strong: every row is visible to the timed calls, whatever their level
                counted = self.hook.count(slot.name)
                if counted != len(rows):
                    raise VerificationError(f"{slot.name}: seeded {len(rows)} rows but counted {counted}")

        parallel(one, slots)

    def _drop(self, names: list[str]) -> None:
        def one(name: str) -> None:
            try:
                if self.hook.has_collection(name):
                    self.hook.drop_collection(name)
            except Exception as exc:  # retried by cleanup() at the end of the run
                log.warning("Could not drop %s now (will retry at the end): %s", name, exc)

        parallel(one, names)
