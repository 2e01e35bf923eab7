"""Trigger of the Milvus provider: waits for a collection without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from milvus_provider.hooks.milvus import MilvusHook

#: Seconds a streak of failed polls may last before the trigger gives up (``error_window``).
DEFAULT_ERROR_WINDOW = 60.0
#: First wait after a failed poll; it doubles on every further failure, capped at ``poke_interval``.
FIRST_ERROR_BACKOFF = 1.0


def error_backoff(failures: int, poke_interval: float) -> float:
    """Seconds to wait after ``failures`` failed polls in a row: 1, 2, 4, ... s, capped at
    ``poke_interval`` (so a short outage is retried soon, a long one at the usual pace)."""
    cap = float(poke_interval)
    return min(cap, FIRST_ERROR_BACKOFF * 2 ** max(0, int(failures) - 1))


def counts_rows(min_row_count: int, filter: str = "") -> bool:
    """Whether the sensor's check runs the count query: always with a ``filter`` (whatever
    ``min_row_count`` is), else only when rows are required."""
    return int(min_row_count) > 0 or bool(filter)


def collection_condition_met(state: Mapping[str, Any], min_row_count: int, filter: str = "") -> bool:
    """The sensor's condition on a ``MilvusHook.collection_state`` result: the collection
    (or alias) exists, is loaded, and holds at least ``min_row_count`` (matching) rows.

    With ``min_row_count=0`` and a ``filter``, the filtered count must have been taken (the
    filter was evaluated by Milvus and accepted); any count, 0 included, then meets it."""
    if not state.get("exists") or not state.get("loaded"):
        return False
    if counts_rows(min_row_count, filter) and state.get("row_count") is None:
        return False
    return int(min_row_count) <= 0 or int(state["row_count"]) >= int(min_row_count)


def describe_state(state: Mapping[str, Any] | None, min_row_count: int, filter: str = "") -> str:
    """One log line saying where a collection stands against the condition."""
    if not state:
        return "no answer from Milvus yet"
    name = state.get("collection_name")
    if not state.get("exists"):
        return f"collection '{name}' does not exist yet"
    if not state.get("loaded"):
        return f"collection '{name}' exists but is not loaded"
    if not counts_rows(min_row_count, filter):
        return f"collection '{name}' exists and is loaded"
    matching = f" matching {filter!r}" if filter else ""
    return f"collection '{name}' holds {state.get('row_count')} rows{matching} (waiting for {min_row_count})"


class MilvusCollectionTrigger(BaseTrigger):
    """Poll Milvus with ``AsyncMilvusClient`` until a collection or alias exists, is loaded and
    holds at least ``min_row_count`` rows (matching ``filter``); then fire once.

    Events (``TriggerEvent.payload``):

    - ``{"status": "success", "state": {...}, "message": ...}`` when the condition holds;
    - ``{"status": "timeout", "state": {...}, "message": ...}`` when ``end_at`` (a Unix time)
      passes first;
    - ``{"status": "error", "message": ...}`` when polls kept failing for ``error_window``
      seconds (no successful poll in between), or the connection is unusable.

    Transient errors (a server restarting, a channel not yet reconnected) are retried with an
    exponential backoff (1, 2, 4, ... s, capped at ``poke_interval``); a successful poll ends
    the streak. The backoff never waits past ``end_at`` nor past the end of the window.

    :param collection_name: collection or alias to wait for.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param min_row_count: rows required (0: existing and loaded is enough; with a
        ``filter``, the filtered count must also succeed).
    :param filter: Milvus boolean expression the counted rows must match.
    :param filter_params: values of the filter's ``{name}`` placeholders (bound).
    :param poke_interval: seconds between polls.
    :param end_at: Unix time after which the trigger gives up with a ``timeout`` event.
    :param error_window: seconds a streak of failed polls may last before an ``error`` event
        (default 60); ``None``: never give up on errors, only at ``end_at`` (``silent_fail``).
    :param max_consecutive_errors: replaced by ``error_window``; accepted (and ignored) so
        that a trigger serialized by 0.3.0 still loads.
    """

    def __init__(
        self,
        collection_name: str,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        min_row_count: int = 0,
        filter: str = "",
        poke_interval: float = 30.0,
        end_at: float | None = None,
        error_window: float | None = DEFAULT_ERROR_WINDOW,
        filter_params: dict[str, Any] | None = None,
        max_consecutive_errors: int | None = None,
    ) -> None:
        super().__init__()
        self.collection_name = collection_name
        self.milvus_conn_id = milvus_conn_id
        self.min_row_count = int(min_row_count)
        self.filter = filter or ""
        self.filter_params = dict(filter_params) if filter_params else None
        self.poke_interval = float(poke_interval)
        self.end_at = float(end_at) if end_at is not None else None
        self.error_window = max(0.0, float(error_window)) if error_window is not None else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "collection_name": self.collection_name,
                "milvus_conn_id": self.milvus_conn_id,
                "min_row_count": self.min_row_count,
                "filter": self.filter,
                "poke_interval": self.poke_interval,
                "end_at": self.end_at,
                "error_window": self.error_window,
                "filter_params": self.filter_params,
            },
        )

    def _hook(self) -> MilvusHook:
        return MilvusHook(milvus_conn_id=self.milvus_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        try:
            await hook.aget_config()
        except Exception as exc:
            yield TriggerEvent({"status": "error", "message": f"connection '{self.milvus_conn_id}' unusable: {exc}"})
            return
        failures = 0
        failing_since: float | None = None  # when the current streak of failed polls began
        last_error = ""
        state: dict[str, Any] | None = None
        while True:
            try:
                state = await hook.acollection_state(
                    self.collection_name,
                    filter=self.filter,
                    count_rows=counts_rows(self.min_row_count, self.filter),
                    **({"filter_params": self.filter_params} if self.filter_params else {}),
                )
            except Exception as exc:  # the server restarting, a network blip, a bad filter
                now = time.time()
                failures += 1
                failing_since = now if failing_since is None else failing_since
                last_error = str(exc)
                failing_for = now - failing_since
                window = "no limit" if self.error_window is None else f"{self.error_window:g}s"
                self.log.warning(
                    "Poll failed (%d in a row, for %.1fs; window %s): %s", failures, failing_for, window, exc
                )
                if self.error_window is not None and failing_for >= self.error_window:
                    yield TriggerEvent(
                        {
                            "status": "error",
                            "message": f"polls failed for {failing_for:.1f}s ({failures} in a row, error_window "
                            f"{self.error_window:g}s): {last_error}",
                        }
                    )
                    return
                delay = error_backoff(failures, self.poke_interval)
                if self.error_window is not None:
                    delay = min(delay, failing_since + self.error_window - now)
            else:
                if failures:
                    self.log.info("Milvus answers again after %d failed polls", failures)
                failures, failing_since, last_error = 0, None, ""
                message = describe_state(state, self.min_row_count, self.filter)
                if collection_condition_met(state, self.min_row_count, self.filter):
                    self.log.info("Condition met: %s", message)
                    yield TriggerEvent({"status": "success", "state": state, "message": message})
                    return
                self.log.info("Waiting: %s", message)
                delay = self.poke_interval
            if self.end_at is not None and time.time() >= self.end_at:
                message = describe_state(state, self.min_row_count, self.filter)
                if last_error:
                    message += f" (last poll failed: {last_error})"
                yield TriggerEvent({"status": "timeout", "state": state, "message": f"timed out: {message}"})
                return
            if self.end_at is not None:
                delay = min(delay, self.end_at - time.time())
            await asyncio.sleep(max(0.0, delay))
