"""Where benchmark results go, and writing them there.

One folder (``MILVUS_BENCHMARK_RESULTS``, else ``$LOCAL_HOME/benchmarks``
(``make`` sets ``LOCAL_HOME`` to the repository's ``.local``), else
``$AIRFLOW_HOME/milvus_toolkit/benchmarks`` or ``~/.local/share/milvus_toolkit/benchmarks``):

- ``runs/<run_id>.json``  every figure of the run: environment, parameters, per-cell
  summaries and every measurement with its per-call latencies (ms);
- ``runs/<run_id>.csv``   one row per cell (the summaries);
- ``runs/<run_id>.md``    the report (seeds-shaped tables, breakdown, regressions);
- ``runs/<run_id>.png``   sync vs async per operation and count;
- ``runs/<run_id>.sweep.png``  search QPS and p99 against concurrency, sync vs async, per layer;
- ``runs/<run_id>.ef.png``  recall against QPS over HNSW ``ef``, per layer;
- ``history.csv``         one row per cell per run, and one per sweep level (operation
  ``search_sweep``, ``ops_per_s`` = its qps), appended (all runs in one file);
- ``latest.md`` / ``latest.png`` / ``latest.sweep.png`` / ``latest.ef.png``  copies of the newest report.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

from milvus_toolkit.benchmark.chart import write_chart, write_ef_chart, write_sweep_chart
from milvus_toolkit.benchmark.regression import find_previous_run, find_regressions
from milvus_toolkit.benchmark.render import markdown_report
from milvus_toolkit.benchmark.stats import SCHEMA_VERSION, machine_was_busy
from milvus_toolkit.benchmark.tables import sweep_rows
from milvus_toolkit.paths import data_home

HISTORY_FIELDS = [
    "run_id",
    "started_at",
    "milvus_uri",
    "milvus_server_version",
    "embedding",
    "dim",
    "key",
    "operation",
    "variant",
    "count",
    "mode",
    "layer",
    "concurrency",
    "consistency_level",
    "repeats",
    "seconds",
    "ops_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "recall",
    "failed_rate",
]
CELL_FIELDS = [
    "key",
    "operation",
    "variant",
    "count",
    "mode",
    "layer",
    "concurrency",
    "consistency_level",
    "repeats",
    "calls",
    "seconds",
    "seconds_min",
    "seconds_max",
    "ops_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "recall",
]


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
    sweep_png = f"{stem}.sweep.png"
    save_record(record, folder)
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CELL_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(record["cells"])
    Path(paths["markdown"]).write_text(markdown_report(record))
    write_chart(record, paths["png"])
    if write_sweep_chart(record, sweep_png):
        paths["sweep_png"] = sweep_png
        shutil.copyfile(sweep_png, folder / "latest.sweep.png")
    ef_png = f"{stem}.ef.png"
    if write_ef_chart(record, ef_png):
        paths["ef_png"] = ef_png
        shutil.copyfile(ef_png, folder / "latest.ef.png")
    append_history(record, Path(paths["history"]))
    # the report links its charts by file name (beside it in runs/); latest.md links the copies
    latest = Path(paths["markdown"]).read_text().replace(f"]({record['run_id']}.", "](latest.")
    (folder / "latest.md").write_text(latest)
    shutil.copyfile(paths["png"], folder / "latest.png")
    return paths


def history_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a run adds to ``history.csv``: its cells, then its sweep levels."""
    env = record["environment"]
    common = {
        "run_id": record["run_id"],
        "started_at": record["started_at"],
        "milvus_uri": env.get("milvus_uri"),
        "milvus_server_version": env.get("milvus_server_version"),
        "embedding": env.get("embedding_model"),
        "dim": env.get("dim"),
    }
    rows = [cell | common for cell in record["cells"]]
    sm = record.get("search_metrics") or {}
    for r in sweep_rows(record):
        recall = (sm.get("layers") or {}).get(r["layer"], {}).get("recall")
        rows.append(
            common
            | {
                "key": f"search_sweep|{r['layer']}|{r['mode']}|{r['concurrency']}|{sm.get('consistency_level')}",
                "operation": "search_sweep",
                "variant": "",
                "count": r["requests"],
                "mode": r["mode"],
                "layer": r["layer"],
                "concurrency": r["concurrency"],
                "consistency_level": sm.get("consistency_level"),
                "repeats": 1,
                "seconds": r["duration_s"],
                "ops_per_s": r["qps"],
                "p50_ms": r["latency_p50_ms"],
                "p95_ms": r["latency_p95_ms"],
                "p99_ms": r["latency_p99_ms"],
                "recall": recall,
                "failed_rate": r["failed_rate"],
            }
        )
    return rows


def append_history(record: dict[str, Any], path: Path) -> None:
    """Append the run's rows; a history written with fewer columns (before ``recall`` and
    ``failed_rate``) is rewritten once with the current header, its rows kept."""
    if path.exists() and path.stat().st_size > 0:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header, old = reader.fieldnames, list(reader)
        if header != HISTORY_FIELDS:
            with open(path, "w", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(old)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerows(history_rows(record))
