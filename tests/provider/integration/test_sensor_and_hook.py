"""The sensor's poke, the trigger's polling and the hook's generic data methods (sync and
async twins) against the real Milvus servers of the test session, each test on both
(``server_conn_id`` / ``server_hook``: the 2.3.5 server and Milvus Lite 3.2.2)."""

from __future__ import annotations

import asyncio
import time

import pytest

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.sensors.milvus import MilvusCollectionSensor
from milvus_provider.triggers.milvus import MilvusCollectionTrigger

pytestmark = pytest.mark.integration


def sensor(conn_id, name, **kwargs):
    return MilvusCollectionSensor(
        task_id="wait", collection_name=name, poke_interval=0.1, timeout=30, milvus_conn_id=conn_id, **kwargs
    )


def test_sensor_poke_is_false_until_the_collection_is_loaded_with_enough_matching_rows(
    server_hook, server_conn_id, collection_name
):
    hook = server_hook
    wait = sensor(server_conn_id, collection_name, min_row_count=2, filter='kind == "feed"')
    assert wait.poke(context={}).is_done is False, "missing"
    hook.create_collection(collection_name, 2)
    hook.upsert(
        collection_name,
        [{"id": "f1", "vector": [1.0, 0.0], "kind": "feed"}, {"id": "o1", "vector": [0.0, 1.0], "kind": "other"}],
    )
    result = wait.poke(context={})
    assert result.is_done is False and result.xcom_value["row_count"] == 1, "only matching rows count"
    hook.upsert(collection_name, [{"id": "f2", "vector": [1.0, 1.0], "kind": "feed"}])
    result = wait.poke(context={})
    assert result.is_done is True
    assert result.xcom_value == {"collection_name": collection_name, "exists": True, "loaded": True, "row_count": 2}

    hook.get_conn().release_collection(collection_name)
    assert sensor(server_conn_id, collection_name).poke(context={}).is_done is False, "released: not loaded"
    hook.get_conn().load_collection(collection_name)
    assert sensor(server_conn_id, collection_name).poke(context={}).is_done is True


def test_sensor_accepts_an_alias(server_hook, server_conn_id, collection_name):
    hook = server_hook
    alias = f"{collection_name}_a"
    hook.create_collection(collection_name, 2)
    hook.upsert(collection_name, [{"id": "x", "vector": [1.0, 0.0]}])
    assert sensor(server_conn_id, alias).poke(context={}).is_done is False
    hook.create_alias(alias, collection_name)
    try:
        assert sensor(server_conn_id, alias, min_row_count=1).poke(context={}).is_done is True
    finally:
        hook.drop_alias(alias)


def test_trigger_polls_the_real_server_until_rows_arrive(server_hook, server_conn_id, collection_name):
    hook = server_hook
    trigger = MilvusCollectionTrigger(
        milvus_conn_id=server_conn_id,
        collection_name=collection_name,
        min_row_count=2,
        poke_interval=0.2,
        end_at=time.time() + 60,
    )

    async def scenario():
        task = asyncio.create_task(trigger.run().__anext__())
        await asyncio.sleep(0.6)
        assert not task.done(), "no collection yet: still waiting"
        await asyncio.to_thread(hook.create_collection, collection_name, 2)
        await asyncio.to_thread(
            hook.upsert, collection_name, [{"id": "a", "vector": [1.0, 0.0]}, {"id": "b", "vector": [0.0, 1.0]}]
        )
        return await asyncio.wait_for(task, timeout=30)

    event = asyncio.run(scenario())
    assert event.payload["status"] == "success" and event.payload["state"]["row_count"] == 2


def test_trigger_times_out_with_a_timeout_event(server_conn_id, collection_name):
    trigger = MilvusCollectionTrigger(
        milvus_conn_id=server_conn_id, collection_name=collection_name, poke_interval=0.1, end_at=time.time() + 0.5
    )
    event = asyncio.run(asyncio.wait_for(trigger.run().__anext__(), timeout=30))
    assert event.payload["status"] == "timeout" and "does not exist yet" in event.payload["message"]


def test_sync_data_methods(server_hook, collection_name):
    hook = server_hook
    assert hook.create_collection(collection_name, 2, primary_field_type="INT64") is True
    assert hook.create_collection(collection_name, 2) is False
    rows = [{"id": i, "vector": [1.0, float(i)], "kind": "even" if i % 2 == 0 else "odd"} for i in range(10)]
    assert hook.insert(collection_name, rows[:6], batch_size=4) == 6
    assert hook.upsert(collection_name, rows[4:]) == 6
    assert hook.count(collection_name) == 10
    assert [r["id"] for r in hook.get(collection_name, [3, 99], output_fields=["kind"])] == [3]
    assert sorted(r["id"] for r in hook.query(collection_name, 'kind == "even"', output_fields=["id"])) == [
        0,
        2,
        4,
        6,
        8,
    ]
    hits = hook.search(
        collection_name,
        [[1.0, 9.0]],
        limit=3,
        filter='kind == "odd"',
        output_fields=["kind"],
        consistency_level="Strong",
    )
    assert hits[0][0]["id"] == 9 and {h["kind"] for h in hits[0]} == {"odd"}
    assert hook.delete(collection_name, [0, 1]) == 2
    assert hook.delete(collection_name, filter="id in [2, 3]") == 2
    assert hook.count(collection_name) == 6
    assert hook.collection_state(collection_name)["row_count"] == 6


def test_async_twins_match_the_sync_methods(server_hook, collection_name):
    hook = server_hook
    hook.create_collection(collection_name, 2)
    rows = [{"id": f"r{i:02d}", "vector": [1.0, float(i)], "group": i % 3} for i in range(30)]

    async def scenario():
        async with hook.async_client() as client:  # one channel for all calls
            written = await hook.aupsert(collection_name, rows, batch_size=7, max_concurrency=3, client=client)
            inserted = await hook.ainsert(
                collection_name, [{"id": "extra", "vector": [0.0, 1.0], "group": 9}], client=client
            )
            count = await hook.acount(collection_name, client=client)
            grouped = await hook.acount(collection_name, "group == 0", client=client)
            got = await hook.aget(collection_name, ["r01", "nope"], output_fields=["group"], client=client)
            queried = await hook.aquery(collection_name, "group == 9", output_fields=["id"], client=client)
            hits = await hook.asearch(
                collection_name, [[1.0, 29.0]], limit=1, consistency_level="Strong", client=client
            )
            by_ids = await hook.adelete(collection_name, ids=["r00", "r01"], client=client)
            by_filter = await hook.adelete(collection_name, filter='id in ["r02", "r03"]', client=client)
            state = await hook.acollection_state(collection_name, client=client)
        # and without a client of the caller's: the hook opens and closes its own
        return (
            written,
            inserted,
            count,
            grouped,
            got,
            queried,
            hits,
            by_ids,
            by_filter,
            state,
            await hook.acount(collection_name),
        )

    written, inserted, count, grouped, got, queried, hits, by_ids, by_filter, state, after = asyncio.run(scenario())
    assert (written, inserted, count, grouped) == (30, 1, 31, 10)
    assert got == [{"id": "r01", "group": 1}]
    assert queried == [{"id": "extra"}]
    assert hits[0][0]["id"] == "r29"
    assert (by_ids, by_filter) == (2, 2)
    assert state["row_count"] == 27 and after == 27
    assert hook.count(collection_name) == 27


def test_a_fresh_hook_resolves_its_connection_inside_the_event_loop(server_conn_id, collection_name):
    async def scenario():
        hook = MilvusHook(server_conn_id)
        config = await hook.aget_config()
        return config.uri, await hook.acollection_state(collection_name)

    uri, state = asyncio.run(scenario())
    assert uri.startswith("http://127.0.0.1:") and state["exists"] is False


@pytest.mark.parametrize(
    "server_conn_id", ["milvus-lite"], indirect=True
)  # restarts in seconds; 2.3.5 can panic on a quick restart
def test_trigger_survives_a_real_server_restart_while_it_waits(
    server_hook, server_conn_id, local_server, collection_name
):
    """Stop the session's server while the trigger waits, keep it down for a few seconds,
    start it again: the failed polls stay inside ``error_window``, and the trigger fires
    success once the rows arrive after the restart."""
    hook = server_hook
    hook.create_collection(collection_name, 2)
    hook.upsert(collection_name, [{"id": "a", "vector": [1.0, 0.0]}])
    trigger = MilvusCollectionTrigger(
        milvus_conn_id=server_conn_id,
        collection_name=collection_name,
        min_row_count=2,
        poke_interval=0.5,
        error_window=60,
        end_at=time.time() + 180,
    )
    polling = MilvusHook(server_conn_id)
    failures: list[BaseException] = []
    real_state = polling.acollection_state

    async def counted_state(*args, **kwargs):
        try:
            return await real_state(*args, **kwargs)
        except Exception as exc:
            failures.append(exc)
            raise

    polling.acollection_state = counted_state
    trigger._hook = lambda: polling

    async def scenario():
        task = asyncio.create_task(trigger.run().__anext__())
        await asyncio.sleep(1.0)
        assert not task.done(), "one row of two: still waiting"
        hook.close()
        await asyncio.to_thread(local_server.down, timeout=10, quiet=True)
        await asyncio.sleep(3)  # an outage of a few seconds
        assert not task.done(), "an outage inside error_window is no error"
        await asyncio.to_thread(local_server.up, attempts=3)
        await asyncio.to_thread(hook.get_conn().load_collection, collection_name)
        await asyncio.to_thread(hook.upsert, collection_name, [{"id": "b", "vector": [0.0, 1.0]}])
        return await asyncio.wait_for(task, timeout=90)

    try:
        event = asyncio.run(scenario())
    finally:
        if local_server.pid() is None:  # never leave the session without its server
            local_server.up(attempts=3)
    assert event.payload["status"] == "success", event.payload
    assert event.payload["state"]["row_count"] == 2
    assert failures, "the trigger should have polled the stopped server"
