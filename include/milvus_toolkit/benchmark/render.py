"""The Markdown report of a benchmark run: the seeds-shaped tables per layer, the tutorials'
figures beside ours, why each large sync/async gap happens, the search metrics
(VectorDBBench's qps, serial_latency_p99, recall, the concurrency sweep, load_duration; dense
vs BM25 vs hybrid where the server supports it), where the time goes, every cell, what was
not measured and the comparison with the previous run."""

from __future__ import annotations

import math
from typing import Any

from milvus_toolkit.benchmark.stats import machine_was_busy
from milvus_toolkit.benchmark.tables import (
    LARGE_GAP,
    LAYER_ORDER,
    LAYER_TITLES,
    breakdown,
    cell_order,
    gap_explanations,
    headline_concurrency,
    row_label,
    seeds_table,
    sweep_rows,
    tutorial_table,
)
from milvus_toolkit.benchmark.tutorials import TUTORIALS


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
        [
            [r["operation"], r["count"], r["async_s"], r["sync_s"], f"{r['speedup']}x" if r["speedup"] else "-"]
            for r in rows
        ],
    )


def all_cells_markdown(record: dict[str, Any]) -> str:
    rows = [
        [
            row_label(c, c["consistency_level"]),
            c["count"],
            c["consistency_level"],
            c["layer"],
            c["mode"],
            c["concurrency"] if c["mode"] == "async" else "-",
            c["seconds"],
            c["ops_per_s"],
            c["p50_ms"],
            c["p95_ms"],
            c["p99_ms"],
            c.get("recall"),
        ]
        for c in sorted(record["cells"], key=cell_order(record))
    ]
    return _md_table(
        [
            "operation",
            "count",
            "consistency",
            "layer",
            "mode",
            "concurrency",
            "seconds",
            "ops/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "recall",
        ],
        rows,
    )


def tutorials_markdown(record: dict[str, Any]) -> list[str]:
    """The tutorials' published rows, each beside this run's cell of the same layer,
    operation and count."""
    out: list[str] = []
    for name, tut in TUTORIALS.items():
        rows = tutorial_table(record, name)
        out += [
            f"### {tut['title']}",
            "",
            f"Theirs: {tut['embedding']}, consistency {tut['consistency_level']}, their machine and network "
            f"({tut['url']}). Here: the {LAYER_TITLES[tut['layer']]} layer on this run's server.",
            "",
            _md_table(
                [
                    "operation",
                    "count",
                    "tutorial async s",
                    "tutorial sync s",
                    "tutorial speedup",
                    "here async s",
                    "here sync s",
                    "here speedup",
                    "here at",
                    "note",
                ],
                [
                    [
                        r["operation"],
                        r["count"],
                        r["tutorial_async_s"],
                        r["tutorial_sync_s"],
                        f"{r['tutorial_speedup']}x",
                        r["async_s"],
                        r["sync_s"],
                        f"{r['speedup']}x" if r["speedup"] else "-",
                        r["consistency"],
                        r["note"] or "",
                    ]
                    for r in rows
                ],
            ),
            "",
        ]
    return out


def gaps_markdown(record: dict[str, Any]) -> list[str]:
    gaps = gap_explanations(record)
    if not gaps:
        return [f"No sync/async gap of {LARGE_GAP:g}x or more, here or in the tutorials' rows shown.", ""]
    return [f"- **{g['who']}: {g['operation']} x{g['count']}, {g['speedup']}x**: {g['why']}" for g in gaps] + [""]


def search_metrics_markdown(record: dict[str, Any]) -> list[str]:
    """VectorDBBench's figures per layer, the sweep, the load, and dense vs BM25 vs hybrid."""
    sm = record.get("search_metrics")
    if not sm:
        return ["Not measured in this run (it needs the operation search and at least one sweep level).", ""]
    load = sm["load"]
    data = sm.get("data") or {"kind": "random", "label": "random vectors (stress case)"}
    out = [
        f"Data: **{data['label']}**"
        + (
            f"; {data.get('rows_per_source')} rows per source, queries {data.get('query_kinds')} (none is a row)"
            if data["kind"] == "text"
            else ": vectors without structure, a worst case for a graph index, not what real embeddings do"
        )
        + ".",
        "",
        f"{sm['rows']} rows of {sm['dim']} dims per layer, each collection built like the load below (rows in, then "
        f"flush, HNSW/COSINE index, load; ef {((sm.get('index') or {}).get('search') or {}).get('ef', 64)}), "
        f"top_k {sm['top_k']}, consistency "
        f"{sm['consistency_level']}; recall against numpy's exact neighbours of {sm['queries']} queries; "
        f"sweep: {sm['sweep_concurrency']} clients x {sm['sweep_seconds']:g} s per level "
        f"(sync: threads sharing one client or store; async: coroutines sharing one, made inside the loop). "
        f"Latencies in ms.",
        "",
        "Load until searchable (raw pymilvus; VectorDBBench's `load_duration` = `insert_duration` + "
        f"`optimize_duration`): insert {_fmt(load['insert_duration'])} s ({_fmt(load['insert_rows_per_s'])} rows/s), "
        f"flush {_fmt(load['flush_s'])} s, index {_fmt(load['index_s'])} s, load {_fmt(load['load_s'])} s, "
        f"first Strong search {_fmt(load['first_search_s'])} s: "
        f"**load_duration {_fmt(load['load_duration'])} s**.",
        "",
        _md_table(
            ["layer", "qps (best level)", "at", "serial_latency_p99 ms", "serial p50 ms", "recall", "ndcg"],
            [
                [
                    lay,
                    m["qps"],
                    f"{m['qps_at']['mode']} x{m['qps_at']['concurrency']}" if m.get("qps_at") else "-",
                    m["serial_latency_p99"],
                    m["serial"]["serial_latency_p50"],
                    m["recall"],
                    m["ndcg"],
                ]
                for lay, m in sorted(sm["layers"].items(), key=lambda kv: LAYER_ORDER.get(kv[0], 9))
            ],
        ),
        "",
        "Concurrency sweep:",
        "",
        _md_table(
            ["layer", "mode", "clients", "qps", "p50", "p95", "p99", "avg", "failed rate", "requests"],
            [
                [
                    r["layer"],
                    r["mode"],
                    r["concurrency"],
                    r["qps"],
                    r["latency_p50_ms"],
                    r["latency_p95_ms"],
                    r["latency_p99_ms"],
                    r["latency_avg_ms"],
                    f"{r['failed_rate'] * 100:.2f}%",
                    r["requests"],
                ]
                for r in sweep_rows(record)
            ],
        ),
        "",
    ]
    errors = [r for r in sweep_rows(record) if r.get("first_error")]
    out += [f"- {r['layer']} {r['mode']} x{r['concurrency']}: first failure: {r['first_error']}" for r in errors]
    if errors:
        out += [""]
    hy = sm.get("hybrid") or {}
    out += ["### Dense, BM25 and hybrid search", ""]
    if not hy.get("measured"):
        out += [f"Not measured: {hy.get('reason', 'not asked for')}.", ""]
        return out
    rows = []
    for kind, k in hy["kinds"].items():
        ser = k["serial"]
        rows.append(
            [
                kind,
                ser["serial_latency_p50"],
                ser["serial_latency_p99"],
                (k.get("sync") or {}).get("qps"),
                (k.get("async") or {}).get("qps"),
                (k.get("async") or {}).get("latency_p99_ms"),
                _hybrid_check(ser),
            ]
        )
    out += [
        f"One collection: the dense HNSW field, and the text analyzed into a BM25 function's sparse field "
        f"(SPARSE_INVERTED_INDEX, metric BM25); hybrid = both requests ranked by RRF (k={hy['rrf_k']}). "
        f"Sweep columns: {hy['sweep_concurrency']} clients.",
        "",
        _md_table(["search", "serial p50 ms", "serial p99 ms", "sync qps", "async qps", "async p99 ms", "check"], rows),
        "",
    ]
    return out


def _hybrid_check(ser: dict[str, Any]) -> str:
    if ser.get("recall") is not None:
        return f"recall {_fmt(ser['recall'])}"
    if ser.get("dense_top_k_shared") is not None:
        return f"shares {_fmt(ser['dense_top_k_shared'])} of the exact dense top k"
    return f"own doc first {ser.get('own_document_first')}, in top k {ser.get('own_document_in_top_k')}"


def ef_curve_markdown(record: dict[str, Any]) -> list[str]:
    """Recall@k, nDCG@k and one client's QPS at each HNSW ``ef``, per layer, the chart, and the
    smallest ``ef`` that reached 0.95 and 0.99 recall."""
    from milvus_toolkit.benchmark.ef_sweep import smallest_ef_reaching

    sm = record.get("search_metrics") or {}
    sweep = sm.get("ef_sweep") or {}
    curves = {layer: pts for layer, pts in (sweep.get("layers") or {}).items() if pts}
    if not curves:
        return ["Not measured in this run (`ef_values` is empty, or no search metrics).", ""]
    data = sm.get("data") or {}
    out = [
        f"One client searches the {sm['queries']} queries at each `ef` (top_k {sweep['top_k']}; "
        f"recall and nDCG over one pass against numpy's exact top k, QPS over at least "
        f"{sweep['seconds_per_point']:g} s), on {data.get('label', 'the search collection')}. "
        "Up and to the right is better; pick the smallest `ef` whose recall is enough.",
        "",
    ]
    if sweep.get("note"):
        out += [f"**Note:** {sweep['note']}.", ""]
    rows = []
    for layer, pts in sorted(curves.items(), key=lambda kv: LAYER_ORDER.get(kv[0], 9)):
        for p in pts:
            rows.append(
                [
                    layer,
                    p["ef"],
                    p["recall"],
                    p["ndcg"],
                    p["qps"],
                    p["latency_p50_ms"],
                    p["latency_p99_ms"],
                    p["searches"],
                ]
            )
    out += [_md_table(["layer", "ef", "recall", "ndcg", "qps", "p50 ms", "p99 ms", "searches"], rows), ""]
    for layer, pts in sorted(curves.items(), key=lambda kv: LAYER_ORDER.get(kv[0], 9)):
        reach = {goal: smallest_ef_reaching(pts, goal) for goal in (0.95, 0.99)}
        out.append(
            f"- {layer}: recall >= 0.95 from ef {reach[0.95] or '(not reached)'}, "
            f">= 0.99 from ef {reach[0.99] or '(not reached)'}"
        )
    out += ["", f"![recall vs QPS over ef]({record['run_id']}.ef.png)", ""]
    return out


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
    caps = env.get("milvus_capabilities") or {}
    supports = ", ".join(
        k for k in ("bm25", "hybrid_search", "partition_key", "aliases", "authentication") if caps.get(k)
    )
    out = [
        f"# Milvus benchmark {record['run_id']}",
        "",
        f"- Milvus **{env.get('milvus_server_version')}** at {env.get('milvus_uri')} "
        f"(database {env.get('milvus_database')})"
        + (
            f"; {caps.get('flavor')}, Milvus {caps.get('milvus_api')} API, "
            f"supports: {supports or 'none of the optional features'}"
            if caps
            else ""
        ),
        f"- clients: {clients}; Python {env.get('python')}",
        f"- machine: {env.get('cpu_cores')} cores ({env.get('cpu_cores_usable')} usable), {env.get('platform')}; "
        f"load average at start {env.get('load_average_start')}, at end {env.get('load_average_end')}",
        f"- cells: embedding {env.get('embedding')} ({env.get('embedding_model')}, {env.get('dim')} dims); "
        f"index HNSW/COSINE; top_k {params.get('top_k')}; search cells over {params.get('search_rows')} rows",
        *(
            [
                f"- search metrics: {sm_data['label']}, {sm_data['rows']} rows x {sm_data['dim']} dims, "
                f"{sm_data['queries']} queries"
            ]
            if (sm_data := (record.get("search_metrics") or {}).get("data"))
            else []
        ),
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
    if any(c["layer"] == "llamaindex" for c in record["cells"]):
        out += [
            "## LlamaIndex MilvusVectorStore: async vs sync (the LlamaIndex tutorial's calls)",
            "",
            seeds_table_markdown(record, "llamaindex"),
            "",
        ]
    if any(c["layer"] == "raw" for c in record["cells"]):
        out += ["## Raw pymilvus client (the floor)", "", seeds_table_markdown(record, "raw"), ""]
    out += ["## The tutorials' figures beside this run", "", *tutorials_markdown(record)]
    out += [f"## Why the large sync/async gaps ({LARGE_GAP:g}x or more)", "", *gaps_markdown(record)]
    out += ["## Search metrics (VectorDBBench's fields)", "", *search_metrics_markdown(record)]
    if record.get("search_metrics"):
        out += ["## Recall vs QPS over HNSW ef (ann-benchmarks style)", "", *ef_curve_markdown(record)]
    parts = breakdown(record)
    out += ["## Where the time goes", "", "Sync loops, median time per call (p50):", ""]
    if parts["layers"]:
        out += [
            _md_table(
                [
                    "operation",
                    "count",
                    "consistency",
                    "raw p50 ms",
                    "langchain p50 ms",
                    "langchain overhead ms",
                    "llamaindex p50 ms",
                    "llamaindex overhead ms",
                ],
                [
                    [
                        r["operation"],
                        r["count"],
                        r["consistency"],
                        r["raw_p50_ms"],
                        r["langchain_p50_ms"],
                        r["langchain_overhead_ms"],
                        r["llamaindex_p50_ms"],
                        r["llamaindex_overhead_ms"],
                    ]
                    for r in parts["layers"]
                ],
            ),
            "",
        ]
    if parts["consistency"]:
        out += [
            "Searches by consistency level (sync loop):",
            "",
            _md_table(
                ["layer", "count", "consistency", "p50 ms", "p99 ms", "seconds"],
                [
                    [r["layer"], r["count"], r["consistency"], r["p50_ms"], r["p99_ms"], r["seconds"]]
                    for r in parts["consistency"]
                ],
            ),
            "",
        ]
    sweep = parts["concurrency"]
    if sweep:
        cols = []
        for row in sweep:
            cols += [k for k in row if k not in ("operation", "count", "layer") and k not in cols]
        cols.sort(
            key=lambda k: (k != "sync", math.inf if k.endswith(" all") else int(k.split()[-1]) if k != "sync" else 0)
        )
        out += [
            "Async concurrency levels of the cells (seconds for the whole batch):",
            "",
            _md_table(
                ["operation", "count", "layer", *[f"{k} s" for k in cols]],
                [[r["operation"], r["count"], r["layer"], *[r.get(k) for k in cols]] for r in sweep],
            ),
            "",
        ]
    out += ["## Every cell", "", all_cells_markdown(record), ""]
    if record["plan"].get("skipped"):
        out += ["Not measured (wait-bound; see `wait_cells_max_count`):", ""]
        out += [
            f"- {s['operation']}{' by ' + s['variant'] if s['variant'] else ''} at {s['consistency_level']}, "
            f"count {s['count']}" + (f" ({', '.join(s['layers'])})" if s.get("layers") else "")
            for s in record["plan"]["skipped"]
        ]
        out += [""]
    out += ["## Compared with the previous run", ""]
    if not record.get("compared_with"):
        out += ["No earlier comparable run (same server, embedding, dim) in the results folder.", ""]
    elif not record.get("regressions"):
        out += [
            f"Compared with {record['compared_with']}: no cell is more than "
            f"{params.get('regression_threshold', 0.2) * 100:.0f}% slower.",
            "",
        ]
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
