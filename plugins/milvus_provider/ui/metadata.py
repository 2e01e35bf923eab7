"""The metadata-database reads of the view: one session per request, read-only, with a
statement timeout where the database has one (PostgreSQL, MySQL)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from milvus_provider import CONNECTION_TYPE
from milvus_provider.ui.contract import ASSET_SCHEME, RunEvent, artifact_paths, asset_target

MAX_EVENTS = 2000


@dataclass(frozen=True)
class RunState:
    dag_id: str
    run_id: str
    state: str | None
    start_date: datetime | None
    end_date: datetime | None


@dataclass
class Metadata:
    """What one request reads from the metadata database."""

    conn_ids: list[str] = field(default_factory=list)
    # (conn_id or None, collection name) -> events, newest first
    events: dict[tuple[str | None, str], list[RunEvent]] = field(default_factory=lambda: defaultdict(list))
    last_runs: dict[str, RunState] = field(default_factory=dict)  # dag_id -> its newest run

    def events_for(self, conn_id: str, name: str) -> list[RunEvent]:
        mine = self.events.get((conn_id, name), []) + self.events.get((None, name), [])
        return sorted(mine, key=lambda e: e.timestamp, reverse=True)


def limit_statements(session: Session, seconds: float) -> None:
    """A server-side statement timeout for the rest of this transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
    elif dialect == "mysql":
        session.execute(text(f"SET SESSION max_execution_time = {int(seconds * 1000)}"))


def env_connection_ids(environ: dict[str, str] | None = None) -> list[str]:
    """Connections of type ``milvus`` defined by ``AIRFLOW_CONN_*`` variables (URI or JSON)."""
    found = []
    for key, value in (os.environ if environ is None else environ).items():
        if not key.startswith("AIRFLOW_CONN_") or not value:
            continue
        conn_type = None
        if value.lstrip().startswith("{"):
            try:
                conn_type = json.loads(value).get("conn_type")
            except (ValueError, AttributeError):
                conn_type = None
        else:
            conn_type = urlsplit(value).scheme.replace("-", "_")
        if conn_type == CONNECTION_TYPE:
            found.append(key[len("AIRFLOW_CONN_") :].lower())
    return found


def connection_ids(session: Session, configured: list[str]) -> list[str]:
    """The configured list, else every ``milvus`` connection in the database and the environment."""
    if configured:
        return configured
    from airflow.models.connection import Connection

    stored = session.scalars(select(Connection.conn_id).where(Connection.conn_type == CONNECTION_TYPE)).all()
    return sorted(set(stored) | set(env_connection_ids()))


def read_metadata(session: Session, *, configured_conn_ids: list[str], timeout: float) -> Metadata:
    """Milvus connections, asset events on ``milvus://`` assets, and the newest run of each DAG
    that emitted them."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun

    limit_statements(session, timeout)
    meta = Metadata(conn_ids=connection_ids(session, configured_conn_ids))
    rows = session.execute(
        select(
            AssetModel.uri,
            AssetEvent.timestamp,
            AssetEvent.source_dag_id,
            AssetEvent.source_run_id,
            AssetEvent.extra,
        )
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.uri.like(f"{ASSET_SCHEME}://%"))
        .order_by(AssetEvent.timestamp.desc())
        .limit(MAX_EVENTS)
    ).all()
    for uri, timestamp, dag_id, run_id, extra in rows:
        target = asset_target(uri)
        if target is None:
            continue
        extra = extra if isinstance(extra, dict) else {}
        meta.events[target].append(RunEvent(timestamp=timestamp, dag_id=dag_id, run_id=run_id, extra=extra))
    dag_ids = sorted({e.dag_id for events in meta.events.values() for e in events if e.dag_id})
    if dag_ids:
        runs = session.execute(
            select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date)
            .where(DagRun.dag_id.in_(dag_ids))
            .order_by(DagRun.id.desc())
            .limit(50 * len(dag_ids))
        ).all()
        for dag_id, run_id, state, start, end in runs:
            if dag_id not in meta.last_runs:
                meta.last_runs[dag_id] = RunState(dag_id, run_id, str(state) if state else None, start, end)
    return meta


@dataclass(frozen=True)
class RunArtifacts:
    run: RunState | None
    # (task_id, map_index, label, raw path)
    paths: list[tuple[str, int, str, str]]


def read_run(session: Session, dag_id: str, run_id: str, *, timeout: float) -> RunArtifacts:
    """A run and the artefact paths its XComs name (contract: a mapping with ``paths``)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    limit_statements(session, timeout)
    found = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date).where(
            DagRun.dag_id == dag_id, DagRun.run_id == run_id
        )
    ).first()
    run = RunState(found[0], found[1], str(found[2]) if found[2] else None, found[3], found[4]) if found else None
    paths: list[tuple[str, int, str, str]] = []
    if run is not None:
        xcoms = session.execute(
            select(XComModel.task_id, XComModel.map_index, XComModel.value)
            .where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
            .order_by(XComModel.task_id, XComModel.map_index)
        ).all()
        for task_id, map_index, raw in xcoms:
            value = _decoded(raw)
            for label, path in artifact_paths(value).items():
                paths.append((task_id, map_index, label, path))
    return RunArtifacts(run=run, paths=paths)


def _decoded(raw: Any) -> Any:
    from airflow.models.xcom import XComModel

    try:
        return XComModel.deserialize_value(type("R", (), {"value": raw})())
    except Exception:
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except ValueError:
                return raw
        return raw
