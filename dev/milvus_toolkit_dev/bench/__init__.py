"""Benchmarks of the toolkit's pipelines, for developers (``make bench-ingest``,
``make bench-reindex``; ``python -m milvus_toolkit_dev.bench.ingest --help``).

- ``corpus``: the generated Markdown corpus, deterministic for a seed;
- ``workload``: what the measured approaches share, taken from the toolkit itself (the
  DAG's params, collection spec, embedding, and its read -> split -> stamp of chunks);
- ``meter``: load, CPU and memory of the phases; waiting for an idle server;
- ``airflow_runs``: ``airflow dags test`` as a subprocess, then the run's record (task
  durations, XCom values such as the ``report`` task's figures) from the metadata DB;
- the measured approaches: ``ceiling`` (a, a2: plain pymilvus), ``dag`` (b: the
  ``milvus_ingest`` DAG), ``seeds`` (c: one langchain-milvus call per chunk);
- ``report``: ratios, targets and the ingest benchmark's table;
- ``ingest`` and ``reindex``: the command lines.

Expects ``source scripts/dev-env.sh`` (the Makefile targets do it). Results go to
``$LOCAL_HOME/benchmarks`` (the repository's ``.local`` by default).
"""

from __future__ import annotations

import os
from pathlib import Path

from milvus_toolkit_dev.local_milvus import DEFAULT_HOME


def local_home() -> Path:
    return Path(os.environ.get("LOCAL_HOME") or DEFAULT_HOME)


def results_dir() -> Path:
    return local_home() / "benchmarks"
