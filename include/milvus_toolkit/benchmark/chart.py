"""The PNG chart of a benchmark run: sync vs async seconds per operation and count."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from milvus_toolkit.benchmark.tables import cell_order, headline_concurrency, row_label


def write_chart(record: dict[str, Any], path: str | Path) -> None:
    """Sync vs async seconds per operation and count (log-log), one panel per operation;
    solid lines langchain-milvus, dashed the raw client."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    baseline = (record["params"].get("consistency_levels") or ["Session"])[0]
    cells = record["cells"]
    labels = sorted({row_label(c, baseline) for c in cells}, key=lambda lb: cell_order(record)(next(c for c in cells if row_label(c, baseline) == lb)))
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
