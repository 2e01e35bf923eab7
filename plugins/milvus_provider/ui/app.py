"""The Milvus view's FastAPI app, mounted by the api-server under ``/milvus``.

Every route requires an authenticated Airflow user through the api-server's auth manager
(the ``GetUserDep`` chain of ``airflow.api_fastapi.core_api.security``, which reads the UI's
session cookie or a bearer token) and the permission to read what it shows: connections and
assets for the index pages, the DAG's runs and XComs for a run's report. A request reads the
metadata database once and Milvus once, each with a timeout, and writes nothing.

Imported only by the api-server, on the first request (``plugin.LazyApp``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    requires_access_asset,
    requires_access_connection,
    requires_access_dag,
)
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError

from milvus_provider.ui import artifacts as arts
from milvus_provider.ui.charts import line_chart
from milvus_provider.ui.contract import series_keys
from milvus_provider.ui.metadata import read_metadata, read_run
from milvus_provider.ui.milvus_read import read_all
from milvus_provider.ui.rows import index_rows

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
# Served files never run as pages of the Airflow origin (an SVG or HTML with a script).
FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
}


@dataclass(frozen=True)
class Settings:
    """``[milvus]`` options of airflow.cfg (or ``AIRFLOW__MILVUS__<OPTION>``)."""

    connections: list[str]
    timeout: float  # per Milvus request
    deadline: float  # the whole Milvus read pass
    db_timeout: float
    artifacts_root: str | None

    @classmethod
    def load(cls) -> Settings:
        from airflow.configuration import conf

        def number(option: str, default: float) -> float:
            raw = conf.get("milvus", option, fallback=str(default))
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"[milvus] {option} = {raw!r} is not a number of seconds") from None
            return value if value > 0 else default

        raw_conns = conf.get("milvus", "ui_connections", fallback="") or ""
        return cls(
            connections=[c.strip() for c in raw_conns.split(",") if c.strip()],
            timeout=number("ui_timeout", 5.0),
            deadline=number("ui_deadline", 20.0),
            db_timeout=number("ui_db_timeout", 10.0),
            artifacts_root=(conf.get("milvus", "ui_artifacts_root", fallback="") or "").strip() or None,
        )


def _fmt_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["when"] = _fmt_time
    return env


def _markdown(text: str) -> str:
    """Markdown to HTML with raw HTML disabled (a report cannot inject markup)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:  # pragma: no cover - markdown-it-py comes with Airflow (rich)
        from html import escape

        return f"<pre>{escape(text)}</pre>"
    return MarkdownIt("js-default").render(text)


def settings_or_error() -> Settings:
    try:
        return Settings.load()
    except ValueError as exc:
        raise HTTPException(500, f"Milvus view misconfigured: {exc}") from None


@contextmanager
def metadata_errors() -> Iterator[None]:
    """A metadata-database read that fails or times out is a 503 that says so (no stack trace)."""
    try:
        yield
    except SQLAlchemyError as exc:
        log.warning("Milvus view: metadata database read failed: %s", exc)
        raise HTTPException(
            503, f"The metadata database did not answer the Milvus view ({type(exc).__name__}); try again"
        ) from None


def create_app() -> FastAPI:
    env = _env()
    read_indexes = [Depends(requires_access_connection("GET")), Depends(requires_access_asset("GET"))]
    read_run_deps = [
        Depends(requires_access_dag("GET", DagAccessEntity.RUN)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
    ]
    app = FastAPI(title="Milvus view", docs_url=None, redoc_url=None, openapi_url=None)

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/")
        html = env.get_template(template).render(base=base, **context)
        return HTMLResponse(html, headers={"Cache-Control": "private, no-store"})

    def overview(session, names: set[str] | None = None, conn_id: str | None = None):
        settings = settings_or_error()
        started = time.monotonic()
        with metadata_errors():
            meta = read_metadata(session, configured_conn_ids=settings.connections, timeout=settings.db_timeout)
        conn_ids = [conn_id] if conn_id else meta.conn_ids
        if conn_id and conn_id not in meta.conn_ids:
            raise HTTPException(404, f"'{conn_id}' is not a Milvus connection shown by this view")
        views = read_all(conn_ids, timeout=settings.timeout, deadline=settings.deadline, names=names)
        return settings, meta, views, time.monotonic() - started

    @app.get("/", response_class=HTMLResponse, dependencies=read_indexes)
    def indexes_page(request: Request, session: SessionDep, user: GetUserDep) -> HTMLResponse:
        _, meta, views, seconds = overview(session)
        return page(
            request,
            "indexes.html",
            connections=[(v, index_rows(v, meta)) for v in views],
            no_connections=not views,
            seconds=seconds,
        )

    @app.get("/api/indexes", dependencies=read_indexes)
    def indexes_json(session: SessionDep, user: GetUserDep) -> JSONResponse:
        _, meta, views, _ = overview(session)
        return JSONResponse(
            {"connections": [{**v.as_dict(), "indexes": [r.as_dict() for r in index_rows(v, meta)]} for v in views]}
        )

    @app.get("/index/{conn_id}/{name}", response_class=HTMLResponse, dependencies=read_indexes)
    def index_page(request: Request, conn_id: str, name: str, session: SessionDep, user: GetUserDep) -> HTMLResponse:
        _, meta, views, seconds = overview(session, names={name}, conn_id=conn_id)
        view = views[0]
        row = next((r for r in index_rows(view, meta) if r.name == name), None)
        events = meta.events_for(conn_id, name)
        charts = [
            line_chart(key, [(e.timestamp, e.number(key)) for e in events if e.number(key) is not None])
            for key in series_keys(events)
        ]
        return page(request, "index.html", conn=view, row=row, name=name, events=events, charts=charts, seconds=seconds)

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse, dependencies=read_run_deps)
    def run_page(request: Request, dag_id: str, run_id: str, session: SessionDep, user: GetUserDep) -> HTMLResponse:
        settings = settings_or_error()
        with metadata_errors():
            found = read_run(session, dag_id, run_id, timeout=settings.db_timeout)
        shown = []
        for task_id, _map_index, label, raw in found.paths:
            try:
                item = arts.artifact(settings.artifacts_root, label, raw)
            except arts.ArtifactRefused as exc:
                shown.append({"task_id": task_id, "label": label, "error": str(exc)})
                continue
            entry: dict[str, Any] = {"task_id": task_id, "label": label, "kind": item.kind, "size": item.size}
            if item.size <= arts.MAX_INLINE_BYTES:
                if item.kind == "image":
                    entry["data_uri"] = item.data_uri()
                elif item.kind == "markdown":
                    entry["html"] = _markdown(item.text())
            shown.append(entry)
        order = {"image": 0, "markdown": 1}
        shown.sort(key=lambda a: order.get(a.get("kind"), 2) if "error" not in a else 3)
        return page(
            request,
            "run.html",
            dag_id=dag_id,
            run_id=run_id,
            run=found.run,
            artifacts=shown,
            root_configured=bool(settings.artifacts_root),
        )

    @app.get("/runs/{dag_id}/{run_id}/artifacts/{task_id}/{label}", dependencies=read_run_deps)
    def run_artifact(dag_id: str, run_id: str, task_id: str, label: str, session: SessionDep, user: GetUserDep):
        settings = settings_or_error()
        with metadata_errors():
            found = read_run(session, dag_id, run_id, timeout=settings.db_timeout)
        raw = next((p for t, _, lbl, p in found.paths if t == task_id and lbl == label), None)
        if raw is None:
            raise HTTPException(404, f"run '{run_id}' of '{dag_id}' names no artefact '{label}' in task '{task_id}'")
        try:
            item = arts.artifact(settings.artifacts_root, label, raw)
        except arts.ArtifactRefused as exc:
            raise HTTPException(403, str(exc)) from None
        media = "text/plain; charset=utf-8" if item.kind in ("markdown", "text") else item.media_type
        return FileResponse(item.path, media_type=media, headers=FILE_HEADERS)

    return app
