"""Figures, tables, chart, history and the regression check of benchmark runs.

Where results go: one folder (``MILVUS_BENCHMARK_RESULTS``, else ``$LOCAL_HOME/benchmarks``
(``make`` sets ``LOCAL_HOME`` to the repository's ``.local``), else
``$AIRFLOW_HOME/milvus_toolkit/benchmarks`` or ``~/.local/share/milvus_toolkit/benchmarks``):

- ``runs/<run_id>.json``  every figure of the run: environment, parameters, per-cell
  summaries and every measurement with its per-call latencies (ms);
- ``runs/<run_id>.csv``   one row per cell (the summaries);
- ``runs/<run_id>.md``    the report (seeds-shaped tables, breakdown, regressions);
- ``runs/<run_id>.png``   sync vs async per operation and count;
- ``history.csv``         one row per cell per run, appended (all runs in one file);
- ``latest.md`` / ``latest.png``  copies of the newest report.

Each run is compared with the newest earlier run on the same server (same URI and database)
with the same embedding, dimension, ``top_k`` and ``search_rows``; a cell whose batch time
grew by more than ``regression_threshold`` (default 20%) is flagged.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from milvus_toolkit.paths import data_home

SCHEMA_VERSION = 1
HISTORY_FIELDS = [
    "run_id", "started_at", "milvus_uri", "milvus_server_version", "embedding", "dim", "key",
    "operation", "variant", "count", "mode", "layer", "concurrency", "consistency_level",
    "repeats", "seconds", "ops_per_s", "p50_ms", "p95_ms", "p99_ms",
]
CELL_FIELDS = [
    "key", "operation", "variant", "count", "mode", "layer", "concurrency", "consistency_level",
    "repeats", "calls", "seconds", "seconds_min", "seconds_max", "ops_per_s",
    "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms",
]
CONSISTENCY_ORDER = {"Strong": 0, "Session": 1, "Bounded": 2, "Eventually": 3}
OPERATION_ORDER = {"add": 0, "upsert": 1, "search": 2, "delete": 3}


def results_dir() -> Path:
    """``MILVUS_BENCHMARK_RESULTS``, else ``$LOCAL_HOME/benchmarks``, else ``benchmarks`` in
    ``milvus_toolkit.paths.data_home()``: from the environment, never beside the code."""
    explicit = os.environ.get("MILVUS_BENCHMARK_RESULTS")
    if explicit:
        return Path(explicit).expanduser()
    local_home = os.environ.get("LOCAL_HOME")
    if local_home:
        return Path(local_home).expanduser() / "benchmarks"
    return data_home() / "benchmarks"


# ---- statistics ---------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default), so p50 of an even-sized sample is the mean of the middle two."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of an empty sample")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    rank = (len(data) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summarize(measurements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per cell: the median batch time over repeats, throughput, and the
    per-call latency percentiles over every call of every repeat."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for m in measurements:
        by_key.setdefault(m["key"], []).append(m)
    cells = []
    for key, group in by_key.items():
        first = group[0]
        seconds = [m["seconds"] for m in group]
        latencies = [x for m in group for x in m["latencies_ms"]]
        median = statistics.median(seconds)
        cells.append(
            {
                "key": key,
                **{f: first[f] for f in ("operation", "variant", "count", "mode", "layer", "concurrency", "consistency_level")},
                "repeats": len(group),
                "calls": len(latencies),
                "seconds": round(median, 6),
                "seconds_min": round(min(seconds), 6),
                "seconds_max": round(max(seconds), 6),
                "seconds_all": [round(s, 6) for s in seconds],
                "ops_per_s": round(first["count"] / median, 2) if median > 0 else None,
                "p50_ms": round(percentile(latencies, 50), 3),
                "p95_ms": round(percentile(latencies, 95), 3),
                "p99_ms": round(percentile(latencies, 99), 3),
                "mean_ms": round(statistics.fmean(latencies), 3),
                "max_ms": round(max(latencies), 3),
            }
        )
    return cells


def build_record(run: Any) -> dict[str, Any]:
    """The JSON-able record of a ``BenchmarkRun`` (every figure plus the environment)."""
    measurements = [m.to_dict() for m in run.measurements]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "environment": run.environment,
        "params": run.params,
        "plan": run.plan,
        "cells": summarize(measurements),
        "measurements": measurements,
        "collections_created": len(run.collections_created),
        "collections_left": run.collections_left,
        "regressions": [],
        "compared_with": None,
    }


# ---- history and the regression check -------------------------------------------------------------


def comparable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same server and the same conditions the figures depend on."""
    ea, eb = a["environment"], b["environment"]
    pa, pb = a.get("params", {}), b.get("params", {})
    return (
        ea.get("milvus_uri") == eb.get("milvus_uri")
        and ea.get("milvus_database") == eb.get("milvus_database")
        and ea.get("embedding_model") == eb.get("embedding_model")
        and ea.get("dim") == eb.get("dim")
        and pa.get("top_k") == pb.get("top_k")
        and pa.get("search_rows") == pb.get("search_rows")
    )


def find_previous_run(folder: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The newest earlier run in ``folder`` that is comparable with ``record``."""
    runs = Path(folder) / "runs"
    if not runs.is_dir():
        return None
    for path in sorted(runs.glob("*.json"), reverse=True):
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if other.get("run_id") == record["run_id"] or other.get("started_at", "") >= record["started_at"]:
            continue
        if comparable(record, other):
            return other
    return None


def find_regressions(
    current: dict[str, Any], previous: dict[str, Any] | None, threshold: float = 0.2
) -> list[dict[str, Any]]:
    """Cells whose median batch time grew by more than ``threshold`` (0.2 = 20%) since
    ``previous``, slowest first. Only cells present in both runs are compared."""
    if not previous:
        return []
    before = {c["key"]: c for c in previous.get("cells", [])}
    flagged = []
    for cell in current.get("cells", []):
        old = before.get(cell["key"])
        if not old or not old.get("seconds"):
            continue
        ratio = cell["seconds"] / old["seconds"]
        if ratio > 1 + threshold:
            flagged.append(
                {
                    "key": cell["key"],
                    "previous_s": old["seconds"],
                    "current_s": cell["seconds"],
                    "ratio": round(ratio, 3),
                    "slower_pct": round((ratio - 1) * 100, 1),
                    "previous_run": previous["run_id"],
                }
            )
    return sorted(flagged, key=lambda r: -r["ratio"])


def record_path(record: dict[str, Any], folder: Path | str | None = None) -> Path:
    folder = Path(folder) if folder is not None else results_dir()
    return folder / "runs" / f"{record['run_id']}.json"


def save_record(record: dict[str, Any], folder: Path | str | None = None) -> Path:
    """Write the run's JSON record (every figure) as soon as it is measured."""
    path = record_path(record, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return path


def load_record(path: Path | str) -> dict[str, Any]:
    record = json.loads(Path(path).read_text())
    if record.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: not a benchmark record of schema version {SCHEMA_VERSION}")
    return record


def save_run(record: dict[str, Any], folder: Path | str | None = None) -> dict[str, str]:
    """Compare with the previous comparable run, then write the JSON, CSV, Markdown and PNG
    of this run and append it to ``history.csv``. Returns the paths written."""
    folder = Path(folder) if folder is not None else results_dir()
    runs = folder / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    previous = find_previous_run(folder, record)
    threshold = float(record.get("params", {}).get("regression_threshold", 0.2))
    record["compared_with"] = previous["run_id"] if previous else None
    record["regressions"] = find_regressions(record, previous, threshold)
    record["machine_busy_load"] = machine_was_busy(record)

    stem = runs / record["run_id"]
    paths = {
        "json": f"{stem}.json",
        "csv": f"{stem}.csv",
        "markdown": f"{stem}.md",
        "png": f"{stem}.png",
        "history": str(folder / "history.csv"),
    }
    save_record(record, folder)
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CELL_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(record["cells"])
    Path(paths["markdown"]).write_text(markdown_report(record))
    write_chart(record, paths["png"])
    append_history(record, Path(paths["history"]))
    shutil.copyfile(paths["markdown"], folder / "latest.md")
    shutil.copyfile(paths["png"], folder / "latest.png")
    return paths


def append_history(record: dict[str, Any], path: Path) -> None:
    env = record["environment"]
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        for cell in record["cells"]:
            writer.writerow(
                cell
                | {
                    "run_id": record["run_id"],
                    "started_at": record["started_at"],
                    "milvus_uri": env.get("milvus_uri"),
                    "milvus_server_version": env.get("milvus_server_version"),
                    "embedding": env.get("embedding_model"),
                    "dim": env.get("dim"),
                }
            )


# ---- tables -------------------------------------------------------------------------------------------


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


def _order(record: dict[str, Any]):
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
    for c in sorted(cells, key=_order(record)):
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


def _fmt(value: Any) -> str:
    """Numbers with enough digits to tell small figures apart (0.0042 s is not 0.00)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        size = abs(value)
        if size >= 100:
            return f"{value:.0f}"
        if size >= 1:
            return f"{value:.2f}"
        if size >= 0.01 or size == 0:
            return f"{value:.3f}"
        return f"{value:.4f}"
    return str(value)


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(v if isinstance(v, str) else _fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def seeds_table_markdown(record: dict[str, Any], layer: str = "langchain") -> str:
    rows = seeds_table(record, layer)
    conc = headline_concurrency([c for c in record["cells"] if c["layer"] == layer])
    head = f"async s ({'unbounded gather' if conc == 'all' else f'concurrency {conc}'})" if conc else "async s"
    return _md_table(
        ["operation", "count", head, "sync s", "speedup"],
        [[r["operation"], r["count"], r["async_s"], r["sync_s"], f"{r['speedup']}x" if r["speedup"] else "-"] for r in rows],
    )


def all_cells_markdown(record: dict[str, Any]) -> str:
    rows = [
        [
            row_label(c, c["consistency_level"]), c["count"], c["consistency_level"], c["layer"], c["mode"],
            c["concurrency"] if c["mode"] == "async" else "-", c["seconds"], c["ops_per_s"],
            c["p50_ms"], c["p95_ms"], c["p99_ms"],
        ]
        for c in sorted(record["cells"], key=_order(record))
    ]
    return _md_table(
        ["operation", "count", "consistency", "layer", "mode", "concurrency", "seconds", "ops/s", "p50 ms", "p95 ms", "p99 ms"],
        rows,
    )


def breakdown(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Where the time goes: per-call medians (p50) of sync loops, split by layer, by
    consistency level and by delete filter; and the concurrency sweep."""
    cells = record["cells"]
    sync = {(c["operation"], c["variant"], c["count"], c["layer"], c["consistency_level"]): c for c in cells if c["mode"] == "sync"}
    layers = []
    for (op, variant, count, layer, level), c in sorted(sync.items(), key=lambda kv: _order(record)(kv[1])):
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
    for c in sorted(searches, key=_order(record)):
        consistency.append(
            {"layer": c["layer"], "count": c["count"], "consistency": c["consistency_level"],
             "p50_ms": c["p50_ms"], "p99_ms": c["p99_ms"], "seconds": c["seconds"]}
        )
    sweep = []
    groups: dict[tuple, dict[str, Any]] = {}
    for c in sorted(cells, key=_order(record)):
        g = groups.setdefault(
            (row_label(c, None), c["count"], c["layer"]), {"operation": row_label(c, None), "count": c["count"], "layer": c["layer"]}
        )
        g["sync" if c["mode"] == "sync" else f"async {c['concurrency']}"] = c["seconds"]
    sweep = list(groups.values())
    return {"layers": layers, "consistency": consistency, "concurrency": sweep}


def machine_was_busy(record: dict[str, Any]) -> float | None:
    """The highest 1-minute load average seen at start or end when it exceeds 75% of the
    cores: other processes then shared the CPU with the client and the server."""
    env = record.get("environment", {})
    cores = env.get("cpu_cores_usable") or env.get("cpu_cores") or 1
    loads = [la[0] for la in (env.get("load_average_start"), env.get("load_average_end")) if la]
    peak = max(loads, default=0.0)
    return peak if peak > 0.75 * cores else None


def busy_warning(record: dict[str, Any]) -> list[str]:
    peak = machine_was_busy(record)
    if peak is None:
        return []
    env = record["environment"]
    return [
        f"**Warning:** the machine was busy (1-minute load average up to {peak} on "
        f"{env.get('cpu_cores_usable') or env.get('cpu_cores')} cores): other processes shared the CPU "
        f"with the client and the server, so these figures are noisy and slower cells may not be regressions.",
        "",
    ]


def markdown_report(record: dict[str, Any]) -> str:
    env, params = record["environment"], record["params"]
    baseline = (params.get("consistency_levels") or ["Session"])[0]
    clients = ", ".join(f"{k} {v}" for k, v in env.get("clients", {}).items() if v)
    out = [
        f"# Milvus benchmark {record['run_id']}",
        "",
        f"- Milvus {env.get('milvus_server_version')} at {env.get('milvus_uri')} (database {env.get('milvus_database')})",
        f"- clients: {clients}; Python {env.get('python')}",
        f"- machine: {env.get('cpu_cores')} cores ({env.get('cpu_cores_usable')} usable), {env.get('platform')}; "
        f"load average at start {env.get('load_average_start')}, at end {env.get('load_average_end')}",
        f"- embedding: {env.get('embedding')} ({env.get('embedding_model')}, {env.get('dim')} dims); "
        f"index HNSW/COSINE; top_k {params.get('top_k')}; search over {params.get('search_rows')} rows",
        f"- consistency: writes at {baseline}; searches at {', '.join(params.get('consistency_levels', []))}",
        f"- counts {params.get('counts')}, repeats {params.get('repeats')} (seconds are the median over repeats); "
        f"{record['plan'].get('cells')} cells in {env.get('duration_s')} s; "
        f"{record.get('collections_created')} fresh collections, all dropped"
        + (f" except {record['collections_left']}" if record.get("collections_left") else ""),
        "",
        *busy_warning(record),
        "## langchain-milvus: async vs sync (the seeds' scenario)",
        "",
        seeds_table_markdown(record, "langchain"),
        "",
    ]
    if any(c["layer"] == "raw" for c in record["cells"]):
        out += ["## Raw pymilvus client (the floor)", "", seeds_table_markdown(record, "raw"), ""]
    parts = breakdown(record)
    out += ["## Where the time goes", "", "Sync loops, median time per call (p50):", ""]
    if parts["layers"]:
        out += [
            _md_table(
                ["operation", "count", "consistency", "langchain p50 ms", "raw p50 ms", "langchain overhead ms"],
                [[r["operation"], r["count"], r["consistency"], r["langchain_p50_ms"], r["raw_p50_ms"], r["langchain_overhead_ms"]]
                 for r in parts["layers"]],
            ),
            "",
        ]
    if parts["consistency"]:
        out += [
            "Searches by consistency level (sync loop):",
            "",
            _md_table(
                ["layer", "count", "consistency", "p50 ms", "p99 ms", "seconds"],
                [[r["layer"], r["count"], r["consistency"], r["p50_ms"], r["p99_ms"], r["seconds"]] for r in parts["consistency"]],
            ),
            "",
        ]
    sweep = parts["concurrency"]
    if sweep:
        cols = []
        for row in sweep:
            cols += [k for k in row if k not in ("operation", "count", "layer") and k not in cols]
        cols.sort(key=lambda k: (k != "sync", math.inf if k.endswith(" all") else int(k.split()[-1]) if k != "sync" else 0))
        out += [
            "Concurrency sweep (seconds for the whole batch):",
            "",
            _md_table(["operation", "count", "layer", *[f"{k} s" for k in cols]],
                      [[r["operation"], r["count"], r["layer"], *[r.get(k) for k in cols]] for r in sweep]),
            "",
        ]
    out += ["## Every cell", "", all_cells_markdown(record), ""]
    if record["plan"].get("skipped"):
        out += ["Not measured (wait-bound; see `wait_cells_max_count`):", ""]
        out += [
            f"- {s['operation']}{' by ' + s['variant'] if s['variant'] else ''} at {s['consistency_level']}, count {s['count']}"
            for s in record["plan"]["skipped"]
        ]
        out += [""]
    out += ["## Compared with the previous run", ""]
    if not record.get("compared_with"):
        out += ["No earlier comparable run (same server, embedding, dim) in the results folder.", ""]
    elif not record.get("regressions"):
        out += [f"Compared with {record['compared_with']}: no cell is more than "
                f"{params.get('regression_threshold', 0.2) * 100:.0f}% slower.", ""]
    else:
        out += [
            f"Compared with {record['compared_with']}: {len(record['regressions'])} cell(s) more than "
            f"{params.get('regression_threshold', 0.2) * 100:.0f}% slower:",
            "",
            _md_table(
                ["cell", "previous s", "now s", "slower"],
                [[r["key"], r["previous_s"], r["current_s"], f"+{r['slower_pct']}%"] for r in record["regressions"]],
            ),
            "",
        ]
    return "\n".join(out)


# ---- chart -------------------------------------------------------------------------------------------


def write_chart(record: dict[str, Any], path: str | Path) -> None:
    """Sync vs async seconds per operation and count (log-log), one panel per operation;
    solid lines langchain-milvus, dashed the raw client."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    baseline = (record["params"].get("consistency_levels") or ["Session"])[0]
    cells = record["cells"]
    labels = sorted({row_label(c, baseline) for c in cells}, key=lambda lb: _order(record)(next(c for c in cells if row_label(c, baseline) == lb)))
    ncols = 2 if len(labels) > 1 else 1
    nrows = math.ceil(len(labels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.6 * nrows), squeeze=False)
    conc = {layer: headline_concurrency([c for c in cells if c["layer"] == layer]) for layer in ("langchain", "raw")}
    styles = {"langchain": "-", "raw": "--"}
    markers = {"langchain": "o", "raw": "s"}
    colors = {"sync": "tab:blue", "async": "tab:orange"}
    for ax, label in zip(axes.flat, labels, strict=False):
        for layer in ("langchain", "raw"):
            for mode in ("sync", "async"):
                want = "1" if mode == "sync" else conc[layer]
                pts = sorted(
                    (c["count"], c["seconds"]) for c in cells
                    if row_label(c, baseline) == label and c["layer"] == layer and c["mode"] == mode and c["concurrency"] == want
                )
                if pts:
                    name = f"{layer} {mode}" + (f" ({want})" if mode == "async" else "")
                    ax.plot(*zip(*pts, strict=True), styles[layer], marker=markers[layer], color=colors[mode], label=name)
        ax.set_title(label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        counts = sorted({c["count"] for c in cells if row_label(c, baseline) == label})
        ax.set_xticks(counts)
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("operations")
        ax.set_ylabel("seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(labels):]:
        ax.set_visible(False)
    env = record["environment"]
    fig.suptitle(
        f"Milvus {env.get('milvus_server_version')}: sync vs async, {env.get('embedding_model')} {env.get('dim')}d "
        f"({record['run_id']})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
