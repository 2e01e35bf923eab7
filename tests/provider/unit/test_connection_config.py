"""Connection parsing, URI building and secret handling of the Milvus provider."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.definitions.connection import Connection

from milvus_provider.config import MilvusConnectionConfig, build_uri
from milvus_toolkit.chunk_store import CollectionSpec


def config_from_uri(uri: str) -> MilvusConnectionConfig:
    return MilvusConnectionConfig.from_connection(Connection.from_uri(uri, conn_id="milvus_test"))


def test_uri_form_with_user_password_database_and_typed_extras():
    config = config_from_uri("milvus://root:s%40cret-pass@10.1.2.3:19531/analytics?secure=false&timeout=12")
    assert config.uri == "http://10.1.2.3:19531"
    assert config.db_name == "analytics"
    assert config.user == "root"
    assert config.secure is False
    assert config.timeout == 12.0
    kwargs = config.client_kwargs()
    assert kwargs == {
        "uri": "http://10.1.2.3:19531",
        "timeout": 12.0,
        "db_name": "analytics",
        "token": "root:s@cret-pass",
    }


def test_json_form_with_token_and_https_uri():
    conn = Connection.from_json(
        json.dumps(
            {
                "conn_type": "milvus",
                "host": "https://in01-abc.zillizcloud.com",
                "extra": {"token": "api-key-123", "timeout": 5},
            }
        ),
        conn_id="zilliz",
    )
    config = MilvusConnectionConfig.from_connection(conn)
    assert config.uri == "https://in01-abc.zillizcloud.com"
    assert config.secure is True
    assert config.host_port == ("in01-abc.zillizcloud.com", 443)
    assert config.client_kwargs()["token"] == "api-key-123"
    assert "secure" not in config.client_kwargs()  # implied by https://


def test_token_wins_over_user_and_password():
    conn = Connection(
        conn_id="x",
        conn_type="milvus",
        host="localhost",
        login="u",
        password="p",
        extra=json.dumps({"token": "tok-xyz"}),
    )
    assert MilvusConnectionConfig.from_connection(conn).client_kwargs()["token"] == "tok-xyz"


def test_legacy_prefixed_extras_are_read():
    conn = Connection(
        conn_id="x",
        conn_type="milvus",
        host="localhost",
        extra=json.dumps({"extra__milvus__secure": True, "extra__milvus__server_pem_path": "/ca.pem"}),
    )
    config = MilvusConnectionConfig.from_connection(conn)
    assert config.secure and config.server_pem_path == "/ca.pem"
    assert config.uri == "https://localhost:19530"
    assert config.client_kwargs()["server_pem_path"] == "/ca.pem"


@pytest.mark.parametrize(
    ("host", "port", "secure", "expected"),
    [
        ("localhost", None, False, "http://localhost:19530"),
        ("milvus.internal", 443, True, "https://milvus.internal:443"),
        ("http://127.0.0.1", 19540, False, "http://127.0.0.1:19540"),
        ("http://127.0.0.1:19530", 1, False, "http://127.0.0.1:19530"),
        ("/data/milvus_demo.db", None, False, "/data/milvus_demo.db"),
    ],
)
def test_build_uri(host, port, secure, expected):
    assert build_uri(host, port, secure=secure) == expected


def test_milvus_lite_file_has_no_network_address_and_no_db_name():
    conn = Connection(conn_id="lite", conn_type="milvus", host="/tmp/x/milvus.db")
    config = MilvusConnectionConfig.from_connection(conn)
    assert config.is_local_file and config.host_port is None
    assert "db_name" not in config.client_kwargs()


@pytest.mark.parametrize(
    ("conn_kwargs", "message"),
    [
        ({"host": ""}, "has no URI/host"),
        ({"host": "localhost", "extra": json.dumps({"secure": "maybe"})}, "'secure' must be true or false"),
        ({"host": "localhost", "extra": json.dumps({"timeout": -3})}, "'timeout' must be a positive"),
    ],
)
def test_bad_connections_fail_with_a_message_naming_the_field(conn_kwargs, message):
    conn = Connection(conn_id="bad", conn_type="milvus", **conn_kwargs)
    with pytest.raises(ValueError, match=message):
        MilvusConnectionConfig.from_connection(conn)


def test_secrets_never_appear_in_repr_str_or_describe():
    config = config_from_uri("milvus://admin:TopSecret-42@host:19530/default?token=tok-SECRET-99")
    text = " ".join([repr(config), str(config), config.describe(), repr(config.model_dump())])
    assert "TopSecret-42" not in text and "tok-SECRET-99" not in text
    assert set(config.secrets()) >= {"TopSecret-42", "tok-SECRET-99"}


def test_hook_repr_and_errors_hide_secrets(monkeypatch):
    from milvus_provider.hooks.milvus import MilvusHook

    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_SECRETIVE", "milvus://admin:TopSecret-42@127.0.0.1:9/default")
    hook = MilvusHook("milvus_secretive")
    ok, message = hook.test_connection()  # port 9 (discard) is closed here
    assert ok is False
    assert "TopSecret-42" not in message + repr(hook)
    assert "127.0.0.1:9" in message


def test_collection_spec_validates_name_and_dim():
    with pytest.raises(ValueError, match="not valid in Milvus"):
        CollectionSpec(name="bad-name", dim=8)
    with pytest.raises(ValueError, match="between 1 and 32768"):
        CollectionSpec(name="ok", dim=0)
    assert CollectionSpec(name="_ok_2", dim=8).primary_field == "pk"
