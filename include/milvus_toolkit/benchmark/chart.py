"""The PNG charts of a benchmark run: sync vs async seconds per operation and count; the
search sweep: QPS and p99 latency against concurrency, sync vs async, per layer; and recall
against QPS over HNSW ``ef``, per layer (ann-benchmarks' plot)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from milvus_toolkit.benchmark.tables import cell_order, headline_concurrency, row_label, sweep_rows

LAYERS = ("langchain", "llamaindex", "raw")


def write_chart(record: dict[str, Any], path: str | Path) -> None:
    """Sync vs async seconds per operation and count (log-log), one panel per operation;
    solid lines langchain-milvus, dotted LlamaIndex, dashed the raw client."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    baseline = (record["params"].get("consistency_levels") or ["Session"])[0]
    cells = record["cells"]
    labels = sorted(
        {row_label(c, baseline) for c in cells},
        key=lambda lb: cell_order(record)(next(c for c in cells if row_label(c, baseline) == lb)),
    )
    ncols = 2 if len(labels) > 1 else 1
    nrows = math.ceil(len(labels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.6 * nrows), squeeze=False)
    conc = {layer: headline_concurrency([c for c in cells if c["layer"] == layer]) for layer in LAYERS}
    styles = {"langchain": "-", "llamaindex": ":", "raw": "--"}
    markers = {"langchain": "o", "llamaindex": "^", "raw": "s"}
    colors = {"sync": "tab:blue", "async": "tab:orange"}
    for ax, label in zip(axes.flat, labels, strict=False):
        for layer in LAYERS:
            for mode in ("sync", "async"):
                want = "1" if mode == "sync" else conc[layer]
                pts = sorted(
                    (c["count"], c["seconds"])
                    for c in cells
                    if row_label(c, baseline) == label
                    and c["layer"] == layer
                    and c["mode"] == mode
                    and c["concurrency"] == want
                )
                if pts:
                    name = f"{layer} {mode}" + (f" ({want})" if mode == "async" else "")
                    ax.plot(
                        *zip(*pts, strict=True), styles[layer], marker=markers[layer], color=colors[mode], label=name
                    )
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
    for ax in list(axes.flat)[len(labels) :]:
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


def write_sweep_chart(record: dict[str, Any], path: str | Path) -> bool:
    """QPS (left) and p99 latency (right) against the number of concurrent clients, one line
    per layer and mode (solid sync threads, dashed async coroutines). Returns ``False``
    (and writes nothing) when the run has no sweep."""
    rows = sweep_rows(record)
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    colors = {"langchain": "tab:blue", "llamaindex": "tab:green", "raw": "tab:red"}
    styles = {"sync": "-", "async": "--"}
    markers = {"sync": "o", "async": "s"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    levels = sorted({r["concurrency"] for r in rows})
    for layer in sorted({r["layer"] for r in rows}, key=lambda lay: LAYERS.index(lay) if lay in LAYERS else 9):
        for mode in ("sync", "async"):
            pts = sorted(
                (r["concurrency"], r["qps"], r["latency_p99_ms"])
                for r in rows
                if r["layer"] == layer and r["mode"] == mode
            )
            if not pts:
                continue
            xs = [p[0] for p in pts]
            style = dict(
                linestyle=styles[mode],
                marker=markers[mode],
                color=colors.get(layer, "tab:gray"),
                label=f"{layer} {mode}",
            )
            left.plot(xs, [p[1] for p in pts], **style)
            lat = [(x, p99) for x, _, p99 in pts if p99 is not None]
            if lat:
                right.plot([x for x, _ in lat], [y for _, y in lat], **style)
    for ax, title, ylabel in ((left, "QPS (successful searches/s)", "qps"), (right, "p99 latency", "ms")):
        ax.set_xscale("log")
        ax.set_xticks(levels)
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    left.set_ylim(bottom=0)
    right.set_yscale("log")
    right.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    right.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    right.yaxis.set_minor_formatter(NullFormatter())
    sm, env = record["search_metrics"], record["environment"]
    fig.suptitle(
        f"Milvus {env.get('milvus_server_version')}: search sweep, {sm['rows']} rows x {sm['dim']}d, "
        f"top_k {sm['top_k']}, "
        f"{sm['sweep_seconds']:g} s per level, {sm['consistency_level']} ({record['run_id']})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def ef_curves(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The record's recall-vs-QPS curves by layer (empty when the run measured none)."""
    sweep = (record.get("search_metrics") or {}).get("ef_sweep") or {}
    return {layer: points for layer, points in (sweep.get("layers") or {}).items() if points}


def write_curves_chart(series: dict[str, list[dict[str, Any]]], path: str | Path, title: str) -> bool:
    """ann-benchmarks' plot: recall@k (x) against queries per second (y, log), one line per
    series (a layer, or "server / layer"), each point labelled with its ``ef``; up and to the
    right is better. Returns ``False`` (and writes nothing) without points."""
    series = {name: points for name, points in series.items() if points}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    colors = {"langchain": "tab:blue", "llamaindex": "tab:green", "raw": "tab:red"}
    markers = ["o", "s", "^", "D", "v", "P"]
    styles = ["-", "--", ":", "-."]
    servers = list(dict.fromkeys(name.rpartition(" / ")[0] for name in series))
    fig, ax = plt.subplots(figsize=(8, 5))
    for n, (name, points) in enumerate(series.items()):
        server, _, layer = name.rpartition(" / ")
        pts = sorted(((p["recall"], p["qps"], p["ef"]) for p in points if p.get("qps")), key=lambda t: t[2])
        if not pts:
            continue
        xs, ys, efs = zip(*pts, strict=True)
        ax.plot(
            xs,
            ys,
            linestyle=styles[servers.index(server) % len(styles)],
            marker=markers[n % len(markers)],
            color=colors.get(layer, f"C{n % 10}"),
            label=name,
        )
        for x, y, ef in pts:
            ax.annotate(f"{ef}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("recall@k against the exact top k (numpy)")
    ax.set_ylabel("queries per second (1 client)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_ef_chart(record: dict[str, Any], path: str | Path) -> bool:
    """The run's recall-vs-QPS curve over ``ef``, one line per layer (ann-benchmarks style).
    Returns ``False`` (and writes nothing) when the run has no curve."""
    curves = ef_curves(record)
    if not curves:
        return False
    sm, env = record["search_metrics"], record["environment"]
    data = sm.get("data") or {}
    title = (
        f"Milvus {env.get('milvus_server_version')}: recall vs QPS over HNSW ef (labels), top_k {sm['top_k']}, "
        f"{sm['rows']} rows x {sm['dim']}d\n{data.get('label', '')} ({record['run_id']})"
    )
    return write_curves_chart(dict(sorted(curves.items(), key=lambda kv: _layer_rank(kv[0]))), path, title)


def _layer_rank(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else 9
