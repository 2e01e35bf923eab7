"""Test session fixtures: a real Milvus server and a real Airflow home, started and stopped
by the session itself (never the developer's `make milvus-up` server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = REPO / ".local" / "test"
ARTIFACTS = REPO / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_server():
    """A real Milvus standalone server (package `milvus` 2.3.5), auth on, fresh data."""
    from milvus_toolkit_dev.local_milvus import LocalMilvus

    home = TEST_HOME / f"milvus-{os.getpid()}"  # concurrent sessions never share a server
    server = LocalMilvus(home=home, port=_free_port(), name="milvus")
    server.down(quiet=True)  # a server left by an earlier, killed session
    shutil.rmtree(home, ignore_errors=True)
    server.up()
    yield server
    # Its data is thrown away, so a short grace period: a loaded 2.3.5-lite server can
    # take a minute to finish a graceful stop.
    server.down(timeout=10, quiet=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_conn_uri(milvus_server) -> str:
    """Airflow connection URI of the test server; also exported as milvus_default."""
    uri = milvus_server.connection_uri()
    os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = uri
    return uri


@pytest.fixture
def hook(milvus_conn_uri):
    from milvus_provider.hooks.milvus import MilvusHook

    hook = MilvusHook()
    yield hook
    hook.close()


@pytest.fixture
def collection_name(request, hook):
    """A collection name unique to the test, dropped afterwards."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    if hook.has_collection(name):
        hook.drop_collection(name)
    yield name
    if hook.has_collection(name):
        hook.drop_collection(name)


@pytest.fixture(scope="session")
def airflow_env(milvus_conn_uri):
    """Environment for real `airflow` subprocesses: own AIRFLOW_HOME (SQLite), the repo's
    dags and plugins, and milvus_default pointing at the test server."""
    home = TEST_HOME / f"airflow-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{venv_bin}:{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW_CONN_MILVUS_DEFAULT=milvus_conn_uri,
        MILVUS_TOOLKIT_STAGING=str(home / "staging"),
        MILVUS_TOOLKIT_EMBEDDING="deterministic",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    result = subprocess.run(
        ["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield env
    shutil.rmtree(home, ignore_errors=True)
