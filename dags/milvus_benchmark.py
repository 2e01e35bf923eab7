"""
### milvus_benchmark: sync vs async Milvus calls, measured on a schedule

The Milvus tutorials' scenario (async LangChain and LlamaIndex): single calls in a sync loop
against the same calls gathered as coroutines, for add, upsert, search and delete, through
langchain-milvus, LlamaIndex's MilvusVectorStore and raw pymilvus (the floor), per consistency
level and concurrency; then VectorDBBench-style search metrics on real text embedded by the local
model (load time, recall, a timed concurrency sweep, a recall-vs-QPS curve over HNSW `ef`; dense
vs BM25 vs hybrid where the server has BM25) on `milvus_conn_id`.
**check_inputs** fails bad params or a Milvus that is down before anything is created;
**measure** runs every cell in ONE task (no two measurements share the CPU), each on a fresh,
warmed-up `bench_*` collection dropped afterwards; **report** writes the tables (server version,
tutorials beside ours), charts and history to `MILVUS_BENCHMARK_RESULTS`, flags regressions.
Schedule: `MILVUS_BENCHMARK_SCHEDULE` (default `@weekly`; `none` turns it off). Method and
figures: docs/benchmarks.md.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from milvus_toolkit.benchmark import plan as bp
from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import fail_fast, log_report
from milvus_toolkit.forms import benchmark_form

_schedule = os.environ.get("MILVUS_BENCHMARK_SCHEDULE", "@weekly").strip()
SCHEDULE = None if _schedule.lower() in ("", "none", "off") else _schedule
# Optional: a pool shared with other Milvus-heavy DAGs (create it with 1 slot), so that no
# other task disturbs a measurement. One task already serializes the benchmark's own cells.
POOL = os.environ.get("MILVUS_BENCHMARK_POOL", "default_pool")


def _params_and_hook():
    from milvus_provider.hooks.milvus import MilvusHook

    params = bp.BenchmarkParams.parse(dict(get_current_context()["params"]))
    return params, MilvusHook(params.milvus_conn_id)


@dag(
    dag_id="milvus_benchmark",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milvus", "benchmark", "langchain", "llamaindex"],
    doc_md=__doc__,
    params=benchmark_form(),
)
def milvus_benchmark():
    @task
    def check_inputs() -> dict:
        """Bad params fail at once, before anything is created; a Milvus that is down retries."""
        from milvus_toolkit.benchmark import prepare

        with fail_fast():
            params, hook = _params_and_hook()
            plan, choice, server = prepare(hook, params)
        log_report(f"Milvus {server['server_version']} at {server['uri']}; embedding {choice.model}; {plan.describe()}")
        return {"plan": plan.describe(), "server_version": server["server_version"], "cells": len(plan.cells)}

    @task(retries=1, execution_timeout=timedelta(hours=2), pool=POOL)
    def measure(checked: dict) -> str:
        """All cells, one after the other. Returns the path of the run's JSON record."""
        from milvus_toolkit.benchmark import build_record, run_benchmark, save_record

        params, hook = _params_and_hook()
        try:
            with fail_fast():  # a wrong measurement (VerificationError) is not transient
                return str(save_record(build_record(run_benchmark(hook, params))))
        finally:
            hook.close()

    @task
    def report(record_path: str) -> dict:
        """Tables, chart, history, and the comparison with the previous run."""
        import logging

        from milvus_toolkit.benchmark import load_record, markdown_report, results_dir, save_run
        from milvus_toolkit.benchmark.tables import seeds_table

        record = load_record(record_path)
        paths = save_run(record, results_dir())
        log_report(markdown_report(record))
        log = logging.getLogger("milvus_toolkit.benchmark")
        if record.get("machine_busy_load"):
            log.warning("The machine was busy (load average %s): figures are noisy", record["machine_busy_load"])
        for r in record["regressions"]:
            log.warning(
                "Slower than run %s by %.0f%%: %s (%.4f s -> %.4f s)",
                r["previous_run"],
                r["slower_pct"],
                r["key"],
                r["previous_s"],
                r["current_s"],
            )
        return {
            "run_id": record["run_id"],
            "paths": paths,
            "compared_with": record["compared_with"],
            "regressions": len(record["regressions"]),
            "table": seeds_table(record),
        }

    report(measure(check_inputs()))


milvus_benchmark()
