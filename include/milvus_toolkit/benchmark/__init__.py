"""Sync-vs-async benchmarks of Milvus through langchain-milvus, LlamaIndex's MilvusVectorStore
and the raw pymilvus clients, plus VectorDBBench-style search metrics.

- :mod:`~milvus_toolkit.benchmark.plan`: validated parameters -> the cells to measure;
- :mod:`~milvus_toolkit.benchmark.runner`: the entry points (validate, check Milvus, run);
  the cell loop in ``cells`` (fresh collections per batch, cleanup), the data in
  ``workload``, the calls per layer in ``calls`` (LlamaIndex's store in ``llama``), the clock
  in ``timing``, the proof of real work in ``verification``, the machine and versions in
  ``environment``; then ``search_metrics`` on ``search_data`` (real text embedded by the
  local model, cached; or the random stress case): load time, recall from ``recall``, the
  sweep's figures from ``sweep``, dense vs BM25 vs hybrid, the recall-vs-QPS curve over HNSW
  ``ef`` from ``ef_sweep`` (works with any hook-like object; no Airflow import);
- the figures: ``stats`` (percentiles, per-cell summaries, the record), ``storage`` (results
  folder, history), ``regression``, ``tables`` (with the tutorials' published figures from
  ``tutorials``), ``render`` (Markdown) and ``chart`` (PNGs, the ef curve's included).

The DAG ``dags/milvus_benchmark.py`` wires them together.
"""

from milvus_toolkit.benchmark.model import BenchmarkError, BenchmarkRun, MilvusUnavailableError, VerificationError
from milvus_toolkit.benchmark.plan import BenchmarkParams, BenchmarkParamsError, Cell, Plan, build_plan
from milvus_toolkit.benchmark.regression import find_regressions
from milvus_toolkit.benchmark.render import markdown_report
from milvus_toolkit.benchmark.runner import check_milvus, prepare, run_benchmark
from milvus_toolkit.benchmark.stats import build_record, percentile, summarize
from milvus_toolkit.benchmark.storage import load_record, results_dir, save_record, save_run

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
