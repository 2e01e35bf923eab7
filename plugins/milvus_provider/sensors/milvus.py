"""Sensor of the Milvus provider."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.triggers.milvus import MilvusCollectionTrigger, collection_condition_met, describe_state

if TYPE_CHECKING:
    from airflow.sdk import Context


class MilvusCollectionSensor(BaseSensorOperator):
    """Wait until a collection (or alias) exists, is loaded and holds at least
    ``min_row_count`` rows, optionally only rows matching ``filter``.

    Deferrable by default: after one check in the worker it hands the waiting to
    :class:`~milvus_provider.triggers.milvus.MilvusCollectionTrigger` on the triggerer, which
    polls with ``AsyncMilvusClient``; no worker slot is held while waiting. With
    ``deferrable=False`` it pokes like any sensor (``mode="poke"`` or ``"reschedule"``).

    Returns (XCom) the collection's state when the condition held:
    ``{"collection_name", "exists", "loaded", "row_count"}``.

    :param collection_name: collection or alias to wait for (templated).
    :param min_row_count: rows required; 0 (default) waits only for existing and loaded (templated).
    :param filter: Milvus boolean expression the counted rows must match (templated).
    :param filter_params: values of the filter's ``{name}`` placeholders, bound so that a
        value cannot change the expression (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param deferrable: wait on the triggerer (default) instead of in a worker slot.
    :param poke_interval: seconds between checks (default 30).
    :param timeout: seconds before the sensor fails (or skips with ``soft_fail``).
    """

    template_fields: Sequence[str] = ("collection_name", "min_row_count", "filter", "filter_params")
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        collection_name: str,
        min_row_count: int | str = 0,
        filter: str = "",
        filter_params: dict[str, Any] | None = None,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        deferrable: bool = True,
        poke_interval: timedelta | float = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.collection_name = collection_name
        self.min_row_count = min_row_count
        self.filter = filter
        self.filter_params = filter_params
        self.milvus_conn_id = milvus_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> MilvusHook:
        return MilvusHook(milvus_conn_id=self.milvus_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        minimum = int(self.min_row_count)
        bound = {"filter_params": self.filter_params} if self.filter_params else {}
        state = self.hook.collection_state(self.collection_name, filter=self.filter or "", count_rows=minimum > 0, **bound)
        done = collection_condition_met(state, minimum)
        self.log.info("%s: %s", "Condition met" if done else "Waiting", describe_state(state, minimum, self.filter))
        return PokeReturnValue(is_done=done, xcom_value=state)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        self.hook.close()  # the worker lets go of everything while the triggerer waits
        self.log.info("Deferring to MilvusCollectionTrigger (poll every %ss, timeout %ss)", self.poke_interval, self.timeout)
        self.defer(
            trigger=MilvusCollectionTrigger(
                collection_name=self.collection_name,
                milvus_conn_id=self.milvus_conn_id,
                min_row_count=int(self.min_row_count),
                filter=self.filter or "",
                filter_params=self.filter_params or None,
                poke_interval=self.poke_interval,
                end_at=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: its state on success, else the sensor fails
        (``AirflowSensorTimeout`` on timeout; ``soft_fail`` turns both into a skip)."""
        event = event or {}
        status = event.get("status")
        if status == "success":
            self.log.info("Resumed from the trigger: %s", event.get("message"))
            return event.get("state")
        if status == "timeout":
            raise AirflowSensorTimeout(f"Milvus collection sensor {event.get('message')}")
        raise AirflowException(f"Milvus collection sensor failed: {event.get('message') or event!r}")
