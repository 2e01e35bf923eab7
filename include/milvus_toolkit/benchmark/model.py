"""What a benchmark run measures and the errors it raises: one timed ``Measurement`` per
cell and repeat, the prepared collection (``Slot``) it was timed on, the ``BenchmarkRun``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from milvus_toolkit.benchmark.plan import Cell
from milvus_toolkit.rules import PermanentError


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
    recall: float | None = None  # searches: mean recall at top_k against numpy's exact neighbours

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
            "recall": self.recall,
            "latencies_ms": [round(x * 1000, 3) for x in self.latencies],
        }


@dataclass
class Slot:
    """A prepared collection for one (cell, repeat)."""

    cell: Cell
    repeat: int
    name: str
    rows: int = 0
    measurement: Measurement | None = None

    def spec(self, dim: int):
        """The collection's ``CollectionSpec``: the toolkit's schema at the cell's consistency level."""
        from milvus_toolkit.chunk_store import CollectionSpec

        return CollectionSpec(
            name=self.name,
            dim=dim,
            consistency_level=self.cell.consistency_level,
            description=f"milvus_benchmark {self.cell.key} (dropped after the run)",
        )


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
    search_metrics: dict[str, Any] | None = None  # VectorDBBench-style metrics (search_metrics.py)
