"""One row per collection and per alias of a connection: what Milvus says joined with what
the metadata database says (asset events of the runs that wrote it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from milvus_provider.ui.contract import Facts, RunEvent
from milvus_provider.ui.metadata import Metadata, RunState
from milvus_provider.ui.milvus_read import CollectionView, ConnectionView


@dataclass
class IndexRow:
    conn_id: str
    name: str
    kind: str  # "collection" or "alias"
    collection: CollectionView | None  # the collection itself, or the one the alias serves
    serving: str | None = None  # alias: the collection it points to
    aliases: list[str] = field(default_factory=list)
    last_event: RunEvent | None = None
    last_run: RunState | None = None
    dag_id: str | None = None
    events: int = 0

    @property
    def facts(self) -> Facts:
        return self.collection.facts if self.collection else Facts()

    @property
    def rows(self) -> int | None:
        return self.collection.rows if self.collection else None

    @property
    def sources(self) -> Any:
        return self.last_event.extra.get("sources") if self.last_event else None

    @property
    def validation(self) -> str | None:
        return self.last_event.validation if self.last_event else None

    @property
    def rollback_copy(self) -> str | None:
        return self.facts.previous

    def as_dict(self) -> dict[str, Any]:
        c = self.collection
        return {
            "conn_id": self.conn_id,
            "name": self.name,
            "kind": self.kind,
            "serving": self.serving,
            "aliases": self.aliases,
            "rows": self.rows,
            "sources": self.sources,
            "dimension": c.dimension if c else None,
            "vector_field": c.vector_field if c else None,
            "hybrid": c.hybrid if c else None,
            "partition_key": c.partition_key if c else None,
            "embedding": self.facts.embedding,
            "rollback_copy": self.rollback_copy,
            "quality": self.facts.quality,
            "dag_id": self.dag_id,
            "last_run": None
            if self.last_run is None
            else {
                "run_id": self.last_run.run_id,
                "state": self.last_run.state,
                "start_date": self.last_run.start_date.isoformat() if self.last_run.start_date else None,
            },
            "last_event": None
            if self.last_event is None
            else {"timestamp": self.last_event.timestamp.isoformat(), "run_id": self.last_event.run_id},
            "validation": self.validation,
            "runs_recorded": self.events,
            "error": c.error if c else None,
        }


def index_rows(view: ConnectionView, meta: Metadata) -> list[IndexRow]:
    rows = [
        IndexRow(view.conn_id, a.name, "alias", view.collection(a.collection), serving=a.collection)
        for a in view.aliases
    ]
    rows += [IndexRow(view.conn_id, c.name, "collection", c, aliases=c.aliases) for c in view.collections]
    for row in rows:
        events = meta.events_for(view.conn_id, row.name)
        row.events = len(events)
        row.last_event = events[0] if events else None
        row.dag_id = (row.last_event.dag_id if row.last_event else None) or row.facts.dag_id
        row.last_run = meta.last_runs.get(row.dag_id) if row.dag_id else None
    return rows
