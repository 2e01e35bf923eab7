"""(b) The ``milvus_ingest`` DAG end to end: ``airflow dags test milvus_ingest -c {...}`` as a
subprocess, wall clock from start to finish (process start, parse, every task, validation,
report). Chunks, files and split time are the ``report`` task's figures (its XCom return
value); memory and time per write task are the ``write_batch`` tasks' return values."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from milvus_toolkit_dev.bench.airflow_runs import RunRecord, command, dags_test, peak_rss_during_tasks
from milvus_toolkit_dev.bench.meter import load_average

DAG_ID = "milvus_ingest"


def ingest_facts(record: RunRecord) -> dict:
    """The run's facts from the Airflow DB: state, task durations, XCom bytes, write results
    and the report's figures."""
    report = record.figures()
    writes = record.returns("write_batch")
    rss = [w["peak_rss_mb"] for w in writes]
    write_seconds = sum(w["seconds"] for w in writes)
    return {
        "run_id": record.run_id,
        "state": record.state,
        "db_start": record.start,
        "db_end": record.end,
        "tasks": record.task_seconds(),
        "xcom_bytes": sum(record.xcom_bytes_by_task().values()),
        "xcom_rows": record.xcom_rows,
        "xcom_bytes_by_task": record.xcom_bytes_by_task(),
        "write_tasks": len(writes),
        "peak_rss_mb_per_write_task": {
            "min": min(rss, default=0),
            "median": statistics.median(rss) if rss else 0,
            "max": max(rss, default=0),
        },
        "write_task_seconds": {"sum": round(write_seconds, 2), "max": max((w["seconds"] for w in writes), default=0)},
        "write_in_task_chunks_per_s": round(sum(w["chunks"] for w in writes) / max(write_seconds, 1e-9), 1),
        "split_seconds": report["split_seconds"],
        "chunks": report["chunks"],
        "files": report["files_indexed"],
        "report": report,
    }


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_REQUESTED = re.compile(r"Local embedding model (\S+) requested \(pid (\d+)\)")
_LOADED = re.compile(r"Local embedding model (\S+) loaded on (\S+) in ([\d.]+) s \(pid (\d+)\)")
_RUNTIME = re.compile(r"Local embedding model \S+ on (\S+): (\d+) concurrent call\(s\), (\S+) torch thread\(s\) each")


def model_events(log_path: Path) -> dict:
    """Which tasks of the run asked for the local model and where it was loaded, from the
    lines ``milvus_toolkit.embeddings`` logs (``... requested``, ``... loaded on``). In
    ``dags test`` all tasks share one process, so the model loads at most once; under an
    executor every task is a process of its own and each task that asks for it loads it."""
    task, requested, loads, runtime = "(before the first task)", [], [], None
    for line in log_path.read_text(errors="replace").splitlines():
        if m := _TASK_START.search(line):
            task = m[1] if m[2] == "-1" else f"{m[1]}[{m[2]}]"
        elif _REQUESTED.search(line):
            if task not in requested:
                requested.append(task)
        elif m := _LOADED.search(line):
            loads.append({"task": task, "device": m[2], "seconds": float(m[3]), "pid": int(m[4])})
        elif m := _RUNTIME.search(line):
            runtime = {"device": m[1], "embedding_calls_at_once": int(m[2]), "torch_threads": m[3]}
    return {
        "loads_in_this_process": len(loads),
        "loads": loads,
        "tasks_asking_for_the_model": requested,
        "loads_under_an_executor": len(requested),
        "runtime": runtime,
    }


def run_dag(
    source: str,
    name: str,
    batch_size: int,
    concurrency: int,
    mode: str,
    log_path: Path,
    embedding: str = "deterministic",
) -> dict:
    conf = {
        "source": source,
        "collection": name,
        "embedding": embedding,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "mode": mode,
    }
    print(f"(b) {' '.join(command(DAG_ID, conf)[:4])} -c '{json.dumps(conf)}'  (log: {log_path})", flush=True)
    load_before = load_average()
    run = dags_test(DAG_ID, conf, log_path)
    facts = ingest_facts(run.record)
    chunks, wall = facts["chunks"], run.seconds
    task_seconds = sum(t["seconds"] for t in facts["tasks"].values())
    result = {
        "collection": name,
        "conf": conf,
        "command": run.command,
        "chunks": chunks,
        "seconds": round(wall, 2),
        "chunks_per_s": round(chunks / wall, 1),
        "process_tree_peak_rss_mb": run.tree_peak_rss_mb,
        "outside_tasks_s": round(wall - task_seconds, 2),
        "log": str(log_path),
        "load_avg_before": load_before,
        "load_avg_after": load_average(),
        **facts,
        "peak_rss_mb_during_task": peak_rss_during_tasks(run.record, run.rss_samples),
    }
    if embedding == "local":
        result["model"] = model_events(log_path)
    print(
        f"    {chunks} chunks in {wall:.1f} s = {result['chunks_per_s']:.0f} chunks/s; {facts['write_tasks']} write "
        f"tasks; XCom {facts['xcom_bytes']} bytes",
        flush=True,
    )
    return result
