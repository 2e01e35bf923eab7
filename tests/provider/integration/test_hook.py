"""MilvusHook against the real Milvus servers that this test session started: most tests run
on both (``server_hook``: the 2.3.5 server and Milvus Lite 3.2.2), the authentication ones on
2.3.5 only (Milvus Lite has none)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from milvus_provider.hooks.milvus import DimensionMismatchError, MilvusHook, MilvusHookError
from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import CollectionSpec

pytestmark = pytest.mark.integration
DIM = 8
# What each server reports as its version.
VERSION = {"milvus_default": "v2.3.5", "milvus_lite": "milvus_lite-3.2.2"}
NO_AUTH = "Milvus Lite has no authentication (it accepts any or no credentials); it is bound to 127.0.0.1 instead"


def docs(*pairs):
    return [Document(page_content=text, metadata={"source": source}) for text, source in pairs]


def test_connection_succeeds_with_server_version(server_hook, server_conn_id):
    ok, message = server_hook.test_connection()
    assert ok, message
    assert VERSION[server_conn_id] in message and "database 'default'" in message


def test_connection_to_a_closed_port_fails_fast(monkeypatch, milvus_server):
    """Fast by construction, not by a stopwatch: one port probe with a short timeout answers,
    and no Milvus client (whose connect would wait out the client's own timeout) is made."""
    import socket

    import pymilvus

    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_CLOSED", "milvus://root:whatever@127.0.0.1:1/default")
    probes, clients = [], []
    real_connect = socket.create_connection

    def probe(address, timeout=None, *args, **kwargs):
        probes.append((address, timeout))
        return real_connect(address, timeout, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", probe)
    monkeypatch.setattr(pymilvus, "MilvusClient", lambda *a, **k: clients.append(k) or pytest.fail("a client was made"))
    ok, message = MilvusHook("milvus_closed").test_connection()
    assert ok is False and "Cannot reach Milvus at http://127.0.0.1:1" in message
    assert probes == [(("127.0.0.1", 1), 5.0)] and clients == []


def test_connection_to_a_missing_database_fails_clearly(monkeypatch, server_conn_id, local_server):
    # Milvus 2.3.5 says "database not found", Milvus Lite "database 'x' does not exist": both are recognized.
    good = local_server.connection_uri()
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_BADDB", good.replace("/default?", "/no_such_db?"))
    ok, message = MilvusHook("milvus_baddb").test_connection()
    assert ok is False and message == f"Database 'no_such_db' does not exist on {local_server.uri}"


def test_connection_with_a_wrong_password_fails_clearly(monkeypatch, server_conn_id, local_server):
    if server_conn_id == "milvus_lite":
        pytest.skip(NO_AUTH)
    monkeypatch.setenv(
        "AIRFLOW_CONN_MILVUS_BADPW", f"milvus://root:not-the-password@127.0.0.1:{local_server.port}/default"
    )
    ok, message = MilvusHook("milvus_badpw").test_connection()
    assert ok is False and "wrong user, password or token" in message
    assert "not-the-password" not in message


def test_server_refuses_unauthenticated_and_default_password_clients(server_conn_id, local_server):
    if server_conn_id == "milvus_lite":
        pytest.skip(NO_AUTH)
    milvus_server = local_server
    for token in ("", "root:Milvus"):
        # refused at the handshake (MilvusException) or at the first call (gRPC UNAUTHENTICATED)
        with pytest.raises((MilvusException, grpc.RpcError)):
            MilvusClient(uri=milvus_server.uri, token=token, timeout=5).list_collections()
    assert milvus_server.credentials_file.stat().st_mode & 0o077 == 0, "credentials file is 0600"


def test_health_check_and_sync_client(server_hook, server_conn_id):
    health = server_hook.health_check()
    assert health["server_version"].startswith(VERSION[server_conn_id])
    assert isinstance(server_hook.get_conn().list_collections(), list)


def test_vector_store_round_trip_add_upsert_search_delete_count(server_hook, collection_name):
    hook = server_hook
    spec = CollectionSpec(name=collection_name, dim=DIM)
    store = chunk_store.vector_store(hook, spec, DeterministicFakeEmbedding(size=DIM))
    store.add_documents(
        docs(("alpha text", "a.md"), ("beta text", "a.md"), ("gamma text", "b.md")), ids=["a1", "a2", "b1"]
    )
    assert hook.count(collection_name) == 3
    assert chunk_store.count_by_source(hook, collection_name) == {"a.md": 2, "b.md": 1}

    store.upsert(ids=["a2", "c1"], documents=docs(("beta text v2", "a.md"), ("delta text", "c.md")))
    assert hook.count(collection_name) == 4, "upsert replaced a2 and added c1"
    rows = hook.get_conn().query(
        collection_name, filter='pk == "a2"', output_fields=["text"], consistency_level="Strong"
    )
    assert rows[0]["text"] == "beta text v2"

    hits = store.similarity_search("gamma text", k=1)
    assert hits[0].page_content == "gamma text" and hits[0].metadata["source"] == "b.md"

    assert store.delete(ids=["a1", "b1"])
    assert hook.count(collection_name) == 2
    assert hook.count(collection_name, filter='source == "a.md"') == 1


def test_async_store_and_client_work_from_two_successive_event_loops(server_hook, collection_name):
    hook = server_hook
    spec = CollectionSpec(name=collection_name, dim=DIM)
    embedding = DeterministicFakeEmbedding(size=DIM)

    async def write(prefix: str) -> list[str]:
        async with chunk_store.open_store(hook, spec, embedding) as store:
            await asyncio.gather(
                *(store.aupsert(ids=[f"{prefix}{i}"], documents=docs((f"{prefix} text {i}", "x.md"))) for i in range(5))
            )
            found = await store.asimilarity_search(f"{prefix} text 3", k=1)
        async with hook.async_client() as client:
            stats = await client.query(
                collection_name, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
        return [found[0].page_content, stats[0]["count(*)"]]

    assert asyncio.run(write("first")) == ["first text 3", 5]
    assert asyncio.run(write("second")) == ["second text 3", 10]  # a new loop: no "Event loop is closed"


def test_dimension_mismatch_is_a_clear_error_and_leaves_the_collection_alone(server_hook, collection_name):
    hook = server_hook
    store = chunk_store.vector_store(
        hook, CollectionSpec(name=collection_name, dim=DIM), DeterministicFakeEmbedding(size=DIM)
    )
    store.add_documents(docs(("keep me", "k.md")), ids=["k1"])
    with pytest.raises(DimensionMismatchError, match=rf"stores {DIM}-dim vectors but the embedding produces 16-dim"):
        chunk_store.vector_store(
            hook, CollectionSpec(name=collection_name, dim=16), DeterministicFakeEmbedding(size=16)
        )
    assert hook.collection_dim(collection_name) == DIM
    assert hook.count(collection_name) == 1


def test_alias_create_alter_describe_and_drop(server_hook, collection_name):
    hook = server_hook
    blue, green, alias = f"{collection_name}_b", f"{collection_name}_g", f"{collection_name}_live"
    try:
        for name in (blue, green):
            chunk_store.ensure_collection(hook, CollectionSpec(name=name, dim=DIM))
        assert hook.describe_alias(alias) is None
        assert hook.point_alias(alias, blue) is None
        assert hook.describe_alias(alias) == blue
        assert hook.point_alias(alias, green) == blue
        assert hook.describe_alias(alias) == green
        assert hook.list_aliases(green) == [alias]
        assert hook.count(alias) == 0  # an alias serves reads like the collection
        hook.drop_alias(alias)
        assert hook.describe_alias(alias) is None
    finally:
        for name in (blue, green):
            if hook.has_collection(name):
                hook.drop_collection(name)


def test_errors_name_the_action_and_server_not_the_secret(server_hook, local_server):
    with pytest.raises(MilvusHookError) as excinfo:
        server_hook.count("no_such_collection_xyz")
    message = str(excinfo.value)
    assert "count rows in 'no_such_collection_xyz'" in message and local_server.uri in message
    if hasattr(local_server, "credentials"):  # Milvus Lite has no secret to leak
        assert local_server.credentials()["password"] not in message
