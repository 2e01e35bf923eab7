"""Figures, tables, chart, history and the regression check of benchmark runs: the names of
the modules that do each job, under the import path the DAG and older code use.

- :mod:`~milvus_toolkit.benchmark.stats`: percentiles, per-cell summaries, the run record;
- :mod:`~milvus_toolkit.benchmark.storage`: the results folder, JSON/CSV/history files;
- :mod:`~milvus_toolkit.benchmark.regression`: comparison with the previous run;
- :mod:`~milvus_toolkit.benchmark.tables`: the rows of the tables (seeds-shaped, the tutorials
  beside ours, why the large gaps, breakdown, the search sweep);
- :mod:`~milvus_toolkit.benchmark.render`: the Markdown report;
- :mod:`~milvus_toolkit.benchmark.chart`: the PNG charts (cells; search sweep).
"""

from __future__ import annotations

from milvus_toolkit.benchmark.chart import write_chart, write_sweep_chart
from milvus_toolkit.benchmark.regression import comparable, find_previous_run, find_regressions
from milvus_toolkit.benchmark.render import (
    all_cells_markdown,
    busy_warning,
    markdown_report,
    search_metrics_markdown,
    seeds_table_markdown,
    tutorials_markdown,
)
from milvus_toolkit.benchmark.stats import SCHEMA_VERSION, build_record, machine_was_busy, percentile, summarize
from milvus_toolkit.benchmark.storage import (
    CELL_FIELDS,
    HISTORY_FIELDS,
    append_history,
    history_rows,
    load_record,
    record_path,
    results_dir,
    save_record,
    save_run,
)
from milvus_toolkit.benchmark.tables import (
    CONSISTENCY_ORDER,
    OPERATION_ORDER,
    breakdown,
    cell_order,
    explain_gap,
    gap_explanations,
    headline_concurrency,
    row_label,
    seeds_table,
    sweep_rows,
    tutorial_table,
)

__all__ = [
    "CELL_FIELDS",
    "CONSISTENCY_ORDER",
    "HISTORY_FIELDS",
    "OPERATION_ORDER",
    "SCHEMA_VERSION",
    "all_cells_markdown",
    "append_history",
    "breakdown",
    "build_record",
    "busy_warning",
    "cell_order",
    "comparable",
    "find_previous_run",
    "find_regressions",
    "headline_concurrency",
    "load_record",
    "machine_was_busy",
    "markdown_report",
    "percentile",
    "record_path",
    "results_dir",
    "row_label",
    "save_record",
    "save_run",
    "seeds_table",
    "seeds_table_markdown",
    "summarize",
    "write_chart",
    "explain_gap",
    "gap_explanations",
    "history_rows",
    "search_metrics_markdown",
    "sweep_rows",
    "tutorial_table",
    "tutorials_markdown",
    "write_sweep_chart",
]
