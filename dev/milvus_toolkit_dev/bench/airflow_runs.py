"""A DAG run through ``airflow dags test`` as a subprocess, and what the run recorded in the
Airflow metadata DB (SQLite, ``$AIRFLOW_HOME/airflow.db``): its state, its task instances'
durations and its XCom values. The figures a benchmark reports come from there, e.g. the
``report`` task's return value (the summary figures of ``pipeline.summarize`` or
``reindex.summarize``), never from the human-readable log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from milvus_toolkit_dev.bench.meter import TreeRssSampler


def airflow_db() -> Path:
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass
class RunRecord:
    """One DAG run as the metadata DB holds it."""

    dag_id: str
    run_id: str
    state: str
    start: str
    end: str
    task_instances: list[tuple]  # (task_id, map_index, start, end, duration, state, pid)
    xcoms: dict[tuple[str, int, str], str]  # (task_id, map_index, key) -> the stored JSON
    xcom_rows: int

    def value(self, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
        """A task's XCom value (decoded), or None."""
        stored = self.xcoms.get((task_id, map_index, key))
        return json.loads(stored) if stored else None

    def returns(self, task_id: str) -> list[Any]:
        """The return values of a mapped task, in map index order."""
        return [json.loads(v) for (t, _, k), v in sorted(self.xcoms.items()) if t == task_id and k == "return_value"]

    def figures(self, task_id: str = "report") -> dict:
        """The summary figures the run's ``report`` task returned."""
        figures = self.value(task_id)
        if not isinstance(figures, dict):
            raise RuntimeError(
                f"{self.dag_id} run {self.run_id}: no figures in the XCom of task '{task_id}' ({airflow_db()})"
            )
        return figures

    def xcom_bytes_by_task(self) -> dict[str, int]:
        by_task: dict[str, int] = {}
        for (t, _, _), v in self.xcoms.items():
            by_task[t] = by_task.get(t, 0) + len(v.encode("utf-8"))
        return by_task

    def task_seconds(self) -> dict[str, dict]:
        """Per task id: how many instances, their summed and longest duration, states, pids."""
        per_task: dict[str, dict] = {}
        for task_id, _, _, _, duration, ti_state, pid in self.task_instances:
            entry = per_task.setdefault(
                task_id, {"count": 0, "seconds": 0.0, "max_s": 0.0, "states": set(), "pids": set()}
            )
            entry["count"] += 1
            entry["seconds"] += duration or 0.0
            entry["max_s"] = max(entry["max_s"], duration or 0.0)
            entry["states"].add(ti_state)
            entry["pids"].add(pid)
        for entry in per_task.values():
            entry["seconds"] = round(entry["seconds"], 2)
            entry["max_s"] = round(entry["max_s"], 2)
            entry["states"] = sorted(s or "none" for s in entry["states"])
            entry["pids"] = len(entry["pids"])
        return per_task


def find_run(dag_id: str, collection: str, since: datetime) -> RunRecord:
    """The newest run of ``dag_id`` on ``collection`` (its conf) that started after ``since``."""
    with sqlite3.connect(airflow_db()) as db:
        runs = db.execute(
            "select id, run_id, state, conf, start_date, end_date from dag_run where dag_id=? "
            "and start_date >= ? order by id",
            (dag_id, since.strftime("%Y-%m-%d %H:%M:%S")),
        ).fetchall()
        runs = [r for r in runs if json.loads(_text(r[3]) or "{}").get("collection") == collection]
        if not runs:
            raise RuntimeError(f"no {dag_id} run for collection '{collection}' in {airflow_db()}")
        run_pk, run_id, state, _, start, end = runs[-1]
        tis = db.execute(
            "select task_id, map_index, start_date, end_date, duration, state, pid from task_instance "
            "where dag_id=? and run_id=?",
            (dag_id, run_id),
        ).fetchall()
        xcoms = db.execute("select task_id, map_index, key, value from xcom where dag_run_id=?", (run_pk,)).fetchall()
    return RunRecord(dag_id, run_id, state, start, end, tis, {(t, m, k): _text(v) for t, m, k, v in xcoms}, len(xcoms))


def command(dag_id: str, conf: dict) -> list[str]:
    return ["airflow", "dags", "test", dag_id, "-c", json.dumps(conf)]


@dataclass
class DagsTest:
    command: list[str]
    seconds: float  # wall clock, process start to exit
    tree_peak_rss_mb: float  # the airflow process and its children
    record: RunRecord
    rss_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch s, MB) of that tree


def dags_test(dag_id: str, conf: dict, log_path: Path) -> DagsTest:
    """Run ``airflow dags test`` (output to ``log_path``), then read the run's record; raises
    when the process fails or the run did not succeed. ``conf`` must name the collection."""
    argv = command(dag_id, conf)
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=2)
    with open(log_path, "w") as log:
        started = time.perf_counter()
        # Through a small shell that forks: a child forked straight from this (large) process
        # would inherit its peak RSS (Linux keeps ru_maxrss across fork and exec), and the
        # tasks' peak_rss_mb would report this benchmark's memory instead of their own.
        proc = subprocess.Popen(["/bin/sh", "-c", '"$@"; exit $?', "sh", *argv], stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        returncode = proc.wait()
        wall = time.perf_counter() - started
        tree_peak = sampler.stop()
    if returncode != 0:
        tail = log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"airflow dags test failed (exit {returncode}); log {log_path}:\n{tail}")
    record = find_run(dag_id, conf["collection"], since)
    if record.state != "success":
        raise RuntimeError(f"DAG run {record.run_id} ended {record.state}; log {log_path}")
    return DagsTest(argv, wall, tree_peak, record, sampler.samples)


def peak_rss_during_tasks(record: RunRecord, samples: list[tuple[float, float]]) -> dict[str, float]:
    """Per task instance (``task_id`` or ``task_id[map_index]``): the highest sampled RSS of
    the ``dags test`` process tree while it ran. Tasks of ``dags test`` share one process,
    so memory a task leaves behind (a loaded model) still counts in the tasks after it."""
    peaks: dict[str, float] = {}
    for task_id, map_index, start, end, *_ in record.task_instances:
        if not start or not end:
            continue
        t0, t1 = _epoch(start), _epoch(end)
        during = [mb for t, mb in samples if t0 <= t <= t1]
        label = task_id if map_index in (None, -1) else f"{task_id}[{map_index}]"
        peaks[label] = max(during) if during else None
    return peaks


def _epoch(db_time: str) -> float:
    """A metadata-DB timestamp (naive UTC text) as epoch seconds."""
    value = datetime.fromisoformat(_text(db_time))
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
