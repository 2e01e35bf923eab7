"""The facts a benchmark's figures depend on: server, client versions, machine, embedding."""

from __future__ import annotations

import os
import platform
from typing import Any

from milvus_toolkit.benchmark.plan import BenchmarkParams


def collect_environment(hook: Any, server: dict[str, Any], choice: Any, params: BenchmarkParams) -> dict[str, Any]:
    """The facts a figure depends on: server, client versions, machine, embedding."""
    try:
        cores_usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores_usable = os.cpu_count()
    return {
        "milvus_server_version": server.get("server_version"),
        "milvus_uri": server.get("uri") or getattr(getattr(hook, "config", None), "uri", None),
        "milvus_database": server.get("database"),
        "milvus_round_trip_ms": server.get("round_trip_ms"),
        "clients": {
            name: package_version(name)
            for name in (
                "pymilvus",
                "langchain-milvus",
                "langchain-core",
                "llama-index-vector-stores-milvus",
                "llama-index-core",
                "grpcio",
                "apache-airflow",
                "numpy",
            )
        },
        "milvus_capabilities": capabilities(hook),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": cores_usable,
        "load_average_start": load_average(),
        "embedding": choice.name,
        "embedding_model": choice.model,
        "dim": params.dim,
        "consistency_levels": list(params.consistency_levels),
        "counts": list(params.counts),
        "index": {"type": "HNSW", "metric": "COSINE", "params": {"M": 16, "efConstruction": 200}, "search": {"ef": 64}},
        "top_k": params.top_k,
        "search_rows": params.search_rows,
    }


def capabilities(hook: Any) -> dict[str, Any] | None:
    """What the server supports (the hook's ``capabilities()``), as a dict; ``None`` when the
    hook cannot tell."""
    ask = getattr(hook, "capabilities", None)
    if not callable(ask):
        return None
    return ask().to_dict()


def package_version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None
