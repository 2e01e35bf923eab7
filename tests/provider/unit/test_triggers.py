"""MilvusCollectionTrigger: serialization, and the events its polling loop yields (a fake
async hook: no server, no Airflow triggerer)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from airflow.sdk._shared.module_loading import import_string
from airflow.triggers.base import TriggerEvent

from milvus_provider.triggers.milvus import MilvusCollectionTrigger, collection_condition_met


class FakeAsyncHook:
    """Answers ``acollection_state`` from a script: a state dict, or an exception to raise."""

    def __init__(self, script, config_error: Exception | None = None):
        self.script = list(script)
        self.calls: list[dict] = []
        self.config_error = config_error

    async def aget_config(self):
        if self.config_error:
            raise self.config_error
        return object()

    async def acollection_state(self, collection_name, *, filter="", count_rows=True):
        self.calls.append({"collection_name": collection_name, "filter": filter, "count_rows": count_rows})
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def state(exists=True, loaded=True, rows=None):
    return {"collection_name": "docs", "exists": exists, "loaded": loaded, "row_count": rows}


def run_first_event(trigger, hook) -> tuple[TriggerEvent, list]:
    trigger._hook = lambda: hook

    async def first():
        gen = trigger.run()
        event = await gen.__anext__()
        with pytest.raises(StopAsyncIteration):  # single-event trigger: nothing after the event
            await gen.__anext__()
        return event

    return asyncio.run(asyncio.wait_for(first(), timeout=10)), hook.calls


def trigger(**kwargs):
    return MilvusCollectionTrigger(
        collection_name="docs", milvus_conn_id="milvus_x", **{"min_row_count": 2, "poke_interval": 0.01, **kwargs}
    )


def test_serialize_round_trips_through_the_classpath():
    original = trigger(filter='kind == "feed"', end_at=1234.5)
    classpath, kwargs = original.serialize()
    rebuilt = import_string(classpath)(**kwargs)
    assert type(rebuilt) is MilvusCollectionTrigger
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "collection_name": "docs",
        "milvus_conn_id": "milvus_x",
        "min_row_count": 2,
        "filter": 'kind == "feed"',
        "poke_interval": 0.01,
        "end_at": 1234.5,
        "error_window": 60.0,
        "filter_params": None,
    }


def test_fires_success_once_the_condition_holds():
    hook = FakeAsyncHook([state(exists=False, loaded=False), state(loaded=False), state(rows=1), state(rows=2)])
    event, calls = run_first_event(trigger(filter='kind == "feed"'), hook)
    assert event.payload["status"] == "success"
    assert event.payload["state"] == state(rows=2)
    assert "holds 2 rows" in event.payload["message"]
    assert len(calls) == 4
    assert calls[0] == {"collection_name": "docs", "filter": 'kind == "feed"', "count_rows": True}


def test_without_a_minimum_existing_and_loaded_is_enough():
    hook = FakeAsyncHook([state(loaded=False), state()])
    event, calls = run_first_event(trigger(min_row_count=0), hook)
    assert event.payload["status"] == "success" and len(calls) == 2
    assert calls[0]["count_rows"] is False


class FakeClock:
    """The trigger's ``time.time`` and ``asyncio.sleep``: a sleep moves the clock by exactly
    its delay (and yields to the loop), so the polling schedule is checked without waiting
    and whatever the machine's load."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch):
    import milvus_provider.triggers.milvus as module

    fake = FakeClock(1000.0)
    monkeypatch.setattr(module, "time", fake)
    monkeypatch.setattr(module, "asyncio", SimpleNamespace(sleep=fake.sleep))  # the loop's own asyncio is untouched
    return fake


def test_times_out_at_end_at(clock):
    hook = FakeAsyncHook([state(rows=1)])
    event, calls = run_first_event(trigger(poke_interval=0.25, end_at=1001.0), hook)
    assert event.payload["status"] == "timeout"
    assert "holds 1 rows" in event.payload["message"] and event.payload["state"] == state(rows=1)
    # polled every poke_interval until end_at, then one last look: never later, never more
    assert clock.sleeps == [0.25] * 4 and clock.now == 1001.0 and len(calls) == 5


def test_the_last_wait_stops_at_end_at_not_a_whole_interval_later(clock):
    hook = FakeAsyncHook([state(rows=1)])
    event, calls = run_first_event(trigger(poke_interval=0.5, end_at=1000.75), hook)
    assert event.payload["status"] == "timeout"
    assert clock.sleeps == [0.5, 0.25] and clock.now == 1000.75 and len(calls) == 3


def test_transient_errors_are_retried_and_persistent_ones_reported():
    hook = FakeAsyncHook([RuntimeError("server restarting"), state(rows=2)])
    event, _ = run_first_event(trigger(), hook)
    assert event.payload["status"] == "success"

    hook = FakeAsyncHook([RuntimeError("bad filter")])
    event, calls = run_first_event(trigger(error_window=0.05), hook)
    assert event.payload["status"] == "error" and "bad filter" in event.payload["message"]
    assert len(calls) >= 2


def test_an_unusable_connection_is_an_error_event():
    hook = FakeAsyncHook([state(rows=2)], config_error=ValueError("connection 'milvus_x' has no URI/host"))
    event, calls = run_first_event(trigger(), hook)
    assert event.payload["status"] == "error" and "no URI/host" in event.payload["message"]
    assert calls == []


@pytest.mark.parametrize(
    ("current", "minimum", "met"),
    [
        (state(exists=False, loaded=False), 0, False),
        (state(loaded=False), 0, False),
        (state(), 0, True),
        (state(rows=None), 1, False),
        (state(rows=0), 1, False),
        (state(rows=1), 1, True),
    ],
)
def test_condition(current, minimum, met):
    assert collection_condition_met(current, minimum) is met


# ---- issue 23, item 8 ------------------------------------------------------------------------


def test_a_filter_is_evaluated_even_with_min_row_count_zero():
    hook = FakeAsyncHook([state(rows=None), state(rows=0)])
    event, calls = run_first_event(trigger(min_row_count=0, filter='kind == "feed"'), hook)
    assert calls[0] == {"collection_name": "docs", "filter": 'kind == "feed"', "count_rows": True}
    assert event.payload["status"] == "success" and event.payload["state"]["row_count"] == 0
    assert len(calls) == 2, "loaded but not counted is not met"
    assert collection_condition_met(state(rows=None), 0, 'kind == "feed"') is False
    assert collection_condition_met(state(rows=0), 0, 'kind == "feed"') is True


def test_errors_back_off_exponentially_capped_and_give_up_after_the_error_window(clock):
    hook = FakeAsyncHook([RuntimeError("server down")])
    event, calls = run_first_event(trigger(poke_interval=8, error_window=30, end_at=2000.0), hook)
    assert event.payload["status"] == "error"
    assert "server down" in event.payload["message"] and "30" in event.payload["message"]
    # 1, 2, 4, then capped at poke_interval; the last wait ends at the window's end
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 7.0] and clock.now == 1030.0
    assert len(calls) == 7


def test_an_outage_shorter_than_the_window_is_survived_and_a_success_resets_the_count(clock):
    down = RuntimeError("server down")
    script = [down, down, down, state(rows=0), down, down, state(rows=2)]
    event, calls = run_first_event(trigger(poke_interval=8, error_window=10, end_at=2000.0), FakeAsyncHook(script))
    assert event.payload["status"] == "success" and len(calls) == 7
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 1.0, 2.0]  # back to 1 s after a success


def test_no_error_window_waits_through_errors_until_the_timeout(clock):
    event, _ = run_first_event(
        trigger(poke_interval=2, error_window=None, end_at=1010.0), FakeAsyncHook([RuntimeError("down")])
    )
    assert event.payload["status"] == "timeout" and "down" in event.payload["message"]
    assert clock.now == 1010.0


def test_the_backoff_never_waits_past_end_at(clock):
    event, _ = run_first_event(
        trigger(poke_interval=8, error_window=100, end_at=1002.5), FakeAsyncHook([RuntimeError("down")])
    )
    assert event.payload["status"] == "timeout"
    assert clock.sleeps == [1.0, 1.5] and clock.now == 1002.5


def test_a_trigger_serialized_by_0_3_0_still_loads():
    old = MilvusCollectionTrigger(
        collection_name="docs",
        milvus_conn_id="milvus_x",
        min_row_count=1,
        filter="",
        poke_interval=5.0,
        end_at=None,
        max_consecutive_errors=3,
    )
    assert old.serialize()[1]["error_window"] == 60.0
