"""Helpers for the end-to-end tests of the Airflow UI (tests/integration/test_ui.py and the
provider's Milvus view, tests/provider/integration/test_milvus_view.py): the session's local
Airflow (one stack for both modules: the fixtures ``airflow_ui`` and ``chromium`` in
tests/ui_session.py), its REST API with a token, Debian's Chromium driven by Playwright, a
logged-in page (``browser_page``), and ``step()``, which leaves a screenshot of every step
and, when a step fails, the page's text in the test output."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from milvus_toolkit_dev.local_airflow import LocalAirflow

REPO = Path(__file__).resolve().parents[2]
TEST_HOME = REPO / ".local" / "test"
ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "ui"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (make system-deps); never `playwright install`
# Headless as root on a machine without outside network: no sandbox, and nothing in the
# background that would call Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
TERMINAL = {"success", "failed"}
UI_TIMEOUT = 45_000  # ms for a page element; generous for a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the local Airflow ---------------------------------------------------------------------------


def ui_stack(milvus_conn_uri: str) -> tuple[LocalAirflow, Path]:
    """A LocalExecutor Airflow of this test session: own AIRFLOW_HOME and run folder under
    .local/test/, own PostgreSQL database, api-server on a free loopback port, connection
    testing on (local_airflow sets AIRFLOW__CORE__TEST_CONNECTION=Enabled), milvus_default
    pointing at the session's Milvus, deterministic embeddings, no schedules, DAG files parsed
    once, and the Milvus view's ``[milvus] ui_artifacts_root`` set to the benchmark's
    ``runs/`` folder (so a run's ``history.csv``, one level up, is a file outside the root)."""
    pid = os.getpid()
    home = TEST_HOME / f"airflow-ui-{pid}"
    stack = LocalAirflow(
        run_dir=home / "run",
        airflow_home=home / "home",
        executor="local",
        port=free_port(),
        db_name=f"milvus_toolkit_airflow_test_ui_{pid}",
        parallelism=4,
        extra_env={
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW_CONN_MILVUS_DEFAULT": milvus_conn_uri,
            "MILVUS_TOOLKIT_EMBEDDING": "deterministic",
            "MILVUS_TOOLKIT_STAGING": str(home / "staging"),
            "MILVUS_BENCHMARK_RESULTS": str(home / "benchmarks"),
            "MILVUS_BENCHMARK_SCHEDULE": "none",
            "AIRFLOW__MILVUS__UI_ARTIFACTS_ROOT": str(benchmark_runs(home)),
            # The DAG files do not change during a session: parsed once, not every 30 s (most of
            # what the stack costs while it waits, from test_ui to the view tests and the end).
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        },
    )
    return stack, home


def benchmark_runs(home: Path) -> Path:
    """The benchmark's ``runs/`` folder of the stack whose folder is ``home``."""
    return home / "benchmarks" / "runs"


class UiAirflow:
    """The session's local Airflow (fixture ``airflow_ui``): the stack, a REST API client,
    what ``local_airflow up`` printed when it started the stack, and the benchmark's
    ``runs/`` folder (the view's ``ui_artifacts_root``)."""

    def __init__(self, stack: LocalAirflow, home: Path, api: Api, started: str):
        self.stack = stack
        self.home = home
        self.api = api
        self.base_url = stack.base_url
        self.started = started
        self.runs_root = benchmark_runs(home)


def cli(stack: LocalAirflow, *args: str) -> subprocess.CompletedProcess:
    """``python -m milvus_toolkit_dev.local_airflow <args>`` (what ``make airflow-up`` /
    ``airflow-down`` / ``airflow-status`` run) on ``stack``: its settings go in through the
    environment variables the command reads, ``stack.extra_env`` through the environment that
    every component inherits."""
    env = dict(os.environ)
    env.pop("EXECUTOR", None)  # the command's default: LocalExecutor
    env.update(
        AIRFLOW_RUN_DIR=str(stack.run_dir),
        AIRFLOW_HOME=str(stack.airflow_home),
        AIRFLOW_API_PORT=str(stack.port),
        AIRFLOW_DB_NAME=stack.db_name,
        AIRFLOW_PARALLELISM=str(stack.parallelism),
        **stack.extra_env,
    )
    result = subprocess.run(
        [sys.executable, "-m", "milvus_toolkit_dev.local_airflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def cleanup(stack: LocalAirflow, home: Path, keep_logs_in: Path | None = None) -> None:
    """Stop every process of the stack, drop its database, remove its folder (component and
    task logs are copied to ``keep_logs_in`` first, when given)."""
    try:
        stack.down(timeout=30)
    finally:
        if keep_logs_in is not None:
            for src, name in ((stack.run_dir / "logs", "components"), (stack.airflow_home / "logs", "tasks")):
                if src.is_dir():
                    shutil.copytree(src, keep_logs_in / name, dirs_exist_ok=True)
        stack.drop_database()
        shutil.rmtree(home, ignore_errors=True)


class Api:
    """The stack's REST API (/api/v2) with a bearer token from POST /auth/token, which takes
    the admin password SimpleAuthManager generated in $AIRFLOW_HOME."""

    def __init__(self, stack: LocalAirflow):
        self.base = stack.base_url
        self.password = stack.admin_password()
        self.token = self._token()

    def _token(self) -> str:
        body = json.dumps({"username": "admin", "password": self.password}).encode()
        req = urllib.request.Request(
            f"{self.base}/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["access_token"]

    def __call__(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read()
            return json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode()

    @staticmethod
    def q(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    def wait_for_dag(self, dag_id: str, timeout: float) -> dict:
        """The DAG once the dag-processor has serialized it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self("GET", f"/api/v2/dags/{dag_id}/details")
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        return self("GET", f"/api/v2/dags/{dag_id}/dagRuns/{self.q(run_id)}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Poll until the run succeeds or fails (or ``timeout``); return its last state."""
        deadline = time.monotonic() + timeout
        state = self.run_state(dag_id, run_id)
        while state not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            state = self.run_state(dag_id, run_id)
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self("GET", f"/api/v2/dags/{dag_id}/dagRuns/{self.q(run_id)}/taskInstances?limit=200")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """A task's log as text: the structured events of the logs endpoint, one per line."""
        data = self(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{self.q(run_id)}/taskInstances/{task_id}"
            f"/logs/{try_number}?map_index={map_index}",
        )
        content = data.get("content", []) if isinstance(data, dict) else []
        return "\n".join(str(e.get("event", "")) if isinstance(e, dict) else str(e) for e in content)

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """Task states, and the log tail of every task that did not succeed."""
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            lines.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']}")
            if ti["state"] not in ("success", None) and ti.get("try_number"):
                try:
                    log = self.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
                    lines.append(log[-3000:])
                except urllib.error.HTTPError as exc:
                    lines.append(f"(no log: {exc})")
        return "\n".join(lines)


# ---- the browser -----------------------------------------------------------------------------------


def launch_chromium(playwright):
    """Debian's Chromium, headless (never `playwright install`)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=120_000)


@contextmanager
def browser_page(chromium, airflow: UiAirflow, test_name: str, viewport: dict, clipboard: bool = False):
    """A fresh browser context on ``airflow``, logged in as admin through the sign-in form
    (the first step of every browser test): ``(page, step)``. The steps' timings are
    printed and the context closed at the end."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT)
    context = chromium.new_context(viewport=viewport, base_url=airflow.base_url)
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=airflow.base_url)
    context.set_default_timeout(UI_TIMEOUT)
    context.set_default_navigation_timeout(90_000)
    page = context.new_page()
    step = Steps(test_name)
    try:
        with step(page, "log in"):
            page.goto("/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(airflow.api.password)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("button", name="Admin")).to_be_visible(timeout=90_000)
        yield page, step
    finally:
        print(f"\n{test_name} steps: {step.summary()}")
        context.close()


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80]


class Steps:
    """``with step(page, "open the trigger form"): ...``

    Every step that passes leaves ``test-artifacts/ui/<test>-<nn>-<step>.png``. A step that
    fails leaves ``test-artifacts/<test>-<step>.png`` and prints the page's URL and the first
    5000 characters of its text (pytest shows them with the failure), then re-raises."""

    def __init__(self, test_name: str):
        self.test = slug(test_name)
        self.count = 0
        self.timings: list[tuple[str, float]] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def __call__(self, page, name: str):
        self.count += 1
        started = time.monotonic()
        try:
            yield
        except BaseException:
            path = ARTIFACTS / f"{self.test}-{slug(name)}.png"
            try:
                page.screenshot(path=str(path), full_page=True, timeout=15_000)
                shot = str(path.relative_to(REPO))
            except Exception as exc:  # the page may be gone; the text may still help
                shot = f"(no screenshot: {exc})"
            try:
                text = page.inner_text("body", timeout=10_000)[:5000]
            except Exception as exc:
                text = f"(no page text: {exc})"
            print(
                f"\n=== step {self.count} '{name}' FAILED after {time.monotonic() - started:.1f} s"
                f"\n    url: {page.url}\n    screenshot: {shot}\n--- page text (first 5000 characters) ---\n"
                f"{text}\n--- end of page text ---"
            )
            raise
        self.timings.append((name, time.monotonic() - started))
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{self.test}-{self.count:02d}-{slug(name)}.png"), timeout=15_000)
        except Exception as exc:  # a missing picture of a passed step fails nothing
            print(f"(screenshot of step '{name}' failed: {exc})")

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings)
