"""Trigger of the Milvus provider: waits for a collection without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from milvus_provider.hooks.milvus import MilvusHook


def collection_condition_met(state: Mapping[str, Any], min_row_count: int) -> bool:
    """The sensor's condition on a ``MilvusHook.collection_state`` result: the collection
    (or alias) exists, is loaded, and holds at least ``min_row_count`` (matching) rows."""
    if not state.get("exists") or not state.get("loaded"):
        return False
    if int(min_row_count) <= 0:
        return True
    return state.get("row_count") is not None and int(state["row_count"]) >= int(min_row_count)


def describe_state(state: Mapping[str, Any] | None, min_row_count: int, filter: str = "") -> str:
    """One log line saying where a collection stands against the condition."""
    if not state:
        return "no answer from Milvus yet"
    name = state.get("collection_name")
    if not state.get("exists"):
        return f"collection '{name}' does not exist yet"
    if not state.get("loaded"):
        return f"collection '{name}' exists but is not loaded"
    if int(min_row_count) <= 0:
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
    - ``{"status": "error", "message": ...}`` when ``max_consecutive_errors`` polls in a row
      failed (a server briefly restarting is tolerated), or the connection is unusable.

    :param collection_name: collection or alias to wait for.
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    :param min_row_count: rows required (0: existing and loaded is enough).
    :param filter: Milvus boolean expression the counted rows must match.
    :param filter_params: values of the filter's ``{name}`` placeholders (bound).
    :param poke_interval: seconds between polls.
    :param end_at: Unix time after which the trigger gives up with a ``timeout`` event.
    :param max_consecutive_errors: failed polls in a row before an ``error`` event.
    """

    def __init__(
        self,
        collection_name: str,
        milvus_conn_id: str = MilvusHook.default_conn_name,
        min_row_count: int = 0,
        filter: str = "",
        poke_interval: float = 30.0,
        end_at: float | None = None,
        max_consecutive_errors: int = 3,
        filter_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.collection_name = collection_name
        self.milvus_conn_id = milvus_conn_id
        self.min_row_count = int(min_row_count)
        self.filter = filter or ""
        self.filter_params = dict(filter_params) if filter_params else None
        self.poke_interval = float(poke_interval)
        self.end_at = float(end_at) if end_at is not None else None
        self.max_consecutive_errors = max(1, int(max_consecutive_errors))

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
                "max_consecutive_errors": self.max_consecutive_errors,
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
        state: dict[str, Any] | None = None
        while True:
            try:
                state = await hook.acollection_state(
                    self.collection_name, filter=self.filter, count_rows=self.min_row_count > 0,
                    **({"filter_params": self.filter_params} if self.filter_params else {}),
                )
                failures = 0
            except Exception as exc:  # the server restarting, a network blip, a bad filter
                failures += 1
                self.log.warning("Poll %d/%d failed: %s", failures, self.max_consecutive_errors, exc)
                if failures >= self.max_consecutive_errors:
                    yield TriggerEvent({"status": "error", "message": str(exc)})
                    return
            else:
                message = describe_state(state, self.min_row_count, self.filter)
                if collection_condition_met(state, self.min_row_count):
                    self.log.info("Condition met: %s", message)
                    yield TriggerEvent({"status": "success", "state": state, "message": message})
                    return
                self.log.info("Waiting: %s", message)
            if self.end_at is not None and time.time() >= self.end_at:
                message = describe_state(state, self.min_row_count, self.filter)
                yield TriggerEvent({"status": "timeout", "state": state, "message": f"timed out: {message}"})
                return
            delay = self.poke_interval
            if self.end_at is not None:
                delay = max(0.0, min(delay, self.end_at - time.time()))
            await asyncio.sleep(delay)
