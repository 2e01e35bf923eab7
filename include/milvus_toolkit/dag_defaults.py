"""Conventions shared by every DAG of the toolkit (no Airflow import: plain values)."""

from __future__ import annotations

from datetime import timedelta

OWNER = "milvus-toolkit"

# Retries with exponential backoff: transient Milvus or embedding-API errors (a restart,
# a 429) heal on their own; every write is an idempotent upsert by deterministic id, so a
# retried task never duplicates rows.
DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
}

MILVUS_CONN_ID = "milvus_default"
