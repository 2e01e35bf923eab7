"""Sensor of the Milvus provider."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
)

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.triggers.milvus import (
    DEFAULT_ERROR_WINDOW,
    MilvusCollectionTrigger,
    collection_condition_met,
    counts_rows,
    describe_state,
    error_backoff,
)

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

    Errors (a Milvus outage, a channel not yet reconnected, a bad filter) are retried for
    ``error_window`` seconds, with a backoff of 1, 2, 4, ... s capped at ``poke_interval``,
    in the trigger and in ``mode="poke"`` alike; a successful check ends the streak. Past
    the window the error is raised, and Airflow's ``silent_fail`` (keep waiting until the
    timeout), ``never_fail`` (skip) and ``soft_fail`` apply the same in both modes, on the
    first check in the worker as on the trigger's event.

    ``timeout`` counts from the start of the first check of a try: the trigger's deadline
    and the deferral's timeout are what is left of it. Airflow 3.3 starts a new ``timeout``
    on every task *retry* (each try is a new task instance: ``BaseSensorOperator`` restarts
    its clock in ``poke`` mode and loses the reschedule history in ``reschedule`` mode), and
    does not retry an ``AirflowSensorTimeout``; retries come only from errors past the
    window. For a hard bound, keep ``retries=0`` (the default of this sensor's errors is to
    be retried inside ``error_window`` already) or budget ``timeout * (retries + 1)``.

    :param collection_name: collection or alias to wait for (templated).
    :param min_row_count: rows required (templated). 0 (default): the collection exists and
        is loaded; with a ``filter``, also the filtered count query succeeded (Milvus
        accepted the filter), whatever the count.
    :param filter: Milvus boolean expression the counted rows must match (templated);
        evaluated whatever ``min_row_count`` is.
    :param filter_params: values of the filter's ``{name}`` placeholders, bound so that a
        value cannot change the expression (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param deferrable: wait on the triggerer (default) instead of in a worker slot.
    :param poke_interval: seconds between checks (default 30).
    :param timeout: seconds before the sensor fails (or skips with ``soft_fail``), counted
        from the first check of the try.
    :param error_window: seconds a streak of failed checks may last before the error counts
        (default 60; 0: the first error counts). Passed to the trigger.
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
        error_window: timedelta | float = DEFAULT_ERROR_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.error_window = error_window.total_seconds() if isinstance(error_window, timedelta) else float(error_window)
        if self.error_window < 0:
            raise ValueError("error_window must be a non-negative number of seconds")
        self._failures = 0
        self._failing_since: float | None = None
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
        filter = self.filter or ""
        try:
            state = self.hook.collection_state(
                self.collection_name, filter=filter, count_rows=counts_rows(minimum, filter), **bound
            )
        except Exception as exc:
            now = time.monotonic()
            self._failures += 1
            self._failing_since = now if self._failing_since is None else self._failing_since
            failing_for = now - self._failing_since
            if failing_for >= self.error_window:
                raise
            self.log.warning(
                "Check failed (%d in a row, for %.1fs; error_window %gs): %s",
                self._failures,
                failing_for,
                self.error_window,
                exc,
            )
            return PokeReturnValue(is_done=False)
        self._failures, self._failing_since = 0, None
        done = collection_condition_met(state, minimum, filter)
        self.log.info("%s: %s", "Condition met" if done else "Waiting", describe_state(state, minimum, filter))
        return PokeReturnValue(is_done=done, xcom_value=state)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """After a failed check: 1, 2, 4, ... s capped at ``poke_interval`` (and at what is
        left of ``timeout``); otherwise Airflow's own schedule."""
        if self._failures:
            return max(0.0, min(error_backoff(self._failures, self.poke_interval), self.timeout - run_duration()))
        return super()._get_next_poke_interval(started_at, run_duration, poke_count)

    def _first_check(self, context: Context) -> PokeReturnValue:
        """The deferrable mode's check in the worker, with the exception handling of
        ``BaseSensorOperator.execute`` (``soft_fail``, ``never_fail``, ``silent_fail``)."""
        try:
            return self.poke(context)
        except (AirflowSensorTimeout, AirflowTaskTimeout, AirflowFailException) as exc:
            if self.soft_fail:
                raise AirflowSkipException("Skipping due to soft_fail is set to True.") from exc
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            raise
        except AirflowSkipException:
            raise
        except Exception as exc:
            if self.silent_fail:
                self.log.error("Sensor poke failed (silent_fail: waiting on): %s", exc)
                return PokeReturnValue(is_done=False)
            if self.never_fail:
                raise AirflowSkipException("Skipping due to never_fail is set to True.") from exc
            raise

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        end_at = time.time() + self.timeout  # the first check's own time counts
        first = self._first_check(context)
        if first.is_done:
            return first.xcom_value
        self.hook.close()  # the worker lets go of everything while the triggerer waits
        left = max(0.0, end_at - time.time())
        self.log.info(
            "Deferring to MilvusCollectionTrigger (poll every %ss, %.0fs of the timeout left)", self.poke_interval, left
        )
        self.defer(
            trigger=MilvusCollectionTrigger(
                collection_name=self.collection_name,
                milvus_conn_id=self.milvus_conn_id,
                min_row_count=int(self.min_row_count),
                filter=self.filter or "",
                filter_params=self.filter_params or None,
                poke_interval=self.poke_interval,
                end_at=end_at,
                error_window=None if self.silent_fail else self.error_window,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=left),
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
