"""Where the runtime keeps its own files: from the environment, never from where the code lives.

The package is installed into every worker image (often read-only, shared by several
processes), so nothing it writes may land beside its source. Each caller's own setting
(``MILVUS_TOOLKIT_STAGING``, ``MILVUS_BENCHMARK_RESULTS``, ...) comes first; this is the
default folder under it.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """``$AIRFLOW_HOME/milvus_toolkit`` when ``AIRFLOW_HOME`` is set (every Airflow process
    of a deployment shares it), else ``$XDG_DATA_HOME/milvus_toolkit``
    (``~/.local/share/milvus_toolkit``)."""
    airflow_home = os.environ.get("AIRFLOW_HOME")
    if airflow_home:
        return Path(airflow_home).expanduser() / "milvus_toolkit"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "milvus_toolkit"
