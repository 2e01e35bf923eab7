"""The ingest benchmark's verdict: ratios between the approaches, the targets (b/a >= 0.8,
b/c >= 10, memory per write task flat in corpus size) and the table printed at the end."""

from __future__ import annotations

import os


def compare(result: dict) -> None:
    """Add the ratios and the targets to ``result`` (which holds a, b, c and maybe a2, b_small)."""
    result["ratios"] = {
        "b_over_a": round(result["b"]["chunks_per_s"] / result["a"]["chunks_per_s"], 3),
        "b_over_c": round(result["b"]["chunks_per_s"] / result["c"]["chunks_per_s"], 2),
        "a_over_c": round(result["a"]["chunks_per_s"] / result["c"]["chunks_per_s"], 2),
    }
    if "a2" in result:
        result["ratios"]["b_over_a2"] = round(result["b"]["chunks_per_s"] / result["a2"]["chunks_per_s"], 3)
    result["targets"] = {
        "b_over_a_ge_0.8": result["ratios"]["b_over_a"] >= 0.8,
        "b_over_c_ge_10": result["ratios"]["b_over_c"] >= 10,
    }
    if "b_small" in result:
        grow = result["b"]["peak_rss_mb_per_write_task"]["max"] - result["b_small"]["peak_rss_mb_per_write_task"]["max"]
        result["targets"]["peak_rss_growth_mb"] = round(grow, 1)


def verdict(value: float, target: float) -> str:
    return f"{'MET' if value >= target else 'NOT MET'} (target >= {target:g})"


def table(result: dict) -> str:
    a, b, c, small = result["a"], result["b"], result["c"], result.get("b_small")
    s = result["settings"]
    lines = [
        "",
        f"Ingest benchmark {result['timestamp']}  (SHARED machine: {os.cpu_count()} cores; other sessions may run "
        f"tests at the same time; load avg at start {result['load_avg_start']})",
        f"Milvus {result['milvus']['server_version']} at {result['milvus']['uri']}; corpus {result['corpus']['files']} "
        f"Markdown files, {result['corpus']['bytes'] / 1e6:.0f} MB, seed {s['seed']}; chunk_size {s['chunk_size']} / "
        f"overlap {s['chunk_overlap']}; deterministic embeddings, {s['dim']} dims",
        "",
        f"{'run':<76}{'chunks':>9}{'seconds':>10}{'chunks/s':>11}",
        "-" * 106,
    ]

    def row(label: str, chunks, seconds, rate) -> None:
        lines.append(f"{label:<76}{chunks:>9}{seconds:>10.1f}{rate:>11.0f}")

    row(
        f"(a) ceiling: read+split+hash+embed + MilvusClient.insert x{s['insert_batch']}",
        a["chunks"],
        a["seconds"],
        a["chunks_per_s"],
    )
    row("    Milvus-only insert rate of (a) (insert calls alone)", a["chunks"], a["insert_s"], a["insert_rows_per_s"])
    if "a2" in result:
        a2 = result["a2"]
        row(
            f"(a2) same work, AsyncMilvusClient.insert x{s['insert_batch']}, {a2['in_flight']} in flight (reference)",
            a2["chunks"],
            a2["seconds"],
            a2["chunks_per_s"],
        )
    row(
        f"(b) airflow dags test milvus_ingest, batch_size {s['batch_size']}, concurrency {s['concurrency']}, "
        f"{s['mode']}",
        b["chunks"],
        b["seconds"],
        b["chunks_per_s"],
    )
    if small:
        row("    (b) on the smaller corpus (same settings)", small["chunks"], small["seconds"], small["chunks_per_s"])
    row(
        f"(c) seeds: aadd_documents([chunk]) x{c['chunks']}, all gathered", c["chunks"], c["seconds"], c["chunks_per_s"]
    )
    if c["failed_calls"]:
        lines.append(
            f"    (c): {c['failed_calls']} of {c['calls']} calls FAILED ({'; '.join(c['first_errors'])[:160]}); "
            f"rows in Milvus {c['rows_counted']}; chunks/s counts successful calls only"
        )
    lines += [
        "-" * 106,
        f"b/a = {result['ratios']['b_over_a']:.3f}   {verdict(result['ratios']['b_over_a'], 0.8)}",
        f"b/c = {result['ratios']['b_over_c']:.1f}   {verdict(result['ratios']['b_over_c'], 10)}"
        f"   (a/c = {result['ratios']['a_over_c']:.1f}: the ceiling bounds what b/c can reach)",
    ]
    if "b_over_a2" in result["ratios"]:
        lines.append(f"b/a2 = {result['ratios']['b_over_a2']:.3f}   (against the async ceiling; no target)")
    for label, run in (("full", b), ("small", small)):
        if not run:
            continue
        rss = run["peak_rss_mb_per_write_task"]
        lines.append(
            f"peak RSS per write task ({label}, {run['chunks']} chunks, {run['write_tasks']} tasks): "
            f"min {rss['min']:.0f} / median {rss['median']:.0f} / max {rss['max']:.0f} MB "
            f"(process tree peak {run['process_tree_peak_rss_mb']:.0f} MB); "
            f"XCom {run['xcom_bytes']} bytes in {run['xcom_rows']} rows"
        )
    if small:
        grow = b["peak_rss_mb_per_write_task"]["max"] - small["peak_rss_mb_per_write_task"]["max"]
        lines.append(
            f"memory growth with corpus x{b['chunks'] / small['chunks']:.1f}: {grow:+.0f} MB peak RSS per write task"
        )
    lines += [
        "",
        "CPU seconds during each phase (client = benchmark/airflow process, milvus = server, others = "
        "everything else on the shared machine):",
    ]
    for key, label in (("a", "(a)"), ("a2", "(a2)"), ("b", "(b)"), ("c", "(c)"), ("b_small", "(b) small")):
        run = result.get(key)
        if run and "cpu_during_phase" in run:
            m = run["cpu_during_phase"]
            lines.append(
                f"    {label:<10} wall {m['wall_s']:>6.1f} s  client {m['client_cpu_s']:>6.1f}  milvus "
                f"{m['milvus_cpu_s']}  others {m['others_cpu_s']}  machine busy {m['machine_busy_pct']:.0f} %  "
                f"(waited {run['settle_before']['waited_s']} s for an idle server)"
            )
    lines += ["", "(b) where the time goes (task_instance durations, summed over mapped tasks):"]
    for task_id, t in sorted(b["tasks"].items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(f"    {task_id:<20}{t['count']:>5} x  {t['seconds']:>8.1f} s  (longest {t['max_s']:.1f} s)")
    lines.append(
        f"    {'outside tasks':<20}{'':>5}    {b['outside_tasks_s']:>8.1f} s  (process start, DAG parse, scheduling)"
    )
    lines.append(
        f"    split in-task {b['split_seconds']} s; write tasks in-task {b['write_task_seconds']['sum']} s "
        f"({b['write_in_task_chunks_per_s']:.0f} chunks/s inside the tasks)"
    )
    lines.append(
        f"(a) breakdown: read+split+hash {a['read_split_hash_s']} s, embed {a['embed_s']} s, build rows "
        f"{a['build_rows_s']} s, insert {a['insert_s']} s"
    )
    return "\n".join(lines)
