"""The Milvus view (issue 22) in a real Airflow: the provider's plugin loaded by a real
api-server from its ``airflow.plugins`` entry point, a real ingest and a real small benchmark
run by the scheduler, the pages read over HTTP and in Debian's Chromium.

The session's one local Airflow (fixture ``airflow_ui`` in tests/ui_session.py, shared with
tests/integration/test_ui.py; ``ui_support.ui_stack``: LocalExecutor, api-server on a free
loopback port, its own PostgreSQL database) against the session's Milvus 2.3.5 server, with
``[milvus] ui_artifacts_root`` set to the benchmark's ``runs/`` folder (so the run's
``history.csv``, one level up, is a file outside the root: refused)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from tests.integration.ui_support import ARTIFACTS, Api, browser_page, free_port

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
browser = pytest.mark.browser

COLLECTION = "view_sample"
RUN_TIMEOUT = 300
BENCHMARK_CONF = {
    "operations": ["add"],
    "counts": [5],
    "concurrency": ["all"],
    "consistency_levels": ["Session"],
    "layers": ["raw"],
    "dim": 8,
    "sweep_concurrency": [],
}


@dataclass
class View:
    stack: object
    api: Api
    base_url: str
    ingest_run: str
    bench_run: str
    runs_root: Path


def _drop(conn_uri: str) -> None:
    from milvus_provider.hooks.milvus import MilvusHook

    hook = MilvusHook()
    try:
        if hook.has_collection(COLLECTION):
            hook.drop_collection(COLLECTION)
    finally:
        hook.close()


def _wait(api: Api, dag_id: str, run_id: str) -> None:
    state = api.wait_for_run(dag_id, run_id, RUN_TIMEOUT)
    assert state == "success", f"{dag_id} run {run_id} ended {state!r}:\n{api.failure_report(dag_id, run_id)}"


@pytest.fixture(scope="module")
def view(airflow_ui, milvus_conn_uri):
    """The session's Airflow with one ingest of the sample corpus into ``view_sample`` and one
    small benchmark run, both finished (the newest runs of their DAGs while this module's
    tests run: the view shows a DAG's newest run)."""
    api = airflow_ui.api
    _drop(milvus_conn_uri)
    try:
        conf = {"source": str(SAMPLE_CORPUS), "collection": COLLECTION, "embedding": "deterministic"}
        ingest = api("POST", "/api/v2/dags/milvus_ingest/dagRuns", {"logical_date": None, "conf": conf})
        bench = api("POST", "/api/v2/dags/milvus_benchmark/dagRuns", {"logical_date": None, "conf": BENCHMARK_CONF})
        _wait(api, "milvus_ingest", ingest["dag_run_id"])
        _wait(api, "milvus_benchmark", bench["dag_run_id"])
        yield View(
            airflow_ui.stack, api, airflow_ui.base_url, ingest["dag_run_id"], bench["dag_run_id"], airflow_ui.runs_root
        )
    finally:
        _drop(milvus_conn_uri)


def get(view: View, path: str, token: str | None = None, cookie: str | None = None) -> tuple[int, str, dict]:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = f"_token={cookie}"
    req = urllib.request.Request(view.base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read().decode(errors="replace"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace"), dict(exc.headers)


def run_path(view: View) -> str:
    return f"/milvus/runs/milvus_benchmark/{quote(view.bench_run, safe='')}"


# ---- over HTTP ----------------------------------------------------------------------------------------


@pytest.mark.timeout(900)
def test_every_endpoint_refuses_an_anonymous_request(view):
    paths = [
        "/milvus/",
        "/milvus/api/indexes",
        f"/milvus/index/milvus_default/{COLLECTION}",
        run_path(view),
        run_path(view) + "/artifacts/report/png",
    ]
    for path in paths:
        status, body, _ = get(view, path)
        assert status == 401, (path, status, body[:300])
        status, body, _ = get(view, path, token="not-a-jwt")
        assert status in (401, 403), (path, status, body[:300])
        assert COLLECTION not in body
    for path in paths:  # the same with the admin's token
        status, body, _ = get(view, path, token=view.api.token)
        assert status == 200, (path, status, body[:500])


def test_the_json_lists_the_sample_index_with_its_strong_count_and_no_secret(view, hook, milvus_conn_uri):
    status, body, _ = get(view, "/milvus/api/indexes", token=view.api.token)
    assert status == 200
    data = json.loads(body)
    (conn,) = [c for c in data["connections"] if c["conn_id"] == "milvus_default"]
    assert conn["error"] is None and conn["server_version"].startswith("v2.3.5")
    (row,) = [r for r in conn["indexes"] if r["name"] == COLLECTION]
    assert row["rows"] == hook.count(COLLECTION) > 0
    assert (row["kind"], row["vector_field"], row["dimension"]) == (
        "collection",
        "vector",
        hook.collection_dim(COLLECTION),
    )
    assert row["embedding"] == hook.collection_properties(COLLECTION)["milvus_toolkit.embedding"]
    assert (row["dag_id"], row["validation"], row["runs_recorded"]) == ("milvus_ingest", "passed", 1)
    assert row["last_run"]["run_id"] == view.ingest_run and row["last_run"]["state"] == "success"
    password = unquote(urlsplit(milvus_conn_uri).password)
    status, html, _ = get(view, "/milvus/", token=view.api.token)
    for text in (body, html):
        assert password not in text, "no connection secret in a page"


def test_one_index_page_shows_its_history(view):
    status, html, _ = get(view, f"/milvus/index/milvus_default/{COLLECTION}", token=view.api.token)
    assert status == 200
    assert view.ingest_run in html and "milvus_ingest" in html
    assert "rows_written" in html, "the run's figures, as the Asset event recorded them"
    status, _, _ = get(view, "/milvus/index/not_a_milvus_conn/x", token=view.api.token)
    assert status == 404


def test_the_run_report_serves_files_under_the_root_only(view):
    status, html, _ = get(view, run_path(view), token=view.api.token)
    assert status == 200
    assert 'class="artifact-image"' in html and "data:image/png;base64," in html
    assert "Milvus benchmark" in html, "the Markdown report, rendered"
    assert "outside the artefacts root" in html, "history.csv lies one level above the configured root"

    status, body, headers = get(view, run_path(view) + "/artifacts/report/png", token=view.api.token)
    assert status == 200 and headers["content-type"] == "image/png" and body.startswith("\ufffdPNG")
    assert "default-src 'none'" in headers["content-security-policy"]
    status, body, _ = get(view, run_path(view) + "/artifacts/report/history", token=view.api.token)
    assert status == 403 and "outside the artefacts root" in body
    for label in ("..%2F..%2Fhistory.csv", "..%2Fhistory", "%2Fetc%2Fpasswd"):
        status, _, _ = get(view, run_path(view) + f"/artifacts/report/{label}", token=view.api.token)
        assert status == 404, label
    # A run without report files says so.
    status, html, _ = get(view, f"/milvus/runs/milvus_ingest/{quote(view.ingest_run, safe='')}", token=view.api.token)
    assert status == 200 and 'id="no-artifacts"' in html


# ---- in the browser -------------------------------------------------------------------------------------


@pytest.fixture
def ui(chromium, airflow_ui, view, request):
    """A fresh browser context, logged in as admin: ``(page, step)``."""
    (ARTIFACTS / "milvus-view").mkdir(parents=True, exist_ok=True)
    with browser_page(chromium, airflow_ui, request.node.name, {"width": 1500, "height": 950}) as page_and_step:
        yield page_and_step


@browser
@pytest.mark.timeout(600)
def test_the_view_from_the_navigation_shows_the_sample_index(ui, view, hook):
    from playwright.sync_api import expect

    page, step = ui
    with step(page, "open Milvus from the navigation"):
        page.get_by_role("link", name="Milvus").or_(page.get_by_role("button", name="Milvus")).first.click()
        page.wait_for_url(re.compile(r"/plugin/milvus$"))
        frame = page.frame_locator("iframe[title='Milvus']")
        expect(frame.get_by_role("heading", name="Milvus indexes")).to_be_visible()

    with step(page, "the sample index with its Strong row count"):
        row = frame.locator(f"tr.index-row[data-name='{COLLECTION}']")
        expect(row).to_be_visible()
        shown = int(row.get_attribute("data-rows"))
        assert shown == hook.count(COLLECTION) > 0
        expect(row.locator("td.rows")).to_have_text(f"{shown:,}")
        expect(row).to_contain_text("milvus_ingest")
        expect(row).to_contain_text("passed")
        page.screenshot(path=str(ARTIFACTS / "milvus-view" / "milvus-view.png"))

    with step(page, "open the index's history"):
        row.get_by_role("link", name=COLLECTION).click()
        expect(frame.get_by_role("heading", name=re.compile(COLLECTION))).to_be_visible()
        expect(frame.get_by_text(view.ingest_run)).to_be_visible()
        expect(frame.locator("svg.chart").first).to_be_visible()


@browser
@pytest.mark.timeout(600)
def test_a_benchmark_run_shows_its_chart(ui, view):
    from playwright.sync_api import expect

    page, step = ui
    with step(page, "the benchmark run's Milvus report tab"):
        page.goto(f"/dags/milvus_benchmark/runs/{quote(view.bench_run, safe='')}")
        page.get_by_role("tab", name="Milvus report").or_(page.get_by_role("link", name="Milvus report")).first.click()
        frame = page.frame_locator("iframe[title='Milvus report']")
        image = frame.locator("img.artifact-image").first
        expect(image).to_be_visible()

    with step(page, "the chart image loaded"):
        width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 0
        expect(frame.locator(".report table").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "milvus-view" / "milvus-benchmark-report.png"), full_page=True)


@browser
@pytest.mark.timeout(600)
def test_a_milvus_that_is_down_is_named_on_the_page(ui, view, hook):
    from playwright.sync_api import expect

    page, step = ui
    closed = free_port()  # bound, then released: nothing listens there
    conn_id = "view_milvus_down"
    view.api(
        "POST",
        "/api/v2/connections",
        {"connection_id": conn_id, "conn_type": "milvus", "host": "http://127.0.0.1", "port": closed},
    )
    try:
        with step(page, "the view with a connection to a closed port"):
            page.goto("/plugin/milvus")
            frame = page.frame_locator("iframe[title='Milvus']")
            down = frame.locator(f"section[data-conn='{conn_id}'] .milvus-error")
            expect(down).to_be_visible(timeout=90_000)
            expect(down).to_contain_text("Milvus is unreachable")
            expect(down).to_contain_text(f"127.0.0.1:{closed}")
            assert "Traceback" not in frame.locator("body").inner_text()
            # the other connection still shows its index
            expect(frame.locator(f"tr.index-row[data-name='{COLLECTION}']")).to_be_visible()
    finally:
        view.api("DELETE", f"/api/v2/connections/{conn_id}")
