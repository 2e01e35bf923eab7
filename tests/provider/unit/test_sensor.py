"""MilvusCollectionSensor: poke's condition, the hand-off to MilvusCollectionTrigger (deferrable
by default) and the resume after its event (a fake hook: no server)."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest.mock import Mock

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.sensors.milvus import MilvusCollectionSensor
from milvus_provider.triggers.milvus import MilvusCollectionTrigger

CONTEXT = {"params": {"collection": "docs", "rows": 2, "kind": "feed"}}


def state(exists=True, loaded=True, rows=None, name="docs"):
    return {"collection_name": name, "exists": exists, "loaded": loaded, "row_count": rows}


def sensor(*states, **kwargs):
    kwargs = {
        "collection_name": "{{ params.collection }}",
        "min_row_count": "{{ params.rows }}",
        "filter": 'kind == "{{ params.kind }}"',
        "poke_interval": 5,
        "timeout": 60,
        **kwargs,
    }
    with DAG("unit_sensor_dag", schedule=None, start_date=datetime(2025, 1, 1)):
        op = MilvusCollectionSensor(task_id="wait", **kwargs)
    op.render_template_fields(CONTEXT)
    hook = Mock(spec=MilvusHook)
    hook.collection_state.side_effect = list(states)
    op.hook = hook
    return op, hook


@pytest.mark.parametrize(
    ("current", "done"),
    [
        (state(exists=False, loaded=False), False),
        (state(loaded=False), False),
        (state(rows=1), False),
        (state(rows=2), True),
        (state(rows=5), True),
    ],
)
def test_poke_is_done_only_when_the_collection_exists_is_loaded_and_has_enough_rows(current, done):
    op, hook = sensor(current)
    result = op.poke(context={})
    assert result.is_done is done
    assert result.xcom_value == current
    hook.collection_state.assert_called_once_with("docs", filter='kind == "feed"', count_rows=True)


def test_without_a_minimum_rows_are_not_counted():
    op, hook = sensor(state(), min_row_count=0, filter="")
    assert op.poke(context={}).is_done
    hook.collection_state.assert_called_once_with("docs", filter="", count_rows=False)


def test_deferrable_by_default_hands_off_to_the_trigger_with_the_rendered_arguments(monkeypatch):
    import milvus_provider.sensors.milvus as sensor_module

    op, hook = sensor(state(rows=0))
    assert op.deferrable is True
    now = 1_800_000_000.0  # a frozen clock: the figures below are exact, whatever the machine's load
    monkeypatch.setattr(sensor_module.time, "time", lambda: now)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, MilvusCollectionTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=60)  # what is left of it (no time passed on the frozen clock)
    classpath, kwargs = trigger.serialize()
    assert classpath == "milvus_provider.triggers.milvus.MilvusCollectionTrigger"
    assert kwargs["collection_name"] == "docs" and kwargs["min_row_count"] == 2
    assert kwargs["filter"] == 'kind == "feed"' and kwargs["poke_interval"] == 5.0
    assert kwargs["milvus_conn_id"] == "milvus_default"
    assert kwargs["end_at"] == now + 60
    hook.close.assert_called_once()  # the worker keeps no client while the triggerer waits


def test_a_condition_already_met_returns_without_deferring():
    op, hook = sensor(state(rows=3))
    assert op.execute(context={}) == state(rows=3)


def test_non_deferrable_pokes_in_the_worker():
    op, hook = sensor(state(rows=0), state(rows=2), deferrable=False, poke_interval=0.01)
    assert op.execute(context={}) == state(rows=2)
    assert hook.collection_state.call_count == 2


def test_execute_complete_returns_the_state_or_fails():
    op, _ = sensor()
    ok = {"status": "success", "state": state(rows=2), "message": "ok"}
    assert op.execute_complete(context={}, event=ok) == state(rows=2)
    with pytest.raises(AirflowSensorTimeout, match="timed out"):
        op.execute_complete(context={}, event={"status": "timeout", "message": "timed out: holds 1 rows"})
    with pytest.raises(AirflowException, match="bad filter"):
        op.execute_complete(context={}, event={"status": "error", "message": "bad filter"})


# ---- issue 23, item 8 ------------------------------------------------------------------------


def test_a_filter_is_evaluated_even_with_min_row_count_zero():
    """0 means: the collection exists, is loaded and the filtered count query succeeds
    (any count, 0 included); a filter that Milvus rejects is an error, not a success."""
    op, hook = sensor(state(rows=0), min_row_count=0)
    result = op.poke(context={})
    hook.collection_state.assert_called_once_with("docs", filter='kind == "feed"', count_rows=True)
    assert result.is_done is True and result.xcom_value["row_count"] == 0

    op, hook = sensor(state(rows=None), min_row_count=0)  # loaded but not counted: not met
    assert op.poke(context={}).is_done is False


class Boom(Exception):
    pass


@pytest.mark.parametrize("deferrable", [True, False])
def test_never_fail_skips_on_an_error_in_both_modes_even_on_the_first_check(deferrable):
    from airflow.sdk.exceptions import AirflowSkipException

    op, hook = sensor(Boom("server down"), never_fail=True, deferrable=deferrable, error_window=0, poke_interval=0.01)
    with pytest.raises(AirflowSkipException, match="never_fail"):
        op.execute(context={})


@pytest.mark.parametrize("deferrable", [True, False])
def test_silent_fail_logs_and_keeps_waiting_in_both_modes_even_on_the_first_check(deferrable):
    op, hook = sensor(
        Boom("server down"),
        state(rows=0),
        state(rows=2),
        silent_fail=True,
        deferrable=deferrable,
        error_window=0,
        poke_interval=0.01,
    )
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(context={})
        # and the trigger keeps polling through errors too, until the timeout
        assert deferred.value.trigger.serialize()[1]["error_window"] is None
    else:
        assert op.execute(context={}) == state(rows=2)


@pytest.mark.parametrize("deferrable", [True, False])
def test_without_never_or_silent_fail_an_error_past_the_window_fails_in_both_modes(deferrable):
    op, _ = sensor(Boom("bad filter"), deferrable=deferrable, error_window=0)
    with pytest.raises(Boom):
        op.execute(context={})


def test_the_error_window_is_a_sensor_argument_passed_to_the_trigger():
    op, _ = sensor(state(rows=0), error_window=45)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context={})
    assert deferred.value.trigger.serialize()[1]["error_window"] == 45.0


def test_non_deferrable_tolerates_errors_within_the_window_with_a_capped_exponential_backoff():
    op, hook = sensor(
        Boom("down"), Boom("down"), Boom("down"), state(rows=2), deferrable=False, poke_interval=3, error_window=60
    )
    waits = []
    import milvus_provider.sensors.milvus  # noqa: F401  (the base loop's time.sleep is patched below)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("airflow.sdk.bases.sensor.time.sleep", waits.append)
        assert op.execute(context={}) == state(rows=2)
    assert waits == [1.0, 2.0, 3.0]  # 1, 2, 4 capped at poke_interval


def test_the_timeout_counts_from_the_first_check_not_from_the_deferral():
    """The first check's own time is part of ``timeout``: the trigger's ``end_at`` and the
    deferral's timeout are what is left of it, not a whole new ``timeout``."""
    op, hook = sensor(timeout=60)
    clock = [1000.0]

    def slow_first_check(*args, **kwargs):
        clock[0] += 20.0  # a slow server: the first check takes 20 s
        return state(rows=0)

    hook.collection_state.side_effect = slow_first_check
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("milvus_provider.sensors.milvus.time.time", lambda: clock[0])
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(context={})
    assert deferred.value.trigger.serialize()[1]["end_at"] == 1060.0
    assert deferred.value.timeout == timedelta(seconds=40)


@pytest.mark.parametrize("flag", ["never_fail", "soft_fail"])
def test_the_triggers_error_event_skips_with_never_fail_or_soft_fail_as_in_poke_mode(flag):
    from airflow.sdk.exceptions import AirflowSkipException

    op, _ = sensor(**{flag: True})
    with pytest.raises(AirflowSkipException):
        op.resume_execution(
            "execute_complete", {"event": {"status": "error", "message": "polls failed for 60s"}}, context={}
        )
    op, _ = sensor()
    with pytest.raises(AirflowException, match="polls failed"):
        op.resume_execution(
            "execute_complete", {"event": {"status": "error", "message": "polls failed for 60s"}}, context={}
        )
