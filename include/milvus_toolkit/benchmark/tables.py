"""The rows of a run's tables (plain data; ``render`` and ``chart`` draw them): cell order
and labels, the seeds-shaped table, the tutorials' figures beside ours, why large sync/async
gaps happen, where the time goes, and the search metrics (sweep, load, dense/BM25/hybrid)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from milvus_toolkit.benchmark.plan import is_wait_bound
from milvus_toolkit.benchmark.tutorials import TUTORIALS

LAYER_ORDER = {"langchain": 0, "llamaindex": 1, "raw": 2}
LAYER_TITLES = {
    "langchain": "langchain-milvus",
    "llamaindex": "LlamaIndex MilvusVectorStore",
    "raw": "raw pymilvus (the floor)",
}
LARGE_GAP = 5.0  # a sync/async speedup from which the report explains where it comes from

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
    sync = {
        (c["operation"], c["variant"], c["count"], c["layer"], c["consistency_level"]): c
        for c in cells
        if c["mode"] == "sync"
    }
    layers = []
    seen = set()
    for (op, variant, count, _layer, level), c in sorted(sync.items(), key=lambda kv: order(kv[1])):
        if (op, variant, count, level) in seen:
            continue
        seen.add((op, variant, count, level))
        raw = sync.get((op, variant, count, "raw", level))
        row: dict[str, Any] = {
            "operation": row_label(c, level),
            "count": count,
            "consistency": level,
            "raw_p50_ms": raw["p50_ms"] if raw else None,
        }
        for name in ("langchain", "llamaindex"):
            mine = sync.get((op, variant, count, name, level))
            row[f"{name}_p50_ms"] = mine["p50_ms"] if mine else None
            row[f"{name}_overhead_ms"] = round(mine["p50_ms"] - raw["p50_ms"], 3) if mine and raw else None
        layers.append(row)
    consistency = []
    searches = [c for c in cells if c["operation"] == "search" and c["mode"] == "sync"]
    for c in sorted(searches, key=order):
        consistency.append(
            {
                "layer": c["layer"],
                "count": c["count"],
                "consistency": c["consistency_level"],
                "p50_ms": c["p50_ms"],
                "p99_ms": c["p99_ms"],
                "seconds": c["seconds"],
            }
        )
    groups: dict[tuple, dict[str, Any]] = {}
    for c in sorted(cells, key=order):
        g = groups.setdefault(
            (row_label(c, None), c["count"], c["layer"]),
            {"operation": row_label(c, None), "count": c["count"], "layer": c["layer"]},
        )
        g["sync" if c["mode"] == "sync" else f"async {c['concurrency']}"] = c["seconds"]
    sweep = list(groups.values())
    return {"layers": layers, "consistency": consistency, "concurrency": sweep}


# ---- the tutorials' figures beside ours ------------------------------------------------------------


def _find(cells: list[dict[str, Any]], **want: Any) -> dict[str, Any] | None:
    for c in cells:
        if all(c.get(k) == v for k, v in want.items()):
            return c
    return None


def tutorial_table(record: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """One row per figure the tutorial published, with this run's cell of the same layer,
    operation and count (searches at the tutorial's consistency level when measured, else the
    baseline; async as the unbounded gather when measured); ``note`` says what is missing."""
    tut = TUTORIALS[name]
    layer = tut["layer"]
    cells = [c for c in record["cells"] if c["layer"] == layer]
    levels = list(record.get("params", {}).get("consistency_levels") or ["Session"])
    conc = headline_concurrency(cells)
    rows = []
    for (op, count), (t_async, t_sync) in tut["figures"].items():
        variant = (tut["delete_variant"] or "") if op == "delete" else ""
        level = levels[0]
        if op == "search" and tut["consistency_level"] in levels:
            level = tut["consistency_level"]
        sync = _find(cells, operation=op, variant=variant, count=count, mode="sync", consistency_level=level)
        asyn = _find(
            cells, operation=op, variant=variant, count=count, mode="async", concurrency=conc, consistency_level=level
        )
        note = ""
        if not cells:
            note = f"layer {layer} not measured in this run"
        elif sync is None and asyn is None:
            skipped = [
                s
                for s in record.get("plan", {}).get("skipped", [])
                if s["operation"] == op
                and s["count"] == count
                and s["consistency_level"] == level
                and layer in s.get("layers", [layer])
            ]
            note = f"not measured: {skipped[0]['reason']}" if skipped else f"count {count} not measured in this run"
        elif op == "search" and level != tut["consistency_level"]:
            note = f"here at {level}: the tutorial's {tut['consistency_level']} was not measured"
        rows.append(
            {
                "operation": f"{op} by {variant}" if variant else op,
                "count": count,
                "consistency": level,
                "tutorial_async_s": t_async,
                "tutorial_sync_s": t_sync,
                "tutorial_speedup": round(t_sync / t_async, 1),
                "async_s": asyn["seconds"] if asyn else None,
                "sync_s": sync["seconds"] if sync else None,
                "speedup": round(sync["seconds"] / asyn["seconds"], 1) if sync and asyn and asyn["seconds"] else None,
                "sync_p50_ms": sync["p50_ms"] if sync else None,
                "note": note,
            }
        )
    return rows


# ---- why a large gap ---------------------------------------------------------------------------------


def _wait_reason(op: str, variant: str, level: str, layer: str) -> str:
    if op == "search":
        return "a Strong search waits until the server's time tick passes the request"
    if layer == "llamaindex":
        return "LlamaIndex's delete(ref_doc_id) first queries the keys at the collection's Strong level"
    return "a delete by a metadata filter makes Milvus run an internal query that waits for the time tick"


def explain_gap(sync: dict[str, Any], asyn: dict[str, Any]) -> str:
    """Why this sync loop and this async batch differ, from their own figures."""
    op, variant, level, layer, count = (
        sync["operation"],
        sync["variant"],
        sync["consistency_level"],
        sync["layer"],
        sync["count"],
    )
    per_async = asyn["seconds"] / count * 1000
    gathered = "all at once" if asyn["concurrency"] == "all" else f"{asyn['concurrency']} at a time"
    if is_wait_bound(op, variant, level, layer):
        return (
            f"every sync call waits (p50 {sync['p50_ms']:.1f} ms): {_wait_reason(op, variant, level, layer)}. "
            f"Gathered {gathered}, the waits overlap: {count} calls in {asyn['seconds']:.3g} s "
            f"({per_async:.2f} ms per call)."
        )
    return (
        f"sync is {count} round trips of p50 {sync['p50_ms']:.2f} ms one after the other ({sync['seconds']:.3g} s); "
        f"gathered {gathered}, the client sends the next call before the last answer "
        "and the server serves several at once "
        f"({asyn['seconds']:.3g} s, {per_async:.2f} ms per call)."
    )


def gap_explanations(record: dict[str, Any], threshold: float = LARGE_GAP) -> list[dict[str, Any]]:
    """Every seeds-shaped row (any layer) and every tutorial figure whose sync/async ratio is
    at least ``threshold``, with the reason read from the figures."""
    out = []
    baseline = (record["params"].get("consistency_levels") or ["Session"])[0]
    layers = sorted({c["layer"] for c in record["cells"]}, key=lambda lay: LAYER_ORDER.get(lay, 9))
    for layer in layers:
        cells = [c for c in record["cells"] if c["layer"] == layer]
        conc = headline_concurrency(cells)
        for row in seeds_table(record, layer):
            if not row["speedup"] or row["speedup"] < threshold:
                continue
            sync = next(
                c
                for c in cells
                if row_label(c, baseline) == row["operation"] and c["count"] == row["count"] and c["mode"] == "sync"
            )
            asyn = next(
                c
                for c in cells
                if row_label(c, baseline) == row["operation"]
                and c["count"] == row["count"]
                and c["mode"] == "async"
                and c["concurrency"] == conc
            )
            out.append(
                {
                    "who": f"here, {layer}",
                    "operation": row["operation"],
                    "count": row["count"],
                    "speedup": row["speedup"],
                    "why": explain_gap(sync, asyn),
                }
            )
    for name, tut in TUTORIALS.items():
        for row in tutorial_table(record, name):
            if row["tutorial_speedup"] < threshold:
                continue
            op = row["operation"].split(" by ")[0]
            per_call_ms = row["tutorial_sync_s"] / row["count"] * 1000
            here = (
                f" (this run, {tut['layer']} at {row['consistency']}: p50 {row['sync_p50_ms']:.1f} ms per sync call)"
                if row["sync_p50_ms"] is not None
                else ""
            )
            out.append(
                {
                    "who": f"{name} tutorial",
                    "operation": row["operation"],
                    "count": row["count"],
                    "speedup": row["tutorial_speedup"],
                    "why": tut["why"][op].format(per_call_ms=per_call_ms, here=here) + ".",
                }
            )
    return out


# ---- search metrics ----------------------------------------------------------------------------------


def sweep_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per layer, mode and concurrency level of the sweep."""
    metrics = record.get("search_metrics") or {}
    rows = []
    for layer, m in sorted((metrics.get("layers") or {}).items(), key=lambda kv: LAYER_ORDER.get(kv[0], 9)):
        for mode in ("sync", "async"):
            for lv in (m.get(mode) or {}).get("levels", []):
                rows.append({"layer": layer, "mode": mode, **lv})
    return rows
