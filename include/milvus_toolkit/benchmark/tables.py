"""The rows of a run's tables (plain data; ``render`` and ``chart`` draw them): cell order
and labels, the seeds-shaped table and where the time goes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

CONSISTENCY_ORDER = {"Strong": 0, "Session": 1, "Bounded": 2, "Eventually": 3}
OPERATION_ORDER = {"add": 0, "upsert": 1, "search": 2, "delete": 3}


def _sort_key(cell: dict[str, Any], levels: list[str] | None = None) -> tuple:
    """Operation, variant, consistency (in the order asked: the baseline first), count,
    layer, sync before async, concurrency."""
    conc = cell["concurrency"]
    level = cell["consistency_level"]
    return (
        OPERATION_ORDER.get(cell["operation"], 9),
        cell["variant"],
        levels.index(level) if levels and level in levels else 10 + CONSISTENCY_ORDER.get(level, 9),
        cell["count"],
        cell["layer"],
        cell["mode"] != "sync",
        math.inf if conc == "all" else int(conc),
    )


def cell_order(record: dict[str, Any]) -> Callable[[dict[str, Any]], tuple]:
    """The sort key of the record's cells (its consistency levels in the order asked)."""
    levels = list(record.get("params", {}).get("consistency_levels") or [])
    return lambda cell: _sort_key(cell, levels)


def row_label(cell: dict[str, Any], baseline: str | None = None) -> str:
    label = cell["operation"]
    if cell["variant"]:
        label += f" by {cell['variant']}"
    if cell["operation"] == "search" and cell["consistency_level"] != baseline:
        label += f" ({cell['consistency_level']})"
    return label


def headline_concurrency(cells: list[dict[str, Any]]) -> str | None:
    """The async level the seeds-shaped table shows: "all" (the seeds' unbounded gather)
    if measured, else the largest level."""
    levels = {c["concurrency"] for c in cells if c["mode"] == "async"}
    if not levels:
        return None
    if "all" in levels:
        return "all"
    return str(max(int(x) for x in levels))


def seeds_table(record: dict[str, Any], layer: str = "langchain") -> list[dict[str, Any]]:
    """Rows shaped like the seeds' tables: operation x count, async s, sync s, speedup."""
    cells = [c for c in record["cells"] if c["layer"] == layer]
    baseline = (record["params"].get("consistency_levels") or ["Session"])[0]
    conc = headline_concurrency(cells)
    index = {(row_label(c, baseline), c["count"], c["mode"], c["concurrency"]): c for c in cells}
    rows = []
    seen = set()
    for c in sorted(cells, key=cell_order(record)):
        label = row_label(c, baseline)
        if (label, c["count"]) in seen:
            continue
        seen.add((label, c["count"]))
        sync = index.get((label, c["count"], "sync", "1"))
        asyn = index.get((label, c["count"], "async", conc)) if conc else None
        rows.append(
            {
                "operation": label,
                "count": c["count"],
                "async_s": asyn["seconds"] if asyn else None,
                "sync_s": sync["seconds"] if sync else None,
                "speedup": round(sync["seconds"] / asyn["seconds"], 1) if sync and asyn and asyn["seconds"] else None,
            }
        )
    return rows


def breakdown(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Where the time goes: per-call medians (p50) of sync loops, split by layer, by
    consistency level and by delete filter; and the concurrency sweep."""
    cells = record["cells"]
    order = cell_order(record)
    sync = {(c["operation"], c["variant"], c["count"], c["layer"], c["consistency_level"]): c for c in cells if c["mode"] == "sync"}
    layers = []
    for (op, variant, count, layer, level), c in sorted(sync.items(), key=lambda kv: order(kv[1])):
        if layer != "langchain":
            continue
        raw = sync.get((op, variant, count, "raw", level))
        layers.append(
            {
                "operation": row_label(c, level), "count": count, "consistency": level,
                "langchain_p50_ms": c["p50_ms"], "raw_p50_ms": raw["p50_ms"] if raw else None,
                "langchain_overhead_ms": round(c["p50_ms"] - raw["p50_ms"], 3) if raw else None,
            }
        )
    consistency = []
    searches = [c for c in cells if c["operation"] == "search" and c["mode"] == "sync"]
    for c in sorted(searches, key=order):
        consistency.append(
            {"layer": c["layer"], "count": c["count"], "consistency": c["consistency_level"],
             "p50_ms": c["p50_ms"], "p99_ms": c["p99_ms"], "seconds": c["seconds"]}
        )
    groups: dict[tuple, dict[str, Any]] = {}
    for c in sorted(cells, key=order):
        g = groups.setdefault(
            (row_label(c, None), c["count"], c["layer"]), {"operation": row_label(c, None), "count": c["count"], "layer": c["layer"]}
        )
        g["sync" if c["mode"] == "sync" else f"async {c['concurrency']}"] = c["seconds"]
    sweep = list(groups.values())
    return {"layers": layers, "consistency": consistency, "concurrency": sweep}
