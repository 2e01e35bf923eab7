"""Scale-out on a real distributed engine: milvus_ingest through the scheduler on
CeleryExecutor, with the machine's PostgreSQL (metadata, Celery results) and Redis (broker),
two Celery workers, against the test session's Milvus.

Everything the tests start is their own: an AIRFLOW_HOME and run folder under .local/test/,
a PostgreSQL database named after the session, a Celery queue and worker names of their own
on a Redis database (15) that the developer's stack (db 1) does not use, a free port. All
of it is stopped and dropped at the end. (The command behind `make airflow-up` is tested in
test_ui.py, whose Airflow it starts.)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from milvus_toolkit.chunk_store import count_by_source
from milvus_toolkit.ingest.documents import discover, load
from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit_dev.local_airflow import LocalAirflow
from milvus_toolkit_dev.processes import listening_sockets

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]
TEST_HOME = REPO / ".local" / "test"
BATCH_SIZE = 15
LOOPBACK = {"127.0.0.1", "::1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def expected_counts() -> dict[str, int]:
    return {
        doc.source: len(split_document(doc, SplitSettings("auto", 1000, 150)))
        for doc in load(discover(str(SAMPLE_CORPUS)))
    }


class Api:
    """The stack's REST API with a bearer token from POST /auth/token."""

    def __init__(self, stack: LocalAirflow):
        self.base = stack.base_url
        self.token = stack.token()

    def __call__(self, method: str, path: str, body: dict | None = None):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode()

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self("GET", f"/api/v2/dags/{dag_id}")
                return
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")["task_instances"]

    def failure_report(self, dag_id: str, run_id: str) -> str:
        lines = []
        for ti in self.task_instances(dag_id, run_id):
            lines.append(f"{ti['task_id']}[{ti['map_index']}] {ti['state']} on {ti['hostname']}")
            if ti["state"] not in ("success", None) and ti.get("try_number"):
                try:
                    log = self(
                        "GET",
                        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}"
                        f"/logs/{ti['try_number']}?map_index={ti['map_index']}",
                    )
                    lines.append(json.dumps(log)[-3000:])
                except urllib.error.HTTPError as exc:
                    lines.append(f"(no log: {exc})")
        return "\n".join(lines)


def session_stack(executor: str, milvus_conn_uri: str, tag: str) -> tuple[LocalAirflow, Path]:
    pid = os.getpid()
    home = TEST_HOME / f"airflow-{tag}-{pid}"
    stack = LocalAirflow(
        run_dir=home / "run",
        airflow_home=home / "home",
        executor=executor,
        port=free_port(),
        db_name=f"milvus_toolkit_airflow_test_{tag}_{pid}",
        broker_url="redis://127.0.0.1:6379/15",
        queue=f"mtk_test_{pid}",
        worker_prefix=f"mtk-test{pid}-worker-",
        workers=2,
        worker_concurrency=2,
        parallelism=8,
        extra_env={
            "AIRFLOW_CONN_MILVUS_DEFAULT": milvus_conn_uri,
            "MILVUS_TOOLKIT_EMBEDDING": "deterministic",
            "MILVUS_TOOLKIT_STAGING": str(home / "staging"),
        },
    )
    return stack, home


def cleanup(stack: LocalAirflow, home: Path) -> None:
    try:
        stack.down(timeout=30)
    finally:
        stack.drop_database()
        if stack.executor == "celery":
            stack.drop_broker_queue()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def celery_stack(milvus_conn_uri):
    stack, home = session_stack("celery", milvus_conn_uri, "celery")
    cleanup(stack, home)  # leftovers of an earlier, killed session with the same pid
    try:
        stack.up(timeout=300)
        yield stack
    finally:
        cleanup(stack, home)


@pytest.mark.timeout(600)
def run_to_end(api, dag_id: str, conf: dict, timeout: float = 300) -> str:
    run = api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    run_id, state = run["dag_run_id"], run["state"]
    deadline = time.monotonic() + timeout
    while state not in ("success", "failed") and time.monotonic() < deadline:
        time.sleep(1)
        state = api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
    assert state == "success", f"run {run_id} ended {state!r}:\n{api.failure_report(dag_id, run_id)}"
    return run_id


def test_milvus_ingest_on_celery_spreads_mapped_tasks_over_two_workers(celery_stack, hook, collection_name, tmp_path):
    stack = celery_stack
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    started = time.monotonic()

    # The stack is what it claims: two workers answering through Redis, nothing beyond loopback.
    assert stack.ping_workers() == sorted(stack.worker_names)
    sockets = listening_sockets(stack.processes())
    assert sockets, "the api-server listens"
    assert {addr for _, addr, _ in sockets} <= LOOPBACK, sockets
    assert {port for _, _, port in sockets} == {stack.port}, f"only the api-server listens: {sockets}"

    api = Api(stack)
    api.wait_for_dag("milvus_ingest", timeout=120)
    api("PATCH", "/api/v2/dags/milvus_ingest", {"is_paused": False})
    conf = {
        "source": str(corpus),
        "collection": collection_name,
        "embedding": "deterministic",
        "batch_size": BATCH_SIZE,
        "concurrency": 2,
    }
    run_id = run_to_end(api, "milvus_ingest", conf)
    run_seconds = time.monotonic() - started

    expected = expected_counts()
    total = sum(expected.values())
    tis = api.task_instances("milvus_ingest", run_id)
    writes = [ti for ti in tis if ti["task_id"] == "write_batch"]
    assert len(writes) == -(-total // BATCH_SIZE) >= 4, "several mapped write tasks"
    assert all(ti["state"] == "success" for ti in tis), [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    assert {ti["queue"] for ti in tis} == {stack.queue}
    per_worker = Counter(ti["hostname"] for ti in writes)
    print(
        f"\nCelery run {run_id}: {len(writes)} mapped write tasks per worker {dict(per_worker)}; "
        f"all tasks per worker {dict(Counter(ti['hostname'] for ti in tis))}; {run_seconds:.0f} s"
    )
    assert set(per_worker) == set(stack.worker_names), f"mapped tasks ran on {dict(per_worker)}"

    # Exact counts in Milvus (Strong consistency), per source file and in total.
    assert hook.count(collection_name) == total
    assert count_by_source(hook, collection_name) == expected

    # The state that decides deletes is the collection itself, so it agrees on every worker:
    # a reindex whose mapped tasks run on both workers deletes exactly what is gone.
    api.wait_for_dag("milvus_reindex", timeout=60)
    api("PATCH", "/api/v2/dags/milvus_reindex", {"is_paused": False})
    (corpus / "grower-faq.txt").unlink()
    guide = corpus / "maintenance-guide.md"
    guide.write_text(guide.read_text().replace("field technicians", "service engineers", 1))
    now = {
        doc.source: len(split_document(doc, SplitSettings("auto", 1000, 150))) for doc in load(discover(str(corpus)))
    }
    # Which worker takes a mapped task is Celery's choice: on a busy machine one worker can take
    # every batch of a run. The spread is the precondition, not the property under test, so the
    # reindex runs again (files touched again, nothing else changed) until its batches ran on both
    # workers, at most 3 runs; after every run the counts must be exact.
    spread = set()
    for _attempt in range(3):
        for path in corpus.iterdir():  # touched: every source is read again (not skipped as unchanged by its
            os.utime(path)  # fingerprint), so the reindex has batches enough for both workers
        reindex_id = run_to_end(api, "milvus_reindex", {**conf, "max_delete_percent": 50})
        indexed = [ti for ti in api.task_instances("milvus_reindex", reindex_id) if ti["task_id"] == "index_batch"]
        assert count_by_source(hook, collection_name) == now and hook.count(collection_name) == sum(now.values())
        spread = {ti["hostname"] for ti in indexed}
        if spread == set(stack.worker_names):
            break
    assert spread == set(stack.worker_names), "reindex batches ran on both workers in one of 3 runs"

    # Idempotent: up on a running stack only checks it (no migration, nothing started, the
    # same processes); down twice stops all, then nothing.
    pids = {c.name: stack.pid(c.name) for c in stack.components()}
    with pytest.MonkeyPatch.context() as mp:  # on the class: the stack is a frozen dataclass
        mp.setattr(type(stack), "migrate", lambda self: pytest.fail("up on a running stack migrated the database"))
        mp.setattr(type(stack), "_start", lambda self, comp: pytest.fail(f"up on a running stack started {comp.name}"))
        stack.up()
    assert {c.name: stack.pid(c.name) for c in stack.components()} == pids
    assert stack.down(timeout=30)
    assert stack.processes() == [], "no process left behind"
    assert stack.down() == []
