"""MilvusHook's generic data methods with fake pymilvus clients: batching, the async twins'
concurrency bound, delete by ids or by filter, JSON-safe hits, and the toolkit's positional
calls (``upsert(name, rows)``, ``delete(name, ids)``) still returning ints."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pymilvus.client.types import LoadState
from pymilvus.exceptions import MilvusException

from milvus_provider.hooks.milvus import MilvusHook, MilvusHookError

SCHEMA = {
    "collection_name": "docs",
    "auto_id": False,
    "enable_dynamic_field": True,
    "fields": [
        {"name": "id", "type": "VARCHAR", "params": {"max_length": 64}, "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 2}},
    ],
}


class FakeClient:
    """Records calls; answers like MilvusClient."""

    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))

    def describe_collection(self, collection_name, **kwargs):
        return SCHEMA

    def upsert(self, collection_name, data, **kwargs):
        self._record("upsert", collection_name, data=data, **kwargs)
        return {"upsert_count": len(data)}

    def insert(self, collection_name, data, **kwargs):
        self._record("insert", collection_name, data=data, **kwargs)
        return {"insert_count": len(data)}

    def delete(self, collection_name, ids=None, filter=None, **kwargs):
        self._record("delete", collection_name, ids=ids, filter=filter, **kwargs)
        return {"delete_count": 7 if filter else len(ids)}

    def search(self, collection_name, data, **kwargs):
        self._record("search", collection_name, data=data, **kwargs)
        return [
            [
                {"id": "a", "distance": np.float32(0.5), "entity": {"text": "alpha", "vec": np.array([1.0, 2.0])}},
                {"id": "b", "distance": 0.25, "entity": {}},
            ]
            for _ in data
        ]

    def query(self, collection_name, **kwargs):
        self._record("query", collection_name, **kwargs)
        if kwargs.get("output_fields") == ["count(*)"]:
            return [{"count(*)": 3}]
        return [{"id": "a", "score": np.int64(4)}]


class FakeAsyncClient:
    """Answers like AsyncMilvusClient; measures how many writes are in flight together."""

    def __init__(self):
        self.in_flight = 0
        self.peak = 0
        self.batches: list[int] = []

    async def _write(self, data):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.batches.append(len(data))

    async def describe_collection(self, collection_name, **kwargs):
        return SCHEMA

    async def upsert(self, collection_name, data, **kwargs):
        await self._write(data)
        return {"upsert_count": len(data)}

    async def insert(self, collection_name, data, **kwargs):
        await self._write(data)
        return {"insert_count": len(data)}

    async def delete(self, collection_name, ids=None, filter=None, **kwargs):
        return {"delete_count": 5 if filter else len(ids)}

    async def query(self, collection_name, **kwargs):
        if kwargs.get("output_fields") == ["count(*)"]:
            return [{"count(*)": 9}]
        return [{"id": i} for i in kwargs.get("ids", ["x"])]

    async def search(self, collection_name, data, **kwargs):
        return [[{"id": 1, "distance": 0.9, "entity": {"text": "t"}}] for _ in data]

    async def has_collection(self, collection_name):
        return True

    async def get_load_state(self, collection_name):
        return {"state": LoadState.Loaded}


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_FAKE", "milvus://root:secret@127.0.0.1:1/default")
    hook = MilvusHook("milvus_fake")
    hook._client = FakeClient()
    return hook


ROWS = [{"id": str(i), "vector": [float(i)] * 2} for i in range(10)]


def test_toolkit_positional_calls_keep_working(hook):
    assert hook.upsert("docs", ROWS) == 10
    assert hook.delete("docs", ["1", "2"]) == 2
    assert hook.count("docs") == 3
    names = [call[0] for call in hook._client.calls]
    assert names == ["upsert", "delete", "query"]
    assert hook._client.calls[0][2]["data"] == ROWS, "10 rows: one request (batches of 1000 by default)"


def test_writes_are_batched(hook):
    assert hook.insert("docs", ROWS, batch_size=4) == 10
    assert [len(call[2]["data"]) for call in hook._client.calls] == [4, 4, 2]
    assert hook.upsert("docs", [], batch_size=4) == 0
    assert hook.upsert("docs", ROWS[0]) == 1, "a single row dict is accepted"


def test_delete_by_ids_or_filter_but_not_neither_or_both(hook):
    assert hook.delete("docs", ids=["a", "b", "c"], batch_size=2) == 3
    assert hook.delete("docs", filter='kind == "old"') == 7
    assert hook._client.calls[-1][2]["filter"] == 'kind == "old"'
    with pytest.raises(ValueError, match="needs ids or a filter"):
        hook.delete("docs")
    with pytest.raises(ValueError, match="not both"):
        hook.delete("docs", ids=["a"], filter="x > 1")


def test_search_returns_flat_json_safe_hits(hook):
    hits = hook.search("docs", data=[[0.1, 0.2], [0.3, 0.4]], limit=2, output_fields=["text"], filter="x > 1")
    assert hits[0] == [
        {"id": "a", "distance": 0.5, "text": "alpha", "vec": [1.0, 2.0]},
        {"id": "b", "distance": 0.25},
    ]
    assert len(hits) == 2
    assert type(hits[0][0]["distance"]) is float and type(hits[0][0]["vec"][0]) is float
    _, args, kwargs = hook._client.calls[-1]
    assert kwargs == {"data": [[0.1, 0.2], [0.3, 0.4]], "output_fields": ["text"], "limit": 2, "filter": "x > 1"}


def test_query_and_get_default_to_strong_consistency(hook):
    assert hook.query("docs", 'id == "a"', output_fields=["score"]) == [{"id": "a", "score": 4}]
    assert hook._client.calls[-1][2]["consistency_level"] == "Strong"
    hook.get("docs", "a")
    assert hook._client.calls[-1][2]["ids"] == ["a"]
    assert hook.get("docs", []) == []


def test_async_writes_keep_at_most_max_concurrency_batches_in_flight(hook):
    client = FakeAsyncClient()
    rows30 = [{"id": str(i), "vector": [1.0, 2.0]} for i in range(30)]
    written = asyncio.run(hook.aupsert("docs", rows30, batch_size=3, max_concurrency=3, client=client))
    assert written == 30
    assert len(client.batches) == 10
    assert client.peak == 3, "three batches in flight together, never more"

    client = FakeAsyncClient()
    assert asyncio.run(hook.ainsert("docs", ROWS, batch_size=5, max_concurrency=1, client=client)) == 10
    assert client.peak == 1


def test_async_reads_and_deletes(hook):
    client = FakeAsyncClient()

    async def scenario():
        return (
            await hook.acount("docs", client=client),
            await hook.aget("docs", ["p", "q"], client=client),
            await hook.asearch("docs", [[0.1]], limit=1, client=client),
            await hook.adelete("docs", ids=["p", "q", "r"], batch_size=2, client=client),
            await hook.adelete("docs", filter="x > 1", client=client),
            await hook.acollection_state("docs", client=client),
        )

    count, rows, hits, by_ids, by_filter, state = asyncio.run(scenario())
    assert count == 9 and rows == [{"id": "p"}, {"id": "q"}]
    assert hits == [[{"id": 1, "distance": 0.9, "text": "t"}]]
    assert by_ids == 3 and by_filter == 5
    assert state == {"collection_name": "docs", "exists": True, "loaded": True, "row_count": 9}


def test_async_errors_name_the_action_and_the_server(hook):
    class Failing(FakeAsyncClient):
        async def upsert(self, collection_name, data, **kwargs):
            raise MilvusException(code=1, message="boom")

    with pytest.raises(MilvusHookError, match=r"upsert 2 rows into 'docs' on http://127\.0\.0\.1:1 failed: boom"):
        asyncio.run(hook.aupsert("docs", ROWS[:2], client=Failing()))


def test_create_collection_validates_its_arguments(hook):
    with pytest.raises(ValueError, match="between 1 and 32768"):
        hook.create_collection("docs", 0)
    with pytest.raises(ValueError, match="VARCHAR or INT64"):
        hook.create_collection("docs", 4, primary_field_type="FLOAT")
