"""MilvusHook writes under hostile input (issue 23, items 3, 4 and 9), with fake clients:
every row checked against the collection's schema before the first request, the first failed
batch stops the rest and the error says which ids landed, duplicate ids refused, auto_id
collections, and the sync and async twins alike (each test runs over both)."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from pymilvus.exceptions import MilvusException

from milvus_provider.hooks.milvus import MilvusHook, MilvusHookError, PartialWriteError, RowValidationError

USER_PK = {
    "collection_name": "docs",
    "auto_id": False,
    "enable_dynamic_field": False,
    "fields": [
        {"name": "id", "type": "VARCHAR", "params": {"max_length": 64}, "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 3}},
        {"name": "text", "type": "VARCHAR", "params": {"max_length": 1000}},
        {"name": "note", "type": "VARCHAR", "params": {"max_length": 100}, "nullable": True},
    ],
}
AUTO_ID = {
    "collection_name": "docs",
    "auto_id": True,
    "enable_dynamic_field": True,
    "fields": [
        {"name": "pk", "type": "INT64", "params": {}, "is_primary": True, "auto_id": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 3}},
    ],
}
SECRET_TEXT = "private-text-of-a-row"


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "vector": [0.1, 0.2, 0.3], "text": SECRET_TEXT} for i in range(start, start + n)]


class FakeDeadline(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self):
        return "Deadline Exceeded"


class Server:
    """State shared by the sync and the async fake: what landed, which batch fails how.
    Batches are numbered in the order their requests start."""

    def __init__(self, schema=USER_PK, fail_batch: int | None = None, error: BaseException | None = None, delay=0.0):
        self.schema, self.fail_batch, self.error, self.delay = schema, fail_batch, error, delay
        self.started = 0
        self.requests: list[int] = []
        self.landed: list = []
        self.next_id = 100

    def start(self, data) -> int:
        number, self.started = self.started, self.started + 1
        self.requests.append(len(data))
        if number == self.fail_batch:
            raise self.error or MilvusException(code=1100, message="bad batch")
        return number

    def land(self, op, data):
        if self.schema["auto_id"]:
            ids = list(range(self.next_id, self.next_id + len(data)))
            self.next_id += len(data)
        else:
            ids = [row["id"] for row in data]
        self.landed.extend(ids)
        return {f"{op}_count": len(data), "ids": ids}


class SyncFake:
    def __init__(self, server):
        self.server = server

    def describe_collection(self, collection_name, **kwargs):
        return self.server.schema

    def insert(self, collection_name, data, **kwargs):
        self.server.start(data)
        return self.server.land("insert", data)

    def upsert(self, collection_name, data, **kwargs):
        self.server.start(data)
        return self.server.land("upsert", data)

    def delete(self, collection_name, ids=None, filter=None, **kwargs):
        self.server.start(ids or [filter])
        return {"delete_count": len(ids or [])}


class AsyncFake:
    def __init__(self, server):
        self.server = server

    async def describe_collection(self, collection_name, **kwargs):
        return self.server.schema

    async def insert(self, collection_name, data, **kwargs):
        return await self._call("insert", data)

    async def upsert(self, collection_name, data, **kwargs):
        return await self._call("upsert", data)

    async def delete(self, collection_name, ids=None, filter=None, **kwargs):
        self.server.start(ids or [filter])
        return {"delete_count": len(ids or [])}

    async def _call(self, op, data):
        self.server.start(data)  # the failing batch fails at once; the others take their time
        await asyncio.sleep(self.server.delay)
        return self.server.land(op, data)

    async def close(self):
        pass


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_FAKE", "milvus://root:secret@127.0.0.1:1/default")
    return MilvusHook("milvus_fake")


@pytest.fixture(params=["sync", "async"])
def twin(request, hook):
    """call(op, *args, **kwargs) runs the sync method or its async twin on a fake server."""
    mode = request.param

    def call(op, server, *args, **kwargs):
        if mode == "sync":
            hook._client = SyncFake(server)
            return getattr(hook, op)(*args, **kwargs)
        return asyncio.run(getattr(hook, f"a{op}")(*args, client=AsyncFake(server), **kwargs))

    call.mode = mode
    return call


# ---- item 3: every row checked before the first request ------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"vector": [0.1, 0.2]}, "vector"),  # wrong dimension
        ({"vector": "0.1,0.2,0.3"}, "vector"),  # wrong type
        ({"vector": [0.1, "x", 0.3]}, "vector"),
        ({"vector": [0.1, float("nan"), 0.3]}, "vector"),
        ({"id": None}, "id"),  # primary key missing
        ({"id": 7}, "id"),  # primary key of the wrong type
        ({"text": None}, "text"),  # a required field missing
        ({"extra": 1}, "extra"),  # not in the schema, no dynamic field
    ],
)
def test_a_bad_row_in_a_later_batch_is_refused_before_any_write(twin, bad, field):
    server = Server()
    data = rows(6)
    data[5] = {**data[5], **bad}
    with pytest.raises(RowValidationError) as refused:
        twin("insert", server, "docs", data, batch_size=2)
    message = str(refused.value)
    assert "batch 2, row 5" in message and f"field '{field}'" in message
    assert SECRET_TEXT not in message and "0.1" not in message and "0.3" not in message
    assert server.requests == [] and server.landed == [], "nothing is written when any row is bad"
    assert isinstance(refused.value, MilvusHookError) and isinstance(refused.value, ValueError)


def test_an_optional_field_may_be_left_out(twin):
    server = Server()
    assert twin("upsert", server, "docs", rows(3), batch_size=2) == 3
    assert server.landed == ["r0", "r1", "r2"]


# ---- item 3: the first failed batch stops the rest, and the error says what landed ----------------


def test_the_first_failed_batch_stops_the_rest_and_names_the_ids_written(twin, caplog, capsys):
    server = Server(fail_batch=2, delay=0.0)
    with caplog.at_level(logging.INFO), pytest.raises(PartialWriteError) as failed:
        twin(
            "upsert", server, "docs", rows(10), batch_size=2, **({"max_concurrency": 1} if twin.mode == "async" else {})
        )
    error = failed.value
    assert error.failed_batch == 2 and error.written == 4
    assert error.written_ids == ["r0", "r1", "r2", "r3"] == server.landed
    assert server.requests == [2, 2, 2], "batches after the failed one are never sent"
    assert "batch 2 of 5" in str(error) and "'r0'" in str(error) and "bad batch" in str(error)
    logged = caplog.text + capsys.readouterr().out
    assert "'r3'" in logged and "batch 2 of 5" in logged


def test_async_siblings_of_a_failed_batch_are_cancelled_not_left_running(hook):
    server = Server(fail_batch=0, delay=0.3)

    async def scenario():
        with pytest.raises(PartialWriteError) as failed:
            await hook.aupsert("docs", rows(12), batch_size=2, max_concurrency=3, client=AsyncFake(server))
        await asyncio.sleep(0.5)  # a sibling left running would land now
        return failed.value

    error = asyncio.run(scenario())
    assert server.landed == [] and error.written_ids == []
    assert error.uncertain_ids == ["r2", "r3", "r4", "r5"], "the two batches in flight when cancelled"
    assert "nothing was written" in str(error) and "may have landed" in str(error)


def test_a_failure_with_nothing_written_says_so(twin):
    with pytest.raises(PartialWriteError, match="nothing was written") as failed:
        twin("insert", Server(fail_batch=0), "docs", rows(3))
    assert failed.value.written_ids == []


# ---- item 4: duplicates, retries, auto_id --------------------------------------------------------


def test_duplicate_ids_in_one_call_are_refused_naming_the_id(twin):
    server = Server()
    data = rows(5) + [{"id": "r1", "vector": [1.0, 1.0, 1.0], "text": "later"}]
    with pytest.raises(RowValidationError, match=r"primary key 'r1' appears twice in one call \(rows 1 and 5\)"):
        twin("upsert", server, "docs", data, batch_size=2)
    assert server.requests == []


def test_insert_with_a_user_primary_key_logs_that_a_retry_duplicates(twin, caplog, capsys):
    with caplog.at_level(logging.INFO):
        twin("insert", Server(), "docs", rows(2))
    logged = caplog.text + capsys.readouterr().out
    assert "a retry or a second run with the same rows duplicates them; use upsert" in logged


def test_auto_id_collections_insert_without_ids_and_refuse_upsert(twin, caplog, capsys):
    server = Server(schema=AUTO_ID)
    data = [{"vector": [0.1, 0.2, 0.3], "title": "dynamic field"} for _ in range(3)]
    with caplog.at_level(logging.INFO):
        assert twin("insert", server, "docs", data, batch_size=2) == 3
    assert server.landed == [100, 101, 102]
    assert "duplicates them" not in caplog.text + capsys.readouterr().out
    with pytest.raises(
        RowValidationError,
        match=r"upsert into 'docs' refused: its primary key 'pk' is generated by the server \(auto_id\)",
    ):
        twin("upsert", server, "docs", data)
    with pytest.raises(RowValidationError, match=r"batch 0, row 0: field 'pk' is given, but the collection generates"):
        twin("insert", server, "docs", [{"pk": 5, "vector": [0.1, 0.2, 0.3]}])
    assert server.requests == [2, 1]


def test_the_ids_of_an_auto_id_partial_write_are_the_servers(twin):
    server = Server(schema=AUTO_ID, fail_batch=1)
    data = [{"vector": [0.1, 0.2, 0.3]} for _ in range(4)]
    with pytest.raises(PartialWriteError) as failed:
        twin("insert", server, "docs", data, batch_size=2, **({"max_concurrency": 1} if twin.mode == "async" else {}))
    assert failed.value.written_ids == [100, 101]


# ---- item 9: the twins alike ---------------------------------------------------------------------


@pytest.mark.parametrize("op", ["insert", "upsert"])
def test_both_twins_batch_by_1000_by_default(twin, op):
    server = Server()
    assert twin(op, server, "docs", rows(2500)) == 2500
    assert sorted(server.requests, reverse=True) == [1000, 1000, 500]


@pytest.mark.parametrize("op", ["insert", "upsert"])
def test_none_is_refused_unless_allow_empty_in_both_twins(twin, op):
    server = Server()
    with pytest.raises(ValueError, match=r"got data=None .* allow_empty=True"):
        twin(op, server, "docs", None)
    assert twin(op, server, "docs", None, allow_empty=True) == 0
    assert twin(op, server, "docs", []) == 0
    assert server.requests == []


@pytest.mark.parametrize("op", ["insert", "upsert"])
def test_a_per_call_timeout_is_a_hook_error_in_both_twins(twin, op):
    server = Server(fail_batch=0, error=FakeDeadline())
    with pytest.raises(
        MilvusHookError,
        match=rf"{op} 2 rows into 'docs' on http://127\.0\.0\.1:1 failed: DEADLINE_EXCEEDED: Deadline Exceeded",
    ):
        twin(op, server, "docs", rows(2), timeout=0.01)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_client_that_cannot_be_built_is_a_hook_error_in_both_twins(hook, monkeypatch, mode):
    import pymilvus

    def refuse(**kwargs):
        raise ValueError("Port could not be cast to integer value as 'nope'")

    monkeypatch.setattr(pymilvus, "MilvusClient", refuse)
    monkeypatch.setattr(pymilvus, "AsyncMilvusClient", refuse)
    with pytest.raises(
        MilvusHookError, match=r"connect on http://127\.0\.0\.1:1 failed: invalid client settings: Port could not"
    ):
        if mode == "sync":
            hook.insert("docs", rows(1))
        else:
            asyncio.run(hook.ainsert("docs", rows(1)))

    def refuse_uri(**kwargs):
        raise MilvusException(code=1, message="uri: foo://bar is illegal")

    monkeypatch.setattr(pymilvus, "MilvusClient", refuse_uri)
    monkeypatch.setattr(pymilvus, "AsyncMilvusClient", refuse_uri)
    with pytest.raises(MilvusHookError, match="is illegal"):
        if mode == "sync":
            hook.upsert("docs", rows(1))
        else:
            asyncio.run(hook.aupsert("docs", rows(1)))


def test_delete_twins_batch_alike_and_fail_alike(twin):
    server = Server()
    assert twin("delete", server, "docs", ids=[f"r{i}" for i in range(2500)]) == 2500
    assert server.requests == [1000, 1000, 500]
    with pytest.raises(ValueError, match="needs ids or a filter"):
        twin("delete", server, "docs")
    server = Server(fail_batch=0, error=FakeDeadline())
    with pytest.raises(
        MilvusHookError, match=r"delete 2 rows from 'docs' on http://127\.0\.0\.1:1 failed: DEADLINE_EXCEEDED"
    ):
        twin("delete", server, "docs", ids=["a", "b"])
