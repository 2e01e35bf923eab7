"""Proof that a cell did the real work it claims: every call succeeded, every search
returned ``top_k`` hits, and afterwards (Strong reads) each collection holds exactly the
rows expected (add: +count, upsert: count rows rewritten, delete: count rows fewer)."""

from __future__ import annotations

from typing import Any

from milvus_toolkit.benchmark.model import BenchmarkError, Measurement, Slot, VerificationError
from milvus_toolkit.benchmark.parallel import parallel
from milvus_toolkit.benchmark.plan import Cell
from milvus_toolkit.benchmark.workload import UPSERTED_SOURCE


def succeeded(cell: Cell, result: Any) -> bool:
    if result is False or result is None:
        return False  # langchain-milvus's delete() returns False instead of raising
    if cell.layer == "langchain" and cell.operation == "add":
        return isinstance(result, list) and len(result) == 1
    if cell.layer == "llamaindex" and cell.operation in ("add", "upsert"):
        return isinstance(result, list) and len(result) == 1  # the node ids written
    return True


def check_warm_up(cell: Cell, result: Any) -> None:
    if not succeeded(cell, result):
        raise BenchmarkError(f"{cell.key}: the warm-up call failed (returned {result!r})")


def hits(cell: Cell, result: Any) -> int:
    if cell.layer == "raw":
        return len(result[0]) if result else 0
    if cell.layer == "llamaindex":
        return len(result.ids or [])
    return len(result)


def result_ids(cell: Cell, result: Any) -> list[str]:
    """The primary keys a search returned, best first (for ``recall``)."""
    if cell.layer == "raw":
        return [hit["entity"]["pk"] for hit in (result[0] if result else [])]
    if cell.layer == "llamaindex":
        return list(result.ids or [])
    return [doc.metadata.get("pk") for doc in result]


def expected_rows(cell: Cell, seeded: int) -> int:
    """Rows the collection must hold after the cell's warm-up and ``count`` calls."""
    return {
        "add": 1 + cell.count,  # warm-up row + one per call
        "upsert": seeded,  # rewritten in place
        "delete": seeded - 1 - cell.count,  # warm-up row and one per call gone
        "search": seeded,
    }[cell.operation]


def check_calls(m: Measurement, slot: Slot, top_k: int) -> None:
    """Every timed call reported success, and every search returned ``top_k`` hits."""
    cell = slot.cell
    if m.ok_calls != cell.count:
        raise VerificationError(
            f"{cell.key}: {cell.count - m.ok_calls} of {cell.count} calls reported failure (collection {slot.name})"
        )
    if cell.operation == "search" and m.hits != cell.count * top_k:
        raise VerificationError(
            f"{cell.key}: {cell.count} searches returned {m.hits} hits, expected {cell.count * top_k}"
        )


def verify_rows(hook: Any, slots: list[Slot]) -> None:
    """Count (Strong) what each collection holds after its cell, then compare."""

    def one(slot: Slot) -> None:
        m = slot.measurement
        assert m is not None
        m.rows_after = hook.count(slot.name)
        if m.upserted_expected is not None:
            m.upserted_after = hook.count(slot.name, filter=f'source == "{UPSERTED_SOURCE}"')

    parallel(one, slots)
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
