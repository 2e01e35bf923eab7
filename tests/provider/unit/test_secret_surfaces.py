"""No secret of a Milvus connection reaches any output surface, whatever the connection's shape.

One sweep: a secret is planted in each connection shape (credentials in the URI's userinfo,
with the port in the URI or separate; Login/Password; a token string; a token stored as a
number; each in the JSON and the URI form of ``AIRFLOW_CONN_*``), and every surface the
provider writes to is searched for it: ``describe()``, ``test_connection()``'s message,
``health_check()``'s return value (XCom), the message of a ``MilvusHookError`` from a failing
call, the trigger's error event, and everything logged. Fake pymilvus clients echo the URI
they were given in their errors, as pymilvus's own connection errors do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets as _random
from urllib.parse import quote

import pymilvus
import pytest
from pymilvus.exceptions import MilvusException

from milvus_provider.hooks.milvus import MilvusHook, MilvusHookError
from milvus_provider.triggers.milvus import MilvusCollectionTrigger

SECRET = "Pl4nted-" + _random.token_hex(12) + "/@:x"  # characters that need quoting in a URI
NUMBER = 918273645546372819 + _random.randbelow(10**6)  # a token stored as a JSON number
USER = "planted_user"
PORT = 19599
CONN_ID = "milvus_planted"


def _json(host: str, **fields) -> str:
    return json.dumps({"conn_type": "milvus", "host": host, **fields})


# shape -> (AIRFLOW_CONN_* value, the token the client must receive)
SHAPES = {
    "userinfo-json-port-in-uri": (
        _json(f"http://{USER}:{quote(SECRET, safe='')}@127.0.0.1:{PORT}"),
        f"{USER}:{SECRET}",
    ),
    "userinfo-json-separate-port": (
        _json(f"http://{USER}:{quote(SECRET, safe='')}@127.0.0.1", port=PORT),
        f"{USER}:{SECRET}",
    ),
    "userinfo-uri-form": (
        "milvus://" + quote(f"http://{USER}:{quote(SECRET, safe='')}@127.0.0.1:{PORT}", safe="") + "/default",
        f"{USER}:{SECRET}",
    ),
    "login-password-json": (_json("127.0.0.1", port=PORT, login=USER, password=SECRET), f"{USER}:{SECRET}"),
    "login-password-uri-form": (
        f"milvus://{USER}:{quote(SECRET, safe='')}@127.0.0.1:{PORT}/default",
        f"{USER}:{SECRET}",
    ),
    "token-string-json": (_json("127.0.0.1", port=PORT, extra={"token": SECRET}), SECRET),
    "token-string-uri-form": (f"milvus://127.0.0.1:{PORT}/default?token={quote(SECRET, safe='')}", SECRET),
    "token-number-json": (_json("127.0.0.1", port=PORT, extra={"token": NUMBER}), str(NUMBER)),
    "token-number-uri-form": (f"milvus://127.0.0.1:{PORT}/default?token={NUMBER}", str(NUMBER)),
}


def _forms_of_secrets() -> list[str]:
    return [SECRET, quote(SECRET, safe=""), quote(SECRET), str(NUMBER), SECRET.split("/")[0]]


def assert_clean(surface: str, value) -> None:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    for secret in _forms_of_secrets():
        assert secret not in text, f"a planted secret leaks through {surface}"


class FakeClient:
    """A MilvusClient whose handshake works (``mode='ok'``) or whose every call fails with
    an error naming the URI it was given, like pymilvus's own connection errors."""

    mode = "ok"
    seen: list[dict] = []

    def __init__(self, **kwargs):
        FakeClient.seen.append(kwargs)
        self.uri = kwargs["uri"]
        self.token = kwargs.get("token")
        if self.mode == "handshake-fails":
            raise MilvusException(message=f"Fail connecting to server on {self.uri}, illegal connection params")
        if self.mode == "echoes-token":  # no pymilvus does this today; the hook must not rely on it
            raise MilvusException(message=f"authentication with {self.token!r} failed")

    def _fail(self, *args, **kwargs):
        raise MilvusException(message=f"request to {self.uri} failed: unavailable")

    def get_server_version(self):
        return "v2.3.5"

    def list_collections(self):
        return []

    has_collection = query = _fail

    def close(self):
        pass


class FakeAsyncClient:
    def __init__(self, **kwargs):
        FakeClient.seen.append(kwargs)
        self.uri = kwargs["uri"]

    async def has_collection(self, *args, **kwargs):
        raise MilvusException(message=f"request to {self.uri} failed: unavailable")

    async def close(self):
        pass


@pytest.fixture
def fake_pymilvus(monkeypatch):
    import socket

    class _Sock:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(pymilvus, "MilvusClient", FakeClient)
    monkeypatch.setattr(pymilvus, "AsyncMilvusClient", FakeAsyncClient)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _Sock())  # the port probe "answers"
    FakeClient.seen = []
    FakeClient.mode = "ok"
    return FakeClient


def _first_event(trigger):
    async def first():
        return await trigger.run().__anext__()

    return asyncio.run(asyncio.wait_for(first(), timeout=10)).payload


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_planted_secret_reaches_any_surface(shape, monkeypatch, fake_pymilvus, caplog, capsys):
    conn_value, expected_token = SHAPES[shape]
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", conn_value)
    caplog.set_level(logging.DEBUG)

    hook = MilvusHook(CONN_ID)
    assert_clean("describe()", hook.config.describe())
    assert_clean("the config's repr", repr(hook.config))
    assert_clean("config.uri", hook.config.uri)
    assert hook.config.host_port == ("127.0.0.1", PORT)

    ok, message = hook.test_connection()
    assert ok, message
    assert_clean("test_connection() (success)", message)
    # The credentials reached the client (none dropped, whatever the shape), outside the URI.
    assert fake_pymilvus.seen[-1]["token"] == expected_token
    assert fake_pymilvus.seen[-1]["uri"] == f"http://127.0.0.1:{PORT}"

    assert_clean("health_check() (XCom)", hook.health_check())

    with pytest.raises(MilvusHookError) as failed:
        hook.count("docs")
    assert_clean("MilvusHookError", str(failed.value))
    hook.close()

    FakeClient.mode = "handshake-fails"
    ok, message = MilvusHook(CONN_ID).test_connection()
    assert not ok
    assert_clean("test_connection() (handshake failed)", message)
    with pytest.raises(MilvusHookError) as failed:
        MilvusHook(CONN_ID).health_check()
    assert_clean("MilvusHookError (handshake)", str(failed.value))

    FakeClient.mode = "echoes-token"  # even a server error repeating the credentials is redacted
    ok, message = MilvusHook(CONN_ID).test_connection()
    assert not ok and "authentication with" in message
    assert_clean("test_connection() (error echoing the token)", message)
    with pytest.raises(MilvusHookError) as failed:
        MilvusHook(CONN_ID).health_check()
    assert_clean("MilvusHookError (error echoing the token)", str(failed.value))

    event = _first_event(
        MilvusCollectionTrigger(collection_name="docs", milvus_conn_id=CONN_ID, poke_interval=0.01, error_window=0)
    )
    assert event["status"] == "error"
    assert_clean("the trigger's error event", event)

    captured = capsys.readouterr()
    assert_clean("logs", "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records))
    assert_clean("stdout/stderr", captured.out + captured.err)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_secret_is_registered_with_the_log_masker(shape, monkeypatch):
    conn_value, expected_token = SHAPES[shape]
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", conn_value)
    registered: list = []
    import airflow.sdk.log as sdk_log

    monkeypatch.setattr(sdk_log, "mask_secret", lambda value, name=None: registered.append(value))
    MilvusHook(CONN_ID).config  # noqa: B018 - resolving the connection registers its secrets
    assert expected_token in registered
    secret = str(NUMBER) if "number" in shape else SECRET
    assert secret in registered


@pytest.mark.parametrize("bad", [12.5, ["a-list-token-value"], {"nested": "a-dict-token-value"}, True])
def test_a_token_of_another_type_is_refused_without_showing_it(bad, monkeypatch):
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", _json("127.0.0.1", extra={"token": bad}))
    hook = MilvusHook(CONN_ID)
    ok, message = hook.test_connection()
    assert not ok
    assert "token" in message
    assert "input_value" not in message
    for shown in ("12.5", "a-list-token-value", "a-dict-token-value"):
        assert shown not in message


def test_userinfo_and_login_that_disagree_are_refused_clearly(monkeypatch):
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        _json(
            f"http://{USER}:{quote(SECRET, safe='')}@127.0.0.1:{PORT}", login="someone_else", password="other-pass-123"
        ),
    )
    ok, message = MilvusHook(CONN_ID).test_connection()
    assert not ok
    assert "credentials both in the URI and in" in message
    assert_clean("test_connection() (conflict)", message)
