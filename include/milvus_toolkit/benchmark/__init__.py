"""Sync-vs-async benchmarks of Milvus through langchain-milvus and the raw pymilvus clients.

- :mod:`~milvus_toolkit.benchmark.plan`: validated parameters -> the cells to measure;
- :mod:`~milvus_toolkit.benchmark.runner`: fresh collection per cell, warm-up, timing,
  verification, cleanup (works with any hook-like object; no Airflow import);
- :mod:`~milvus_toolkit.benchmark.report`: percentiles, seeds-shaped tables, chart,
  history and the regression check.

The DAG ``dags/milvus_benchmark.py`` wires them together.
"""

from milvus_toolkit.benchmark.plan import BenchmarkParams, BenchmarkParamsError, Cell, Plan, build_plan
from milvus_toolkit.benchmark.report import (
    build_record,
    find_regressions,
    load_record,
    markdown_report,
    percentile,
    results_dir,
    save_record,
    save_run,
    summarize,
)
from milvus_toolkit.benchmark.runner import (
    BenchmarkError,
    BenchmarkRun,
    MilvusUnavailableError,
    VerificationError,
    check_milvus,
    prepare,
    run_benchmark,
)

__all__ = [
    "BenchmarkError",
    "BenchmarkParams",
    "BenchmarkParamsError",
    "BenchmarkRun",
    "Cell",
    "MilvusUnavailableError",
    "Plan",
    "VerificationError",
    "build_plan",
    "build_record",
    "check_milvus",
    "find_regressions",
    "load_record",
    "markdown_report",
    "percentile",
    "prepare",
    "results_dir",
    "run_benchmark",
    "save_record",
    "save_run",
    "summarize",
]
