"""
### milvus_benchmark: sync vs async Milvus calls, measured on a schedule

The scenario of the Milvus tutorials *Asynchronous Functions in LangChain Milvus Integration*
and *RAG with Milvus and LlamaIndex Async API*: single calls in a sync loop against the
same calls gathered as coroutines, for add, upsert, search and delete, at 10 / 100 / 1000
operations; through langchain-milvus and through the raw pymilvus clients (the floor);
per consistency level, and for async at several concurrency levels.

1. **check_inputs**: params (typed, validated), embedding vs dimension, Milvus health.
   A bad count, operation or dimension, or a Milvus that is down, fails here: nothing is
   created.
2. **measure**: every cell in order, in ONE task, so no two measurements ever share the CPU
   (2 cores here). Each cell and repeat gets a fresh `bench_*` collection, is warmed up
   (collection, index, load, one call) and timed call by call and as a batch; then the
   rows are checked (sync and async did the same real work) and the collection dropped,
   also when the run fails.
3. **report**: seeds-shaped table (operation x count, async s, sync s, speedup), ops/s and
   p50/p95/p99 per cell, where the time goes (layers, consistency), a PNG chart; written to
   `MILVUS_BENCHMARK_RESULTS` (default `.local/benchmarks/`) with the run's JSON/CSV and a
   history CSV, and compared with the previous run on the same server (cells > 20% slower
   are flagged).

Schedule: `MILVUS_BENCHMARK_SCHEDULE` (default `@weekly`; `none` to turn it off).
Trigger from the UI (params form) or `airflow dags test milvus_benchmark -c '{"counts": [10, 100]}'`.
The default run (3 counts, 4 operations, both modes and layers, Session + Strong: 148
cells) takes about 6.5 minutes on a quiet 2-core machine; half of it is the Strong searches
and metadata deletes that wait ~200 ms per sequential call (see `wait_cells_max_count`).
`{"concurrency": [8, "all"]}` or `{"wait_cells_max_count": 10}` make it 3-4 minutes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task
from milvus_toolkit.benchmark import plan as bp
from milvus_toolkit.dag_defaults import DEFAULT_ARGS, MILVUS_CONN_ID
from milvus_toolkit.dag_support import log_report

_schedule = os.environ.get("MILVUS_BENCHMARK_SCHEDULE", "@weekly").strip()
SCHEDULE = None if _schedule.lower() in ("", "none", "off") else _schedule
# Optional: a pool shared with other Milvus-heavy DAGs (create it with 1 slot), so that no
# other task disturbs a measurement. One task already serializes the benchmark's own cells.
POOL = os.environ.get("MILVUS_BENCHMARK_POOL", "default_pool")


def _params_and_hook():
    from milvus_provider.hooks.milvus import MilvusHook

    params = bp.BenchmarkParams.parse(dict(get_current_context()["params"]))
    return params, MilvusHook(params.milvus_conn_id)


def _array(default, items, title, description, **kw):
    return Param(default, type="array", items=items, minItems=1, title=title, description=description, **kw)


@dag(
    dag_id="milvus_benchmark",
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milvus", "benchmark", "langchain"],
    doc_md=__doc__,
    params={
        "operations": _array(list(bp.OPERATIONS), {"type": "string", "enum": list(bp.OPERATIONS)}, "Operations",
                             "Which calls to time: add_documents, upsert, similarity_search, delete.", uniqueItems=True),
        "counts": _array(bp.DEFAULT_COUNTS, {"type": "integer", "minimum": 1, "maximum": bp.MAX_COUNT}, "Counts",
                         "Calls per batch, e.g. [10, 100, 1000] as in the seeds."),
        "modes": _array(list(bp.MODES), {"type": "string", "enum": list(bp.MODES)}, "Modes",
                        "sync: a loop of single calls. async: the same calls as coroutines gathered.", uniqueItems=True),
        "concurrency": _array(bp.DEFAULT_CONCURRENCY, {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "all"}]},
                              "Async concurrency levels",
                              'Calls in flight at once (asyncio.Semaphore); "all" = unbounded gather, as in the seeds.'),
        "consistency_levels": _array(bp.DEFAULT_CONSISTENCY, {"type": "string", "enum": ["Strong", "Bounded", "Session", "Eventually"]},
                                     "Consistency levels",
                                     "The first is used for writes; searches are measured at each. Strong waits ~200 ms per call.",
                                     uniqueItems=True),
        "layers": _array(list(bp.LAYERS), {"type": "string", "enum": list(bp.LAYERS)}, "Layers",
                         "langchain: langchain-milvus Milvus store. raw: pymilvus MilvusClient / AsyncMilvusClient (the floor).",
                         uniqueItems=True),
        "delete_filters": _array(["metadata", "pk"], {"type": "string", "enum": ["metadata", "pk"]}, "Delete filters",
                                 "metadata: delete(expr='doc_id == ...') as in the seeds (Milvus queries first: ~200 ms per call). "
                                 "pk: delete(expr='pk == ...').", uniqueItems=True),
        "wait_cells_max_count": Param(100, type=["null", "integer"], minimum=1, title="Largest count for wait-bound cells",
                                      description="Strong searches and metadata deletes wait ~200 ms per sequential call; "
                                                  "they are measured only up to this count (null: every count)."),
        "dim": Param(bp.DEFAULT_DIM, type="integer", minimum=1, maximum=32768, title="Vector dimension",
                     description="768 as in the seeds. Must fit the embedding (local: 384)."),
        "repeats": Param(1, type="integer", minimum=1, maximum=20, title="Repeats",
                         description="Each cell is measured this many times (fresh collection each); seconds are the median."),
        "embedding": Param("deterministic", enum=["deterministic", "local", "openai"], title="Embedding",
                           description="deterministic: no model, so Milvus alone is timed. local (all-MiniLM-L6-v2, 384 dims) "
                                       "or openai: a real model inside the langchain calls; reported separately."),
        "top_k": Param(3, type="integer", minimum=1, maximum=100, title="Search top k", description="k of every search (3 in the seeds)."),
        "search_rows": Param(1000, type="integer", minimum=1, maximum=bp.MAX_COUNT, title="Rows searched",
                             description="Documents in each search collection (1000 in the seeds)."),
        "regression_threshold": Param(0.2, type="number", exclusiveMinimum=0, maximum=10, title="Regression threshold",
                                      description="Flag a cell slower than the previous run on the same server by more than this fraction."),
        "milvus_conn_id": Param(MILVUS_CONN_ID, type="string", minLength=1, title="Milvus connection",
                                description="Airflow connection of type Milvus."),
    },
)
def milvus_benchmark():
    @task
    def check_inputs() -> dict:
        """Everything that can fail without creating anything fails here. Bad input fails
        at once (AirflowFailException: a retry would fail the same way); a Milvus that is
        down is retried with the toolkit's backoff."""
        from airflow.sdk.exceptions import AirflowFailException
        from milvus_toolkit.benchmark import prepare

        try:
            params, hook = _params_and_hook()
            plan, choice, server = prepare(hook, params)
        except bp.BenchmarkParamsError as exc:
            raise AirflowFailException(str(exc)) from None
        log_report(f"Milvus {server['server_version']} at {server['uri']}; embedding {choice.model}; {plan.describe()}")
        return {"plan": plan.describe(), "server_version": server["server_version"], "cells": len(plan.cells)}

    @task(retries=1, execution_timeout=timedelta(hours=2), pool=POOL)
    def measure(checked: dict) -> str:
        """All cells, one after the other (never two at the same time). Returns the path of
        the run's JSON record."""
        from airflow.sdk.exceptions import AirflowFailException
        from milvus_toolkit.benchmark import VerificationError, build_record, run_benchmark, save_record

        params, hook = _params_and_hook()
        try:
            run = run_benchmark(hook, params)
        except VerificationError as exc:  # a wrong measurement is not transient
            raise AirflowFailException(str(exc)) from None
        finally:
            hook.close()
        return str(save_record(build_record(run)))

    @task
    def report(record_path: str) -> dict:
        """Tables, chart, history, and the comparison with the previous run."""
        import logging

        from milvus_toolkit.benchmark import load_record, markdown_report, results_dir, save_run
        from milvus_toolkit.benchmark.report import seeds_table

        record = load_record(record_path)
        paths = save_run(record, results_dir())
        log_report(markdown_report(record))
        log = logging.getLogger("milvus_toolkit.benchmark")
        if record.get("machine_busy_load"):
            log.warning("The machine was busy (load average %s): figures are noisy", record["machine_busy_load"])
        for r in record["regressions"]:
            log.warning(
                "Slower than run %s by %.0f%%: %s (%.4f s -> %.4f s)",
                r["previous_run"], r["slower_pct"], r["key"], r["previous_s"], r["current_s"],
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
