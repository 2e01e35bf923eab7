"""Credentials in a connection's URI against a real Milvus 2.3.5 with authentication: the
handshake works (with the port in the URI or separate: none silently dropped), and no
output surface shows the password."""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import quote

import pytest

from milvus_provider.hooks.milvus import MilvusHook


@pytest.fixture
def planted_user(hook):
    user = "planted_" + secrets.token_hex(4)
    password = "Pl4nted-" + secrets.token_hex(10)
    client = hook.get_conn()
    client.create_user(user, password)
    yield user, password
    client.drop_user(user)


def _port(milvus_conn_uri: str) -> int:
    return int(milvus_conn_uri.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@pytest.mark.parametrize("port_in_uri", [True, False], ids=["port-in-uri", "separate-port"])
def test_userinfo_credentials_reach_the_server_and_no_surface(
    port_in_uri, planted_user, milvus_conn_uri, monkeypatch, caplog
):
    user, password = planted_user
    port = _port(milvus_conn_uri)
    host = f"http://{user}:{quote(password, safe='')}@127.0.0.1" + (f":{port}" if port_in_uri else "")
    conn = {"conn_type": "milvus", "host": host, **({} if port_in_uri else {"port": port})}
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_USERINFO", json.dumps(conn))
    caplog.set_level(logging.DEBUG)

    hook = MilvusHook("milvus_userinfo")
    try:
        ok, message = hook.test_connection()
        assert ok, message  # the handshake used the credentials from the URI
        assert password not in message
        health = hook.health_check()
        assert password not in json.dumps(health)
        assert password not in hook.config.describe()
        # A user without privileges: Milvus 2.3.5 refuses with PERMISSION_DENIED (pymilvus
        # raises it as a raw gRPC error, not a MilvusException: item 9 of issue 23).
        with pytest.raises(Exception) as failed:  # noqa: PT011
            hook.count("no_such_collection_" + secrets.token_hex(3))
        assert password not in str(failed.value)
    finally:
        hook.close()

    wrong = MilvusHook("milvus_userinfo_wrong")
    monkeypatch.setenv(
        "AIRFLOW_CONN_MILVUS_USERINFO_WRONG",
        json.dumps({**conn, "host": host.replace(quote(password, safe=""), "Wr0ng-" + password[6:])}),
    )
    ok, message = wrong.test_connection()
    assert not ok
    assert password[6:] not in message
    assert password[6:] not in "\n".join(r.getMessage() for r in caplog.records)
    assert password not in "\n".join(r.getMessage() for r in caplog.records)
