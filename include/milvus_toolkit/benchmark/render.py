"""The Markdown report of a benchmark run: the seeds-shaped tables, where the time goes,
every cell, what was not measured and the comparison with the previous run."""

from __future__ import annotations

import math
from typing import Any

from milvus_toolkit.benchmark.stats import machine_was_busy
from milvus_toolkit.benchmark.tables import breakdown, cell_order, headline_concurrency, row_label, seeds_table


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
        for c in sorted(record["cells"], key=cell_order(record))
    ]
    return _md_table(
        ["operation", "count", "consistency", "layer", "mode", "concurrency", "seconds", "ops/s", "p50 ms", "p95 ms", "p99 ms"],
        rows,
    )


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

