"""(b) The ``milvus_ingest`` DAG end to end: ``airflow dags test milvus_ingest -c {...}`` as a
subprocess, wall clock from start to finish (process start, parse, every task, validation,
report). Chunks, files and split time are the ``report`` task's figures (its XCom return
value); memory and time per write task are the ``write_batch`` tasks' return values."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from milvus_toolkit_dev.bench.airflow_runs import RunRecord, command, dags_test
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
        "run_id": record.run_id, "state": record.state, "db_start": record.start, "db_end": record.end,
        "tasks": record.task_seconds(), "xcom_bytes": sum(record.xcom_bytes_by_task().values()),
        "xcom_rows": record.xcom_rows, "xcom_bytes_by_task": record.xcom_bytes_by_task(),
        "write_tasks": len(writes),
        "peak_rss_mb_per_write_task": {"min": min(rss, default=0), "median": statistics.median(rss) if rss else 0,
                                       "max": max(rss, default=0)},
        "write_task_seconds": {"sum": round(write_seconds, 2), "max": max((w["seconds"] for w in writes), default=0)},
        "write_in_task_chunks_per_s": round(sum(w["chunks"] for w in writes) / max(write_seconds, 1e-9), 1),
        "split_seconds": report["split_seconds"], "chunks": report["chunks"], "files": report["files_indexed"],
        "report": report,
    }


def run_dag(source: str, name: str, batch_size: int, concurrency: int, mode: str, log_path: Path) -> dict:
    conf = {"source": source, "collection": name, "embedding": "deterministic",
            "batch_size": batch_size, "concurrency": concurrency, "mode": mode}
    print(f"(b) {' '.join(command(DAG_ID, conf)[:4])} -c '{json.dumps(conf)}'  (log: {log_path})", flush=True)
    load_before = load_average()
    run = dags_test(DAG_ID, conf, log_path)
    facts = ingest_facts(run.record)
    chunks, wall = facts["chunks"], run.seconds
    task_seconds = sum(t["seconds"] for t in facts["tasks"].values())
    result = {
        "collection": name, "conf": conf, "command": run.command, "chunks": chunks, "seconds": round(wall, 2),
        "chunks_per_s": round(chunks / wall, 1), "process_tree_peak_rss_mb": run.tree_peak_rss_mb,
        "outside_tasks_s": round(wall - task_seconds, 2), "log": str(log_path),
        "load_avg_before": load_before, "load_avg_after": load_average(), **facts,
    }
    print(f"    {chunks} chunks in {wall:.1f} s = {result['chunks_per_s']:.0f} chunks/s; {facts['write_tasks']} write "
          f"tasks; XCom {facts['xcom_bytes']} bytes", flush=True)
    return result
