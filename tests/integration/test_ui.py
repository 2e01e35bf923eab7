"""The Airflow UI end to end, in a real browser (GitHub issue 7), and the same ingest through
the REST API.

The session's one local Airflow (fixture ``airflow_ui`` in tests/ui_session.py, shared with
the provider's Milvus view tests: LocalExecutor, api-server on a free loopback port, its own
AIRFLOW_HOME and PostgreSQL database under .local/test/), started and stopped by the command
behind ``make airflow-up`` / ``airflow-down`` (``python -m milvus_toolkit_dev.local_airflow``,
whose own test is the first here), against the test session's Milvus, with deterministic
embeddings so that runs take seconds. Debian's Chromium
(``make system-deps``) is driven headless by Playwright for Python.

Every browser step leaves a screenshot in test-artifacts/ui/; a failing step leaves
test-artifacts/<test>-<step>.png and prints the page's text (see ``ui_support.Steps``).
Run states are polled through the REST API (the UI is only looked at once a run is over),
so a slow page never decides a verdict on its own.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit

import pytest

from milvus_toolkit.ingest.documents import discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit_dev.processes import listening_sockets
from tests.integration.ui_support import Api, browser_page, cli, free_port

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
browser = pytest.mark.browser

RUN_TIMEOUT = 240  # seconds for one run; an ingest of the sample corpus takes ~25 s here


def expected_rows(chunk_size: int, chunk_overlap: int = 150) -> int:
    """What milvus_ingest must write for the sample corpus (the same splitter it uses)."""
    return sum(
        len(split_document(doc, SplitSettings("auto", chunk_size, chunk_overlap)))
        for doc in load(discover(str(SAMPLE_CORPUS)))
    )


@pytest.fixture
def ui(chromium, airflow_ui, request):
    """A fresh browser context, logged in as admin: ``(page, step)``."""
    with browser_page(
        chromium, airflow_ui, request.node.name, {"width": 1400, "height": 1000}, clipboard=True
    ) as page_and_step:
        yield page_and_step


def open_dag(page, dag_id: str) -> None:
    """From the Dags list, the DAG's own page, once it has replaced the list (the list has a
    "Trigger Dag" button per DAG too). The list first, and a link to the DAG's page: the Home
    page before it links a task of the DAG's last run under the DAG's name when that run
    emitted an Asset event (on the session's shared Airflow, the Milvus view's ingest)."""
    from playwright.sync_api import expect

    page.wait_for_url(re.compile(r"/dags/?(\?.*)?$"))
    link = page.get_by_role("link", name=dag_id, exact=True).and_(page.locator(f"a[href$='/dags/{dag_id}']"))
    link.first.click()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}/?$"))
    expect(page.get_by_text("Latest Dag Version")).to_be_visible()
    expect(page.get_by_role("button", name="Trigger Dag")).to_have_count(1)


def trigger_button(page):
    """The DAG page's "Trigger Dag" button."""
    return page.get_by_role("button", name="Trigger Dag")


def wait_for_success(api: Api, dag_id: str, run_id: str) -> None:
    state = api.wait_for_run(dag_id, run_id, RUN_TIMEOUT)
    assert state == "success", f"run {run_id} of {dag_id} ended {state!r}:\n{api.failure_report(dag_id, run_id)}"


def trigger_from_dialog(page, dialog, dag_id: str) -> dict:
    """Press the dialog's Trigger button; the created run as the REST API answered the UI."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/dags/{dag_id}/dagRuns"), timeout=60_000
    ) as answer:
        dialog.get_by_role("button", name="Trigger", exact=True).click()
    response = answer.value
    assert response.status == 200, f"trigger refused ({response.status}): {response.text()}"
    page.wait_for_url(re.compile(rf"/dags/{dag_id}/runs/.+"), timeout=60_000)
    return response.json()


def open_task_log(page, dag_id: str, run_id: str, task_id: str) -> None:
    """From the run's page, the task's page (its Logs tab is the default one), every log
    line on screen.

    What a task print()s reaches the supervisor through a pipe and is stamped when it is
    read, often after the task's last log record: such lines land in the "Post Execute"
    group, which the log view shows collapsed. So both groups are opened, and the page is
    made tall enough for the log view (a virtual list) to render every line."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 2400})
    page.goto(f"/dags/{dag_id}/runs/{run_id}")
    link = page.locator(f"a[href*='/runs/'][href$='/tasks/{task_id}']").first
    expect(link).to_be_visible()
    link.click()
    page.wait_for_url(re.compile(rf"/runs/.+/tasks/{task_id}$"))
    expect(page.get_by_text("Logs", exact=True).first).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    for group in ("Pre Execute", "Post Execute"):
        header = page.locator(f"[data-testid='summary-{group}']")
        expect(header).to_be_visible()
        if header.inner_text().startswith("\u25b6"):  # ▶ collapsed, ▼ open
            header.click()
            expect(header).to_have_text(re.compile("^\u25bc"))


# ---- the ingest, from the trigger form to the rows in Milvus ------------------------------------------


LOOPBACK = {"127.0.0.1", "::1"}


@pytest.mark.timeout(400)
def test_local_airflow_cli_is_idempotent_loopback_only_and_leaves_nothing(airflow_ui):
    """The command behind `make airflow-up` / `make airflow-down`, default LocalExecutor: it
    started the session's Airflow (fixture ``airflow_ui``), a second `up` starts nothing, and
    `down` at the session's end stops everything, then finds nothing (asserted there)."""
    stack, first = airflow_ui.stack, airflow_ui.started
    assert "(LocalExecutor) ready in" in first and stack.base_url in first
    processes = stack.processes()
    assert len(processes) >= 4
    sockets = listening_sockets(processes)
    assert {addr for _, addr, _ in sockets} <= LOOPBACK and {p for _, _, p in sockets} == {stack.port}, sockets
    assert stack.is_healthy()

    second = cli(stack, "up")
    assert "already running" in second.stdout
    assert sorted(stack.processes()) == sorted(processes), "a second up starts nothing"
    assert "scheduler      running" in cli(stack, "status").stdout


@browser
@pytest.mark.timeout(600)
def test_ingest_from_the_trigger_form(ui, airflow_ui, hook, collection_name):
    from playwright.sync_api import expect

    page, step = ui
    api = airflow_ui.api
    chunk_size = 400
    params = api("GET", "/api/v2/dags/milvus_ingest/details")["params"]
    assert {"source", "collection", "chunk_size", "embedding", "batch_size", "on_bad_file"} <= set(params)

    with step(page, "open milvus_ingest from the Dags list"):
        page.get_by_role("link", name="Dags", exact=True).click()
        open_dag(page, "milvus_ingest")

    with step(page, "open the trigger form, every param with its title and description"):
        trigger_button(page).click()
        dialog = page.get_by_role("dialog").filter(has_text="Trigger Dag - milvus_ingest")
        expect(dialog).to_be_visible()
        for name, spec in params.items():
            title, description = spec["schema"].get("title"), spec.get("description")
            assert title and description, f"param {name} has a title and a description in the DAG"
            expect(dialog.locator("label", has_text=title).first).to_be_visible()
            expect(dialog.get_by_text(description, exact=True)).to_be_visible()
        # No default for what a run acts on: the form starts with source and collection empty.
        assert params["source"]["value"] is None and params["collection"]["value"] is None
        expect(dialog.locator("input[name='element_collection']")).to_have_value("")
        expect(dialog.get_by_role("spinbutton", name="Chunk size")).to_have_value(str(params["chunk_size"]["value"]))

    with step(page, "fill source and collection, change the chunk size"):
        source = dialog.locator("input[name='element_source']")
        source.fill(str(SAMPLE_CORPUS))
        collection = dialog.locator("input[name='element_collection']")
        collection.fill(collection_name)
        size = dialog.get_by_role("spinbutton", name="Chunk size")
        size.fill(str(chunk_size))
        size.blur()
        expect(collection).to_have_value(collection_name)
        expect(size).to_have_value(str(chunk_size))
        size.scroll_into_view_if_needed()

    with step(page, "trigger"):
        run = trigger_from_dialog(page, dialog, "milvus_ingest")
        run_id = run["dag_run_id"]
        assert run["conf"]["collection"] == collection_name
        assert run["conf"]["source"] == str(SAMPLE_CORPUS)
        assert run["conf"]["chunk_size"] == chunk_size
        assert run["conf"]["embedding"] == "deterministic"

    with step(page, "the run succeeds"):
        wait_for_success(api, "milvus_ingest", run_id)
        page.reload()
        expect(page.get_by_text(run_id).first).to_be_visible()

    with step(page, "the summary in the report task's log"):
        open_task_log(page, "milvus_ingest", run_id, "report")
        expect(page.get_by_text(f"Ingest into '{collection_name}'").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"rows\s+:\s+\d+ written")).first).to_be_visible()
        log = page.inner_text("body")
        written = int(re.search(r"rows\s+:\s+(\d+) written", log).group(1))
        assert re.search(r"validate\s+:\s+passed", log), log[-3000:]

    expected = expected_rows(chunk_size)
    assert written == expected
    assert hook.count(collection_name) == expected


# ---- the same ingest through the REST API ------------------------------------------------------------


@pytest.mark.timeout(600)
def test_ingest_through_the_rest_api(airflow_ui, hook, collection_name):
    stack = airflow_ui.stack
    password_file = stack.airflow_home / "simple_auth_manager_passwords.json.generated"
    assert json.loads(password_file.read_text())["admin"]
    with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no API
        urllib.request.urlopen(f"{stack.base_url}/api/v2/dags/milvus_ingest", timeout=30)
    assert refused.value.code == 401
    api = Api(stack)  # POST /auth/token with that password

    chunk_size = 600
    conf = {
        "source": str(SAMPLE_CORPUS),
        "collection": collection_name,
        "chunk_size": chunk_size,
        "embedding": "deterministic",
    }
    run = api("POST", "/api/v2/dags/milvus_ingest/dagRuns", {"logical_date": None, "conf": conf})
    run_id = run["dag_run_id"]
    assert run["conf"]["collection"] == collection_name
    wait_for_success(api, "milvus_ingest", run_id)

    tis = api.task_instances("milvus_ingest", run_id)
    assert {ti["task_id"] for ti in tis} >= {
        "check_inputs",
        "list_sources",
        "split_shard",
        "merge_shards",
        "write_batch",
        "validate",
        "report",
    }
    assert all(ti["state"] == "success" for ti in tis), [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    log = api.task_log("milvus_ingest", run_id, "report")
    assert f"Ingest into '{collection_name}'" in log, log[-3000:]

    expected = expected_rows(chunk_size)
    assert re.search(rf"rows\s+:\s+{expected} written", log), log[-3000:]
    assert hook.count(collection_name) == expected
    assert hook.count(collection_name) != expected_rows(400), "the chunk size reached the splitter"


# ---- Admin > Connections: a Milvus connection through its own form, and its Test button -------------


@browser
@pytest.mark.timeout(300)
def test_add_a_milvus_connection_and_test_it(ui, airflow_ui, milvus_conn_uri):
    from playwright.sync_api import expect

    page, step = ui
    api = airflow_ui.api
    server = urlsplit(milvus_conn_uri)
    closed_port = free_port()  # bound, then released: nothing listens there
    cases = [
        (
            "ui_milvus_local",
            server.port,
            "Test Connection Successful",
            re.compile(rf"Connected to Milvus v\S+ at http://127\.0\.0\.1:{server.port}, database 'default'"),
        ),
        (
            "ui_milvus_closed_port",
            closed_port,
            "Test Connection Failed",
            re.compile(rf"Cannot reach Milvus at http://127\.0\.0\.1:{closed_port}: Connection refused"),
        ),
    ]

    try:
        with step(page, "Admin > Connections"):
            page.get_by_role("button", name="Admin").click()
            page.get_by_role("menuitem", name="Connections").click()
            page.wait_for_url(re.compile(r"/connections"))
            expect(page.get_by_role("button", name="Add Connection")).to_be_visible()

        for conn_id, port, title, message in cases:
            with step(page, f"add {conn_id} with the Milvus form"):
                page.get_by_role("button", name="Add Connection").click()
                dialog = page.get_by_role("dialog").filter(has_text="Add Connection")
                expect(dialog).to_be_visible()
                dialog.get_by_role("textbox", name="Connection ID").fill(conn_id)
                dialog.get_by_role("combobox", name="Connection Type").fill("Milvus")
                page.get_by_role("option", name="Milvus", exact=True).click()
                # The provider's relabelled standard fields.
                dialog.get_by_role("textbox", name="URI").fill("http://127.0.0.1")
                # Port given on its own: Airflow 3.3.2's Test sends port 0 for an empty Port, which
                # the API takes for "another endpoint" and refuses (400) instead of testing.
                dialog.get_by_role("spinbutton", name="Port").fill(str(port))
                dialog.get_by_role("textbox", name="User").fill(unquote(server.username))
                dialog.get_by_role("textbox", name="Password").fill(unquote(server.password))
                dialog.get_by_role("textbox", name="Database").fill("default")
                # The provider's own fields (conn-fields), under "Extra Fields".
                dialog.get_by_role("button", name="Extra Fields", exact=True).click()
                expect(dialog.get_by_text("Token / API key")).to_be_visible()
                expect(dialog.get_by_role("checkbox", name="TLS")).not_to_be_checked()
                dialog.get_by_role("spinbutton", name="Request timeout (seconds)").fill("10")
                dialog.get_by_role("button", name="Save").click()
                expect(dialog).to_be_hidden()
                expect(page.get_by_role("row").filter(has_text=conn_id)).to_be_visible()

            stored = api("GET", f"/api/v2/connections/{conn_id}")
            assert (stored["conn_type"], stored["host"], stored["port"], stored["login"], stored["schema"]) == (
                "milvus",
                "http://127.0.0.1",
                port,
                unquote(server.username),
                "default",
            )
            assert json.loads(stored["extra"])["timeout"] == 10

            with step(page, f"Test {conn_id}: {title}"):
                row = page.get_by_role("row").filter(has_text=conn_id)
                row.get_by_role("button", name="Test Connection").click()
                toast = page.get_by_role("status").filter(has_text=re.compile("Test Connection (Successful|Failed)"))
                expect(toast.first).to_be_visible(timeout=60_000)
                expect(toast).to_have_count(1)
                expect(toast).to_contain_text(title)
                expect(toast).to_contain_text(message)

            page.reload()  # no toast of this case is left for the next one to read
            expect(page.get_by_role("button", name="Add Connection")).to_be_visible()
    finally:  # the session's Airflow is shared: no connection of this test outlives it
        for conn_id, *_ in cases:
            try:
                api("DELETE", f"/api/v2/connections/{conn_id}")
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # 404: the test stopped before adding it
                    raise


# ---- the benchmark, small, and its table in the log ----------------------------------------------------


def fill_json_editor(page, editor, text: str) -> None:
    """Replace the content of the form's JSON editor (Monaco) by pasting: typing would meet
    its auto-closing brackets, and an emptied editor is reset to []."""
    editor.locator(".view-lines").click()
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    page.keyboard.press("ControlOrMeta+KeyA")
    page.keyboard.press("ControlOrMeta+KeyV")


@browser
@pytest.mark.timeout(600)
def test_benchmark_from_the_trigger_form(ui, airflow_ui):
    from playwright.sync_api import expect

    page, step = ui
    api = airflow_ui.api

    with step(page, "open milvus_benchmark and its trigger form"):
        page.goto("/dags")
        open_dag(page, "milvus_benchmark")
        trigger_button(page).click()
        dialog = page.get_by_role("dialog").filter(has_text="Trigger Dag - milvus_benchmark")
        expect(dialog).to_be_visible()

    with step(page, "small counts: one operation, count 5, dim 8, Session only"):
        dialog.locator("textarea[name='element_operations']").fill("add")
        dialog.locator("textarea[name='element_concurrency']").fill("all")
        dialog.locator("textarea[name='element_consistency_levels']").fill("Session")
        counts = dialog.locator(".monaco-editor").first
        fill_json_editor(page, counts, "[5]")
        expect(counts.locator(".view-lines")).to_have_text(re.compile(r"^\[\s*5\s*\]$"))
        dim = dialog.get_by_role("spinbutton", name="Vector dimension")
        dim.fill("8")
        dim.blur()
        expect(dim).to_have_value("8")

    with step(page, "trigger"):
        run = trigger_from_dialog(page, dialog, "milvus_benchmark")
        run_id = run["dag_run_id"]
        conf = run["conf"]
        assert (conf["operations"], conf["counts"], conf["concurrency"], conf["consistency_levels"], conf["dim"]) == (
            ["add"],
            [5],
            ["all"],
            ["Session"],
            8,
        )

    with step(page, "the run succeeds"):
        wait_for_success(api, "milvus_benchmark", run_id)

    with step(page, "the table in the report task's log"):
        open_task_log(page, "milvus_benchmark", run_id, "report")
        header = re.compile(r"\| operation \| count \| async s[^|]*\| sync s \| speedup \|")
        expect(page.get_by_text(header).first).to_be_visible(timeout=60_000)
        row = re.compile(r"\| add \| 5 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|")
        expect(page.get_by_text(row).first).to_be_visible()
        log = page.inner_text("body")
        assert "# Milvus benchmark" in log
        # one row per layer: langchain-milvus (the seeds' table), LlamaIndex and raw pymilvus
        assert len(row.findall(log)) == 3, log[-4000:]
