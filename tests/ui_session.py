"""The session's one local Airflow, and headless Chromium, for the UI tests
(tests/integration/test_ui.py and the provider's Milvus view,
tests/provider/integration/test_milvus_view.py). A pytest plugin, registered by
tests/conftest.py. The Airflow starts when the first test that needs it runs, whichever
module that is, and stops at the end of the session (a session without UI tests starts
none). Helpers live in tests/integration/ui_support.py, imported here only when a fixture
starts."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def airflow_ui(milvus_conn_uri, request):
    """The session's Airflow (``ui_support.ui_stack``: LocalExecutor, api-server on a free
    loopback port, its own PostgreSQL database, ``[milvus] ui_artifacts_root`` set), started
    by `local_airflow up` (as `make airflow-up`), DAGs milvus_ingest and milvus_benchmark
    serialized and unpaused; a ``ui_support.UiAirflow``.

    Stopped at the end of the session by `local_airflow down` (twice: the second finds
    nothing), with no process left behind (the end of test_ui's
    test_local_airflow_cli_is_idempotent_loopback_only_and_leaves_nothing). When a test of
    the session failed while it ran, component and task logs go to
    test-artifacts/ui/airflow-logs/."""
    from tests.integration.ui_support import ARTIFACTS, Api, UiAirflow, cleanup, cli, ui_stack

    stack, home = ui_stack(milvus_conn_uri)
    cleanup(stack, home)  # leftovers of an earlier, killed session with the same pid
    failed_before = request.session.testsfailed
    failed = True
    try:
        started = cli(stack, "up").stdout
        api = Api(stack)
        for dag_id in ("milvus_ingest", "milvus_benchmark"):
            api.wait_for_dag(dag_id, timeout=180)
            api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        yield UiAirflow(stack, home, api, started)
        failed = request.session.testsfailed > failed_before
        # test_local_airflow_cli_is_idempotent_loopback_only_and_leaves_nothing, its end:
        assert "local Airflow stopped" in cli(stack, "down").stdout
        assert stack.processes() == []
        assert "nothing running" in cli(stack, "down").stdout
    finally:
        cleanup(stack, home, ARTIFACTS / "ui" / "airflow-logs" if failed else None)
    assert stack.processes() == [], "no Airflow process left behind"


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium (``make system-deps``), headless, driven by Playwright; one per
    module (a launch takes seconds; Playwright's own event loop then never outlives the
    module into the session's asyncio tests)."""
    from tests.integration.ui_support import CHROMIUM, launch_chromium

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = launch_chromium(pw)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()
