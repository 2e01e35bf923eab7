"""Test session fixtures: real Milvus servers and a real Airflow home, started and stopped
by the session itself (never the developer's `make milvus-up` / `milvus-lite-up` servers).

Two servers: the `milvus` package's v2.3.5-lite (auth on; connection ``milvus_default``;
fixtures ``milvus_server``, ``milvus_conn_uri``, ``hook``) and Milvus Lite 3.2.2 (no auth,
127.0.0.1 only, Milvus 2.5+ features such as BM25; connection ``milvus_lite``; fixtures
``milvus_lite_server``, ``lite_conn_uri``, ``lite_hook``). A test runs on both by asking for
``server_hook`` (a MilvusHook) or ``server_conn_id`` (the connection id, for DAG runs); both
are parametrized ``milvus-2.3`` / ``milvus-lite`` together (one parameter, never a cross
product). To run on one server only: ``@pytest.mark.parametrize("server_conn_id",
["milvus-lite"], indirect=True)``; where a server lacks a feature, ``pytest.skip`` saying why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# The session's one local Airflow for the UI tests (fixture ``airflow_ui``) and Chromium.
pytest_plugins = ["tests.ui_session"]

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = REPO / ".local" / "test"
ARTIFACTS = REPO / "test-artifacts"


# The suite runs on two pytest-xdist workers (``make test``: ``-n 2 --dist loadgroup``), each with
# its own servers (homes and ports per process). These files start a whole local Airflow (the UI
# session's stack, the Celery stack) or use the developer's fixed ports (19530, 8080, the compose
# file's): they run on one worker, one after another.
ONE_WORKER_FILES = {
    "test_ui.py",
    "test_celery.py",
    "test_readme_commands.py",
    "test_compose.py",
    "test_local_milvus_lite.py",
    "test_milvus_view.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in ONE_WORKER_FILES and "integration" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("one_airflow"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def milvus_server():
    """A real Milvus standalone server (package `milvus` 2.3.5), auth on, fresh data."""
    from milvus_toolkit_dev.local_milvus import LocalMilvus

    home = TEST_HOME / f"milvus-{os.getpid()}"  # concurrent sessions never share a server
    yield from _fresh_server(LocalMilvus(home=home, port=_free_port(), name="milvus"))


def _fresh_server(server):
    """Start ``server`` on empty data for the session; stop it and remove its data after."""
    server.down(quiet=True)  # a server left by an earlier, killed session
    shutil.rmtree(server.home, ignore_errors=True)
    server.up()
    yield server
    # Its data is thrown away, so a short grace period: a 2.3.5-lite server takes more than
    # 10 s (a loaded one a minute) to finish a graceful stop, which nobody needs here.
    server.down(timeout=2, quiet=True)
    shutil.rmtree(server.home, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_conn_uri(milvus_server) -> str:
    """Airflow connection URI of the test server; also exported as milvus_default."""
    uri = milvus_server.connection_uri()
    os.environ["AIRFLOW_CONN_MILVUS_DEFAULT"] = uri
    return uri


@pytest.fixture(scope="session")
def milvus_lite_server():
    """A real Milvus Lite gRPC server (package `milvus-lite` 3.2.2) on a free loopback port,
    fresh data under .local/test/; no authentication (it has none), bound to 127.0.0.1."""
    from milvus_toolkit_dev.local_milvus import LocalMilvusLite

    yield from _fresh_server(LocalMilvusLite(home=TEST_HOME / f"milvus-lite-{os.getpid()}", port=_free_port()))


@pytest.fixture(scope="session")
def lite_conn_uri(milvus_lite_server) -> str:
    """Airflow connection URI of the test Lite server; also exported as milvus_lite."""
    uri = milvus_lite_server.connection_uri()
    os.environ["AIRFLOW_CONN_MILVUS_LITE"] = uri
    return uri


@pytest.fixture
def hook(milvus_conn_uri):
    from milvus_provider.hooks.milvus import MilvusHook

    hook = MilvusHook()
    yield hook
    hook.close()


@pytest.fixture
def lite_hook(lite_conn_uri):
    from milvus_provider.hooks.milvus import MilvusHook

    hook = MilvusHook("milvus_lite")
    yield hook
    hook.close()


# test id -> (Airflow connection id, the session fixture that starts that server and exports
# its connection, the session fixture of the server itself)
SERVERS = {
    "milvus-2.3": ("milvus_default", "milvus_conn_uri", "milvus_server"),
    "milvus-lite": ("milvus_lite", "lite_conn_uri", "milvus_lite_server"),
}


@pytest.fixture(params=list(SERVERS))
def server_conn_id(request) -> str:
    """``milvus_default`` (the 2.3.5 server) or ``milvus_lite``: the test runs once per server."""
    conn_id, uri_fixture, _ = SERVERS[request.param]
    request.getfixturevalue(uri_fixture)
    return conn_id


@pytest.fixture
def local_server(request, server_conn_id):
    """The server behind ``server_conn_id``: ``milvus_server`` (LocalMilvus) or
    ``milvus_lite_server`` (LocalMilvusLite), for its ``uri``, ``port`` and ``pid()``."""
    return request.getfixturevalue(next(s for c, _, s in SERVERS.values() if c == server_conn_id))


@pytest.fixture
def server_hook(server_conn_id):
    """A MilvusHook on each server in turn (parametrized through ``server_conn_id``, so a test
    that asks for both gets two cases, not four)."""
    from milvus_provider.hooks.milvus import MilvusHook

    hook = MilvusHook(server_conn_id)
    yield hook
    hook.close()


def _servers_of(request) -> list[str]:
    """The connection ids of the servers a test uses: the parametrized one, the Lite one if it
    asks for ``lite_hook``, else (or also, with ``hook``) ``milvus_default``."""
    names = request.fixturenames
    conn_ids = []
    if "server_conn_id" in names:
        conn_ids.append(request.getfixturevalue("server_conn_id"))
    if "lite_hook" in names:
        request.getfixturevalue("lite_conn_uri")  # exports milvus_lite, whatever the fixture order
        conn_ids.append("milvus_lite")
    if "hook" in names or not conn_ids:
        request.getfixturevalue("milvus_conn_uri")
        conn_ids.append("milvus_default")
    return list(dict.fromkeys(conn_ids))


def _drop_everywhere(conn_ids: list[str], name: str) -> None:
    from milvus_provider.hooks.milvus import MilvusHook

    for conn_id in conn_ids:
        hook = MilvusHook(conn_id)
        try:
            if hook.has_collection(name):
                hook.drop_collection(name)
        finally:
            hook.close()


@pytest.fixture
def collection_name(request):
    """A collection name unique to the test, dropped before and after on whichever server(s)
    the test uses (see ``_servers_of``)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:60]
    conn_ids = _servers_of(request)
    _drop_everywhere(conn_ids, name)
    yield name
    _drop_everywhere(conn_ids, name)


@pytest.fixture(scope="session")
def airflow_env(milvus_conn_uri, lite_conn_uri):
    """Environment for real `airflow` subprocesses: own AIRFLOW_HOME (SQLite), the repo's
    dags and plugins, milvus_default pointing at the 2.3.5 test server and milvus_lite at the
    Lite one. The Lite server is always started for it: it starts in about a second, and a
    session-wide environment cannot gain a connection later, when a DAG test on the Lite
    server comes after one that only needed milvus_default."""
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
        AIRFLOW_CONN_MILVUS_LITE=lite_conn_uri,
        MILVUS_TOOLKIT_STAGING=str(home / "staging"),
        MILVUS_TOOLKIT_EMBEDDING="deterministic",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    result = subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield env
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def local_s3():
    """moto's standalone S3 server (``moto[server]``) on a free 127.0.0.1 port for the session,
    authentication on (one generated key pair). The Airflow connection ``aws_default``
    (``AIRFLOW_CONN_AWS_DEFAULT``: the key pair, ``endpoint_url`` in extra) points at it."""
    from milvus_toolkit_dev.local_s3 import LocalS3

    with LocalS3() as server:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = server.connection_json()
        yield server
        os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)


@pytest.fixture
def s3_bucket(local_s3, request):
    """A bucket of its own for one test on the session's S3 server, emptied and removed after."""
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    client = local_s3.client()
    client.create_bucket(Bucket=name)
    yield name
    local_s3.allow_reads()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
            client.delete_objects(Bucket=name, Delete={"Objects": keys})
    client.delete_bucket(Bucket=name)
