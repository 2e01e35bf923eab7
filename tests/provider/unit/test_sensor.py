"""MilvusCollectionSensor: poke's condition, the hand-off to MilvusCollectionTrigger (deferrable
by default) and the resume after its event (a fake hook: no server)."""

from __future__ import annotations

import time
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


def test_deferrable_by_default_hands_off_to_the_trigger_with_the_rendered_arguments():
    op, hook = sensor(state(rows=0))
    assert op.deferrable is True
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context={})
    trigger = deferred.value.trigger
    assert isinstance(trigger, MilvusCollectionTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=60)
    classpath, kwargs = trigger.serialize()
    assert classpath == "milvus_provider.triggers.milvus.MilvusCollectionTrigger"
    assert kwargs["collection_name"] == "docs" and kwargs["min_row_count"] == 2
    assert kwargs["filter"] == 'kind == "feed"' and kwargs["poke_interval"] == 5.0
    assert kwargs["milvus_conn_id"] == "milvus_default"
    assert before + 60 <= kwargs["end_at"] <= time.time() + 60
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
