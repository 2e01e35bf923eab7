"""One read pass over the Milvus connections the view shows: every Milvus call goes through
``MilvusHook``, each with a timeout, and the whole pass has a deadline; nothing is written."""

from __future__ import annotations

import concurrent.futures as cf
import logging
from dataclasses import dataclass, field
from typing import Any

from milvus_provider.ui.contract import Facts, visible

log = logging.getLogger(__name__)

VECTOR_TYPES = {"FLOAT_VECTOR", "FLOAT16_VECTOR", "BFLOAT16_VECTOR", "BINARY_VECTOR", "INT8_VECTOR"}
SPARSE_TYPES = {"SPARSE_FLOAT_VECTOR"}


@dataclass
class CollectionView:
    """One collection as the view shows it (typed; ``as_dict`` at the JSON boundary)."""

    name: str
    aliases: list[str] = field(default_factory=list)
    rows: int | None = None
    loaded: bool = False
    vector_field: str | None = None
    dimension: int | None = None
    metric: str | None = None
    sparse_fields: list[str] = field(default_factory=list)
    bm25: dict[str, str] = field(default_factory=dict)
    partition_key: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    error: str | None = None

    @property
    def hybrid(self) -> bool:
        return bool(self.bm25) or bool(self.sparse_fields and self.vector_field)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": self.aliases,
            "rows": self.rows,
            "loaded": self.loaded,
            "vector_field": self.vector_field,
            "dimension": self.dimension,
            "metric": self.metric,
            "hybrid": self.hybrid,
            "bm25": self.bm25,
            "partition_key": self.partition_key,
            "properties": self.properties,
            "embedding": self.facts.embedding,
            "rollback_copy": self.facts.previous,
            "build_of": self.facts.build_of,
            "quality": self.facts.quality,
            "error": self.error,
        }


@dataclass
class AliasView:
    name: str
    collection: str


@dataclass
class ConnectionView:
    conn_id: str
    uri: str | None = None
    database: str | None = None
    server_version: str | None = None
    collections: list[CollectionView] = field(default_factory=list)
    aliases: list[AliasView] = field(default_factory=list)
    error: str | None = None

    def collection(self, name: str) -> CollectionView | None:
        return next((c for c in self.collections if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "conn_id": self.conn_id,
            "uri": self.uri,
            "database": self.database,
            "server_version": self.server_version,
            "error": self.error,
            "collections": [c.as_dict() for c in self.collections],
            "aliases": [{"name": a.name, "collection": a.collection} for a in self.aliases],
        }


def _type_name(value: Any) -> str:
    return str(getattr(value, "name", value)).upper()


def describe(view: CollectionView, info: dict[str, Any]) -> None:
    """Schema facts of a ``describe_collection`` answer."""
    from milvus_provider.hooks.milvus import layout_of

    for fld in info.get("fields") or []:
        kind = _type_name(fld.get("type"))
        if kind in VECTOR_TYPES and view.vector_field is None:
            view.vector_field = fld.get("name")
            dim = (fld.get("params") or {}).get("dim")
            view.dimension = int(dim) if dim is not None else None
        elif kind in SPARSE_TYPES:
            view.sparse_fields.append(fld.get("name"))
    layout = layout_of(info)
    view.bm25 = dict(layout["bm25"])
    view.partition_key = layout["partition_key_field"]
    properties = {str(k): str(v) for k, v in dict(info.get("properties") or {}).items()}
    view.properties = visible(properties)
    view.facts = Facts.of(properties)


def _message(exc: BaseException, hook=None) -> str:
    """One line that says what failed, never a secret nor a stack trace."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    config = getattr(hook, "__dict__", {}).get("config") if hook is not None else None
    if config is not None:
        text = config.redact(text)
    return text[:500]


def read_connection(conn_id: str, timeout: float, names: set[str] | None = None) -> ConnectionView:
    """Collections, aliases, Strong row counts, schema facts and properties on one connection
    (only ``names`` when given). Failures become ``error`` texts, never exceptions."""
    from milvus_provider.hooks.milvus import MilvusHook

    view = ConnectionView(conn_id=conn_id)
    hook = MilvusHook(conn_id, timeout=timeout)
    try:
        try:
            config = hook.config
            view.uri, view.database = config.uri, config.db_name
            view.server_version = hook.health_check()["server_version"]
            listed = sorted(hook.list_collections())
        except Exception as exc:
            view.error = f"Cannot read Milvus connection '{conn_id}': {_message(exc, hook)}"
            return view
        for name in listed:
            if names is not None and name not in names:
                continue
            coll = CollectionView(name=name)
            view.collections.append(coll)
            try:
                describe(coll, hook.describe_collection(name))
                coll.aliases = sorted(hook.list_aliases(name))
                state = hook.collection_state(name)
                coll.loaded, coll.rows = bool(state["loaded"]), state["row_count"]
            except Exception as exc:
                coll.error = _message(exc, hook)
            view.aliases.extend(AliasView(a, name) for a in coll.aliases)
        if names is not None:  # an alias asked for by name: its collection too
            for alias in sorted(names - set(listed)):
                target = hook.describe_alias(alias)
                if target and view.collection(target) is None:
                    nested = read_connection_into(hook, target)
                    view.collections.append(nested)
                    view.aliases.extend(AliasView(a, target) for a in nested.aliases)
        view.aliases.sort(key=lambda a: a.name)
        return view
    except Exception as exc:
        view.error = f"Cannot read Milvus connection '{conn_id}': {_message(exc, hook)}"
        return view
    finally:
        try:
            hook.close()
        except Exception:  # closing a client of a server that is gone
            log.debug("closing the Milvus client of %s failed", conn_id, exc_info=True)


def read_connection_into(hook, name: str) -> CollectionView:
    coll = CollectionView(name=name)
    try:
        describe(coll, hook.describe_collection(name))
        coll.aliases = sorted(hook.list_aliases(name))
        state = hook.collection_state(name)
        coll.loaded, coll.rows = bool(state["loaded"]), state["row_count"]
    except Exception as exc:
        coll.error = _message(exc, hook)
    return coll


_POOL = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="milvus-view")


def read_all(conn_ids: list[str], *, timeout: float, deadline: float, names: set[str] | None = None):
    """``read_connection`` on every connection at once; a connection that has not answered
    within ``deadline`` seconds is reported as such (its thread ends on its own timeout)."""
    futures = {conn_id: _POOL.submit(read_connection, conn_id, timeout, names) for conn_id in conn_ids}
    done, _ = cf.wait(futures.values(), timeout=deadline)
    views = []
    for conn_id, future in futures.items():
        if future in done:
            views.append(future.result())
        else:
            views.append(
                ConnectionView(
                    conn_id=conn_id,
                    error=f"Milvus connection '{conn_id}' did not answer within {deadline:.0f} s "
                    f"(is the server up?); nothing more was read from it",
                )
            )
    return views
