"""The second local server, Milvus Lite (``make milvus-lite-up`` / ``milvus-lite-down``): its
manager in ``milvus_toolkit_dev.local_milvus`` run as the Makefile runs it, on a server of its
own (not the session's), with real processes, sockets and data."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import grpc
import pytest
from pymilvus import MilvusClient
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

from tests.conftest import TEST_HOME, _free_port

pytestmark = pytest.mark.integration


def cli(*args, home, port) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "milvus_toolkit_dev.local_milvus",
            *args,
            "--lite",
            "--home",
            str(home),
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on ``port``, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F"}  # 127.0.0.1 in tcp and tcp6 (v4-mapped)


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def lite_home():
    home = TEST_HOME / f"lite-cli-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    yield home
    from milvus_toolkit_dev.local_milvus import LocalMilvusLite

    state = home / "milvus-lite.state.json"
    if state.exists():  # a server a failed test left running
        LocalMilvusLite(home=home, port=json.loads(state.read_text())["port"]).down(timeout=5, quiet=True)
    shutil.rmtree(home, ignore_errors=True)


def test_up_is_idempotent_loopback_only_keeps_data_and_down_is_idempotent(lite_home):
    port = _free_port()
    first = cli("up", home=lite_home, port=port)
    assert first.returncode == 0, first.stderr
    assert f"local Milvus Lite ready at http://127.0.0.1:{port}" in first.stdout
    pid = int((lite_home / "milvus-lite.pid").read_text())

    again = cli("up", home=lite_home, port=port)
    assert again.returncode == 0, again.stderr
    assert int((lite_home / "milvus-lite.pid").read_text()) == pid, "a running server is kept, not restarted"
    assert f"running (pid {pid}" in cli("status", home=lite_home, port=port).stdout
    assert (
        cli("conn-uri", home=lite_home, port=port).stdout.strip() == f"milvus://127.0.0.1:{port}/default?secure=false"
    )

    # No authentication, so nothing but loopback may reach it.
    assert listening_addresses(port) and listening_addresses(port) <= LOOPBACK, listening_addresses(port)
    outside = non_loopback_address()
    if outside is not None:
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((outside, port)) != 0, f"reachable on {outside}"

    client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=10)
    client.create_collection("kept", dimension=2)
    client.insert("kept", [{"id": 1, "vector": [0.1, 0.2]}])
    client.close()

    down = cli("down", home=lite_home, port=port)
    assert down.returncode == 0 and "local Milvus Lite stopped" in down.stdout
    assert "Shutting down" in (lite_home / "milvus-lite-logs" / "milvus-lite-stdout.log").read_text(), "a graceful stop"
    assert not (lite_home / "milvus-lite.pid").exists()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "port closed"
    assert cli("down", home=lite_home, port=port).returncode == 0, "down twice is fine"
    assert cli("status", home=lite_home, port=port).stdout.startswith("stopped")

    assert cli("up", home=lite_home, port=port).returncode == 0
    client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=10)
    try:
        client.load_collection("kept")
        assert client.query("kept", filter="", output_fields=["count(*)"])[0]["count(*)"] == 1, "data survives a stop"
    finally:
        client.close()
        cli("down", home=lite_home, port=port)


def test_up_refuses_a_port_that_another_process_holds(lite_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("up", home=lite_home, port=port)
    assert result.returncode == 1
    assert f"port {port} is already in use by a process this project did not start" in result.stderr
    assert "MILVUS_LITE_PORT" in result.stderr
    assert not (lite_home / "milvus-lite.pid").exists()


def test_clients_that_ping_between_calls_are_not_hung_up_on(milvus_lite_server):
    # pymilvus pings every 10 s between calls; Python gRPC's default server policy answers a
    # few such pings with GOAWAY too_many_pings (a connect failed that way in the suite).
    # Pings every second for 6 s, with no call in between: the channel must stay READY.
    channel = grpc.insecure_channel(
        f"127.0.0.1:{milvus_lite_server.port}",
        options=[
            ("grpc.keepalive_time_ms", 1000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    states = []
    channel.subscribe(lambda state: states.append(state.name), try_to_connect=True)
    try:
        stub = milvus_pb2_grpc.MilvusServiceStub(channel)
        assert stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10).version == "milvus_lite-3.2.2"
        time.sleep(6)
        assert states[-1] == "READY", states
        assert stub.GetVersion(milvus_pb2.GetVersionRequest(), timeout=10).version == "milvus_lite-3.2.2"
    finally:
        channel.close()
