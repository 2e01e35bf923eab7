"""The Milvus view's logic without a server: the contract (property roles, asset URIs, run
figures, artefact paths), the artefacts root (no way out of it), the SVG charts, the rows
joined from Milvus and the metadata database, and the plugin's registration."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from milvus_provider.ui import artifacts as arts
from milvus_provider.ui.charts import line_chart
from milvus_provider.ui.contract import (
    Facts,
    RunEvent,
    artifact_paths,
    asset_target,
    role_of,
    series_keys,
    visible,
)
from milvus_provider.ui.metadata import Metadata, RunState, env_connection_ids
from milvus_provider.ui.milvus_read import AliasView, CollectionView, ConnectionView, describe
from milvus_provider.ui.rows import index_rows

T0 = datetime(2026, 12, 1, tzinfo=UTC)


# ---- the contract ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "role"),
    [
        ("embedding", "embedding"),
        ("milvus_toolkit.embedding", "embedding"),
        ("acme.previous", "previous"),
        ("x.build_of", "build_of"),
        ("dag_id", "dag_id"),
        ("quality.recall_at_10", "quality"),
        ("milvus_toolkit.quality.ndcg", "quality"),
        ("milvus_toolkit.source_root", None),
        ("embedding_note", None),
        ("collection.ttl.seconds", None),
    ],
)
def test_a_property_key_has_the_role_of_its_last_segment(key, role):
    assert role_of(key) == role


def test_facts_of_properties_whatever_the_namespace():
    facts = Facts.of(
        {
            "milvus_toolkit.embedding": "all-MiniLM-L6-v2/384",
            "milvus_toolkit.previous": "docs__20261201",
            "milvus_toolkit.quality.recall_at_10": "0.93",
            "quality.mrr": "0.8",
            "collection.ttl.seconds": "0",
        }
    )
    assert facts.embedding == "all-MiniLM-L6-v2/384"
    assert facts.dimension_from_embedding == 384
    assert facts.previous == "docs__20261201"
    assert facts.quality == {"recall_at_10": "0.93", "mrr": "0.8"}
    assert facts.build_of is None and facts.dag_id is None


def test_secret_looking_values_are_hidden():
    shown = visible({"api_key": "sk-1", "db.password": "p", "embedding": "m/3", "token_count": "1"})
    assert shown == {"api_key": "(hidden)", "db.password": "(hidden)", "embedding": "m/3", "token_count": "(hidden)"}


@pytest.mark.parametrize(
    ("uri", "target"),
    [
        ("milvus://docs", (None, "docs")),
        ("milvus://milvus_lite/docs", ("milvus_lite", "docs")),
        ("milvus://a/b/c", None),
        ("s3://bucket/docs", None),
        ("milvus://", None),
    ],
)
def test_asset_uris_name_a_collection_and_maybe_a_connection(uri, target):
    assert asset_target(uri) == target


def test_run_figures_and_the_series_charted():
    events = [
        RunEvent(T0, "d", "r1", {"rows": 10, "added": 10, "validation": "passed", "quality.recall": 0.9}),
        RunEvent(T0 + timedelta(hours=1), "d", "r2", {"rows": "12", "deleted": 1, "validation": "FAILED", "x": [1]}),
        RunEvent(T0 + timedelta(hours=2), "d", "r3", {"added": True, "duration_s": None}),
    ]
    assert [e.validation for e in events] == ["passed", "failed", None]
    assert events[1].number("rows") == 12.0
    assert events[2].number("added") is None, "a boolean is not a figure"
    assert series_keys(events) == ["rows", "added", "deleted", "quality.recall"]
    assert "x" not in events[1].details, "only scalars are listed"


def test_artifact_paths_of_an_xcom_value():
    assert artifact_paths({"paths": {"png": "/r/a.png", "none": None, "empty": ""}, "x": 1}) == {"png": "/r/a.png"}
    assert artifact_paths({"png": "/r/a.png"}) == {}
    assert artifact_paths(["paths"]) == {}


# ---- the artefacts root -------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "root"
    (base / "runs").mkdir(parents=True)
    (base / "runs" / "r1.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (base / "runs" / "r1.md").write_text("# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "secret.txt").write_text("not yours")
    os.symlink(tmp_path / "secret.txt", base / "runs" / "link.txt")
    return base


def test_files_under_the_root_are_served(root):
    item = arts.artifact(root, "chart", str(root / "runs" / "r1.png"))
    assert (item.kind, item.media_type) == ("image", "image/png")
    assert item.data_uri().startswith("data:image/png;base64,")
    assert arts.artifact(root, "report", "runs/r1.md").kind == "markdown", "relative to the root"


@pytest.mark.parametrize(
    "raw",
    ["../secret.txt", "runs/../../secret.txt", "{tmp}/secret.txt", "runs/link.txt", "/etc/passwd", "runs/r1.png\x00"],
)
def test_nothing_outside_the_root_is_served(root, raw):
    with pytest.raises(arts.ArtifactRefused, match="outside the artefacts root|NUL"):
        arts.resolve(root, raw.format(tmp=root.parent))


def test_no_root_no_files(root):
    with pytest.raises(arts.ArtifactRefused, match="no artefacts root"):
        arts.resolve(None, str(root / "runs" / "r1.png"))
    with pytest.raises(arts.ArtifactRefused, match="not a file"):
        arts.resolve(root, "runs")


# ---- charts -------------------------------------------------------------------------------------


def test_a_line_chart_has_a_point_per_run_oldest_first():
    svg = line_chart("rows", [(T0 + timedelta(hours=2), 30.0), (T0, 10.0), (T0 + timedelta(hours=1), 20.0)])
    assert svg.startswith("<svg") and svg.count("<circle") == 3
    xs = [float(p.split(",")[0]) for p in svg.split('points="')[1].split('"')[0].split()]
    assert xs == sorted(xs)
    assert "12-01 00:00" in svg and "12-01 02:00" in svg
    assert "no data" in line_chart("rows", [])
    assert "<script" not in line_chart("<script>alert(1)</script>", [(T0, 1.0)])


# ---- rows: Milvus joined with the metadata database ---------------------------------------------------


def test_rows_of_a_connection_join_aliases_properties_and_events():
    build = CollectionView(name="docs__b2", aliases=["docs"], rows=42, loaded=True)
    describe(
        build,
        {
            "fields": [
                {"name": "pk", "type": "VARCHAR"},
                {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 384}},
                {"name": "sparse", "type": "SPARSE_FLOAT_VECTOR"},
                {"name": "tenant", "type": "VARCHAR", "is_partition_key": True},
            ],
            "functions": [{"type": "BM25", "input_field_names": ["text"], "output_field_names": ["sparse"]}],
            "properties": {"milvus_toolkit.previous": "docs__b1", "milvus_toolkit.embedding": "m/384", "token": "t"},
        },
    )
    view = ConnectionView(conn_id="c", collections=[build], aliases=[AliasView("docs", "docs__b2")])
    meta = Metadata()
    meta.events[(None, "docs")].append(RunEvent(T0, "reindex_docs", "r1", {"validation": "passed", "sources": 7}))
    meta.events[("other_conn", "docs")].append(RunEvent(T0 + timedelta(1), "x", "r9", {}))
    meta.last_runs["reindex_docs"] = RunState("reindex_docs", "r2", "failed", T0 + timedelta(hours=1), None)
    alias, collection = index_rows(view, meta)

    assert (alias.name, alias.kind, alias.serving, alias.rows) == ("docs", "alias", "docs__b2", 42)
    assert (alias.rollback_copy, alias.facts.embedding) == ("docs__b1", "m/384")
    assert (alias.dag_id, alias.validation, alias.sources, alias.events) == ("reindex_docs", "passed", 7, 1)
    assert alias.last_run.state == "failed", "the DAG's newest run, after the last event"
    assert (collection.name, collection.kind, collection.aliases, collection.events) == (
        "docs__b2",
        "collection",
        ["docs"],
        0,
    )
    data = alias.as_dict()
    assert (data["vector_field"], data["dimension"], data["hybrid"], data["partition_key"]) == (
        "vector",
        384,
        True,
        "tenant",
    )
    assert build.properties["token"] == "(hidden)"


def test_milvus_connections_from_the_environment():
    env = {
        "AIRFLOW_CONN_MILVUS_DEFAULT": "milvus://root:pw@127.0.0.1:19530/default",
        "AIRFLOW_CONN_LITE": '{"conn_type": "milvus", "host": "http://127.0.0.1"}',
        "AIRFLOW_CONN_PG": "postgresql://u:p@h/db",
        "AIRFLOW_CONN_BROKEN": "{not json",
        "OTHER": "milvus://x",
    }
    assert sorted(env_connection_ids(env)) == ["lite", "milvus_default"]


# ---- registration -------------------------------------------------------------------------------------


def test_the_plugin_registers_its_app_and_views():
    from importlib.metadata import entry_points

    from milvus_provider.ui.plugin import MilvusViewPlugin

    (ep,) = [e for e in entry_points(group="airflow.plugins") if e.name == "milvus_view"]
    assert ep.load() is MilvusViewPlugin
    (app,) = MilvusViewPlugin.fastapi_apps
    assert app["url_prefix"] == "/milvus"
    views = {v["destination"]: v for v in MilvusViewPlugin.external_views}
    assert views["nav"]["href"] == "/milvus/"
    assert views["dag_run"]["href"] == "/milvus/runs/{DAG_ID}/{RUN_ID}"


# ---- the read pass's deadline ---------------------------------------------------------------------------


def test_a_connection_that_does_not_answer_in_time_is_named_not_waited_for(monkeypatch):
    import threading

    from milvus_provider.ui import milvus_read

    release = threading.Event()

    def read(conn_id, timeout, names=None):
        if conn_id == "slow":
            release.wait(30)
        return ConnectionView(conn_id=conn_id, server_version="v2.5.0")

    monkeypatch.setattr(milvus_read, "read_connection", read)
    try:
        fast, slow = milvus_read.read_all(["fast", "slow"], timeout=1, deadline=0.5)
        assert not release.is_set(), "the answer came while the slow server was still busy"
    finally:
        release.set()
    assert (fast.error, fast.server_version) == (None, "v2.5.0")
    assert slow.conn_id == "slow" and "did not answer within" in slow.error


# ---- settings and failures of the metadata database ----------------------------------------------------


def test_settings_from_airflow_config(monkeypatch):
    from milvus_provider.ui.app import Settings

    monkeypatch.setenv("AIRFLOW__MILVUS__UI_CONNECTIONS", " a, b ,,")
    monkeypatch.setenv("AIRFLOW__MILVUS__UI_TIMEOUT", "2.5")
    monkeypatch.setenv("AIRFLOW__MILVUS__UI_ARTIFACTS_ROOT", "/results")
    settings = Settings.load()
    assert (settings.connections, settings.timeout, settings.deadline) == (["a", "b"], 2.5, 20.0)
    assert settings.artifacts_root == "/results"
    monkeypatch.setenv("AIRFLOW__MILVUS__UI_DEADLINE", "soon")
    with pytest.raises(ValueError, match=r"\[milvus\] ui_deadline = 'soon' is not a number"):
        Settings.load()


def test_a_failed_metadata_read_is_a_503_that_says_so():
    from fastapi import HTTPException
    from sqlalchemy.exc import OperationalError

    from milvus_provider.ui.app import metadata_errors

    with pytest.raises(HTTPException) as refused, metadata_errors():
        raise OperationalError("SELECT 1", {}, Exception("canceling statement due to statement timeout"))
    assert refused.value.status_code == 503
    assert "metadata database did not answer" in refused.value.detail


# ---- pages: what a collection or a report holds is text, never markup ------------------------------------


def test_values_from_milvus_and_reports_cannot_inject_markup():
    from milvus_provider.ui.app import _env, _markdown

    coll = CollectionView(name="docs", rows=1, loaded=True)
    describe(coll, {"fields": [], "properties": {"note": "<script>alert(1)</script>", "quality.x": "<b>0.9</b>"}})
    view = ConnectionView(conn_id="c", collections=[coll])
    meta = Metadata()
    meta.events[(None, "docs")].append(RunEvent(T0, "<img src=x onerror=alert(1)>", "r", {"validation": "passed"}))
    html = (
        _env()
        .get_template("indexes.html")
        .render(base="/milvus", connections=[(view, index_rows(view, meta))], no_connections=False, seconds=0.1)
    )
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    report = _markdown("# Report\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<script>" not in report and "<table>" in report and "<h1>Report</h1>" in report
