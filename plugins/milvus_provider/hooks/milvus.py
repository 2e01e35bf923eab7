"""MilvusHook: one place that turns an Airflow connection into Milvus clients and stores."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from milvus_provider.config import CollectionSpec, MilvusConnectionConfig

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_milvus import Milvus
    from pymilvus import AsyncMilvusClient, MilvusClient


class MilvusHookError(RuntimeError):
    """A Milvus operation failed; the message says what and where (never a secret)."""


class DimensionMismatchError(MilvusHookError):
    """An existing collection stores vectors of another dimension than the embedding's."""


class SchemaMismatchError(MilvusHookError):
    """An existing collection does not have the layout this toolkit writes."""


class MilvusHook(BaseHook):
    """Interact with Milvus (standalone, distributed, Milvus Lite or Zilliz Cloud).

    :param milvus_conn_id: Airflow connection of type ``milvus`` (default ``milvus_default``).
        Configure it in the UI (Admin > Connections, type "Milvus") or with
        ``AIRFLOW_CONN_MILVUS_DEFAULT`` in URI form
        (``milvus://user:password@host:19530/db?secure=false``) or JSON form.
    :param timeout: overrides the connection's request timeout, in seconds.
    """

    conn_name_attr = "milvus_conn_id"
    default_conn_name = "milvus_default"
    conn_type = "milvus"
    hook_name = "Milvus"

    def __init__(
        self, milvus_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.milvus_conn_id = milvus_conn_id
        self._timeout_override = timeout
        self._client: MilvusClient | None = None

    def __repr__(self) -> str:
        return f"MilvusHook(milvus_conn_id={self.milvus_conn_id!r})"

    # ---- connection --------------------------------------------------------------------

    @cached_property
    def config(self) -> MilvusConnectionConfig:
        conn = self.get_connection(self.milvus_conn_id)
        config = MilvusConnectionConfig.from_connection(conn, timeout=self._timeout_override)
        _mask(config.secrets())
        return config

    def get_conn(self) -> MilvusClient:
        """The sync ``MilvusClient`` (one per hook, reused)."""
        if self._client is None:
            from pymilvus import MilvusClient

            self._client = self._guard(lambda: MilvusClient(**self.config.client_kwargs()), "connect")
        return self._client

    get_client = get_conn

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncMilvusClient]:
        """An ``AsyncMilvusClient`` bound to the running event loop, closed on exit.

        A new client per context: an async gRPC channel belongs to one event loop, so a
        client must never outlive the loop it was made in (two ``asyncio.run`` calls with
        one client fail with "Event loop is closed").
        """
        from pymilvus import AsyncMilvusClient

        asyncio.get_running_loop()  # fail early and clearly outside a coroutine
        client = AsyncMilvusClient(**self.config.client_kwargs())
        try:
            yield client
        finally:
            await client.close()

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button and ``POST /api/v2/connections/test``. Never hangs:
        a closed port answers at once, a silent host after ``min(timeout, 5)`` seconds."""
        try:
            config = self.config
        except Exception as exc:  # bad connection definition
            return False, f"Invalid Milvus connection '{self.milvus_conn_id}': {_clean(exc)}"
        probe_timeout = min(config.timeout, 5.0)
        address = config.host_port
        if address is not None:
            try:
                with socket.create_connection(address, timeout=probe_timeout):
                    pass
            except OSError as exc:
                return False, (
                    f"Cannot reach Milvus at {config.uri}: {exc.strerror or exc} "
                    f"(is the server running and the port right?)"
                )
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        try:
            with _quiet_pymilvus():
                client = MilvusClient(**config.client_kwargs(timeout=max(probe_timeout, 5.0)))
        except MilvusException as exc:
            if address is not None:
                return False, (
                    f"Reached {config.uri} but the Milvus handshake failed: wrong user, "
                    f"password or token, a TLS setting that does not match the server, or "
                    f"not a Milvus server ({_clean(exc)})"
                )
            return False, f"Cannot open Milvus at {config.uri}: {_clean(exc)}"
        try:
            with _quiet_pymilvus():
                version = client.get_server_version()
                client.list_collections()  # fails when the database does not exist
        except MilvusException as exc:
            if "database not found" in str(exc):
                return False, f"Database '{config.db_name}' does not exist on {config.uri}"
            return False, f"Connected to {config.uri} but a request failed: {_clean(exc)}"
        finally:
            client.close()
        return True, f"Connected to Milvus {version} at {config.uri}, database '{config.db_name}'"

    def health_check(self) -> dict[str, Any]:
        """Server version and round-trip time; raises ``MilvusHookError`` when unhealthy."""
        started = time.perf_counter()
        version = self._guard(lambda: self.get_conn().get_server_version(), "health check")
        return {
            "uri": self.config.uri,
            "database": self.config.db_name,
            "server_version": version,
            "round_trip_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    # ---- collections ---------------------------------------------------------------------

    def has_collection(self, name: str) -> bool:
        return self._guard(lambda: self.get_conn().has_collection(name), f"check collection '{name}'")

    def list_collections(self) -> list[str]:
        return self._guard(lambda: self.get_conn().list_collections(), "list collections")

    def ensure_collection(self, spec: CollectionSpec) -> bool:
        """Create the collection with the explicit schema and index unless it exists, and
        load it. An existing one is checked (dimension, primary key, fields), never
        altered or dropped. Returns ``True`` when it was created now."""
        client = self.get_conn()
        if self.has_collection(spec.name):
            self.check_collection(spec)
            self._guard(lambda: client.load_collection(spec.name), f"load collection '{spec.name}'")
            return False
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=True, description=spec.description)
        schema.add_field(spec.primary_field, DataType.VARCHAR, is_primary=True, max_length=spec.max_id_length)
        schema.add_field(spec.text_field, DataType.VARCHAR, max_length=spec.max_text_length)
        schema.add_field(spec.source_field, DataType.VARCHAR, max_length=spec.max_source_length)
        schema.add_field(spec.vector_field, DataType.FLOAT_VECTOR, dim=spec.dim)
        index_params = client.prepare_index_params()
        index_params.add_index(
            field_name=spec.vector_field,
            index_type=spec.index_type,
            metric_type=spec.metric_type,
            params=spec.index_params,
        )

        def create() -> None:
            client.create_collection(
                spec.name,
                schema=schema,
                index_params=index_params,
                consistency_level=spec.consistency_level,
            )
            client.load_collection(spec.name)

        self._guard(create, f"create collection '{spec.name}'")
        self.log.info("Created collection '%s' (%d-dim %s/%s)", spec.name, spec.dim, spec.index_type, spec.metric_type)
        return True

    def describe_collection(self, name: str) -> dict[str, Any]:
        return self._guard(lambda: self.get_conn().describe_collection(name), f"describe collection '{name}'")

    def collection_dim(self, name: str, vector_field: str = "vector") -> int | None:
        """The dimension of ``vector_field`` in an existing collection (or ``None``)."""
        for fld in self.describe_collection(name).get("fields", []):
            if fld.get("name") == vector_field:
                dim = (fld.get("params") or {}).get("dim")
                return int(dim) if dim is not None else None
        return None

    def check_collection(self, spec: CollectionSpec) -> None:
        """Raise a clear error when an existing collection cannot hold ``spec``'s rows."""
        info = self.describe_collection(spec.name)
        fields = {f["name"]: f for f in info.get("fields", [])}
        where = f"collection '{spec.name}' on {self.config.uri}"
        vector = fields.get(spec.vector_field)
        if vector is None:
            raise SchemaMismatchError(f"{where} has no vector field '{spec.vector_field}'")
        dim = int((vector.get("params") or {}).get("dim", -1))
        if dim != spec.dim:
            raise DimensionMismatchError(
                f"{where} stores {dim}-dim vectors but the embedding produces {spec.dim}-dim "
                f"vectors. Nothing was changed. Use another collection name, or drop and "
                f"rebuild this one on purpose (e.g. a full reindex into a new collection)."
            )
        missing = [
            name
            for name in (spec.primary_field, spec.text_field, spec.source_field)
            if name not in fields
        ]
        if missing:
            raise SchemaMismatchError(f"{where} lacks the field(s) {missing}; it was not created by this toolkit")
        primary = fields[spec.primary_field]
        if not primary.get("is_primary") or _type_name(primary.get("type")) != "VARCHAR" or info.get("auto_id"):
            raise SchemaMismatchError(
                f"{where}: '{spec.primary_field}' must be a VARCHAR primary key with auto_id off"
            )

    def drop_collection(self, name: str) -> None:
        self._guard(lambda: self.get_conn().drop_collection(name), f"drop collection '{name}'")

    def rename_collection(self, old_name: str, new_name: str) -> None:
        self._guard(lambda: self.get_conn().rename_collection(old_name, new_name), f"rename collection '{old_name}' to '{new_name}'")

    def collection_properties(self, name: str) -> dict[str, str]:
        """The collection's properties (key/value strings kept by the server, renames included)."""
        return dict(self.describe_collection(name).get("properties") or {})

    def set_collection_properties(self, name: str, properties: dict[str, str]) -> None:
        """Add or overwrite properties of an existing collection (other keys are kept)."""
        props = {key: str(value) for key, value in properties.items()}
        self._guard(lambda: self.get_conn().alter_collection_properties(name, properties=props), f"set properties of '{name}'")

    def get_rows(self, name: str, ids: list[str], output_fields: list[str], *, batch_size: int = 1000) -> list[dict[str, Any]]:
        """The rows with these primary keys (Strong consistency); missing ids are simply absent."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), batch_size):
            part = ids[start : start + batch_size]
            rows.extend(self._read(
                name,
                lambda part=part: self.get_conn().query(
                    name, ids=part, output_fields=output_fields, consistency_level="Strong"
                ),
                f"read {len(part)} rows of '{name}'",
            ))
        return rows

    def upsert(self, name: str, rows: list[dict[str, Any]]) -> int:
        """Insert or replace rows by primary key; returns how many were written."""
        result = self._guard(lambda: self.get_conn().upsert(name, data=rows), f"upsert {len(rows)} rows into '{name}'")
        return int(result.get("upsert_count", len(rows))) if isinstance(result, dict) else len(rows)

    def delete(self, name: str, ids: list[str], *, batch_size: int = 1000) -> int:
        """Delete rows by primary key (never by filter: only what the caller named)."""
        deleted = 0
        for start in range(0, len(ids), batch_size):
            part = ids[start : start + batch_size]
            self._guard(lambda part=part: self.get_conn().delete(name, ids=part), f"delete {len(part)} rows from '{name}'")
            deleted += len(part)
        return deleted

    # ---- counting --------------------------------------------------------------------------

    def count(self, name: str, filter: str = "") -> int:
        """Exact row count with Strong consistency (sees every write acknowledged before)."""
        rows = self._read(
            name,
            lambda: self.get_conn().query(
                name, filter=filter, output_fields=["count(*)"], consistency_level="Strong"
            ),
            f"count rows in '{name}'",
        )
        return int(rows[0]["count(*)"])

    def count_by_source(self, name: str, source_field: str = "source", batch_size: int = 5000) -> dict[str, int]:
        """Exact row count per source (Strong consistency), over the whole collection."""
        counts: Counter[str] = Counter()
        for batch in self.iter_rows(name, [source_field], batch_size=batch_size):
            counts.update(row[source_field] for row in batch)
        return dict(counts)

    def iter_rows(
        self, name: str, output_fields: list[str], *, filter: str = "", batch_size: int = 5000
    ) -> Iterable[list[dict[str, Any]]]:
        """Every row of a collection, in batches (Strong consistency)."""
        client = self.get_conn()
        iterator = self._read(
            name,
            lambda: client.query_iterator(
                name,
                batch_size=batch_size,
                filter=filter,
                output_fields=output_fields,
                consistency_level="Strong",
            ),
            f"read rows of '{name}'",
        )
        try:
            while True:
                batch = self._guard(iterator.next, f"read rows of '{name}'")
                if not batch:
                    break
                yield batch
        finally:
            iterator.close()

    # ---- aliases -----------------------------------------------------------------------------

    def describe_alias(self, alias: str) -> str | None:
        """The collection an alias points to, or ``None`` if the alias does not exist."""
        from pymilvus.exceptions import MilvusException

        try:
            with _quiet_pymilvus():
                info = self.get_conn().describe_alias(alias)
        except MilvusException as exc:
            if "not exist" in str(exc) or "not found" in str(exc):
                return None
            raise MilvusHookError(f"describe alias '{alias}' on {self.config.uri}: {_clean(exc)}") from None
        return info.get("collection_name")

    def list_aliases(self, collection: str) -> list[str]:
        return list(
            self._guard(lambda: self.get_conn().list_aliases(collection), f"list aliases of '{collection}'").get(
                "aliases", []
            )
        )

    def create_alias(self, alias: str, collection: str) -> None:
        self._guard(lambda: self.get_conn().create_alias(collection, alias), f"create alias '{alias}'")

    def alter_alias(self, alias: str, collection: str) -> None:
        self._guard(lambda: self.get_conn().alter_alias(collection, alias), f"alter alias '{alias}'")

    def point_alias(self, alias: str, collection: str) -> str | None:
        """Create ``alias`` or move it to ``collection`` (atomic on the server). Returns the
        collection it pointed to before, if any."""
        previous = self.describe_alias(alias)
        if previous is None:
            self.create_alias(alias, collection)
        elif previous != collection:
            self.alter_alias(alias, collection)
        return previous

    def drop_alias(self, alias: str) -> None:
        self._guard(lambda: self.get_conn().drop_alias(alias), f"drop alias '{alias}'")

    # ---- langchain-milvus vector stores ------------------------------------------------------------

    def _vector_store_kwargs(self, spec: CollectionSpec, embedding: Embeddings) -> dict[str, Any]:
        return {
            "embedding_function": embedding,
            "collection_name": spec.name,
            "connection_args": self.config.client_kwargs(),
            "consistency_level": spec.consistency_level,
            "index_params": {
                "index_type": spec.index_type,
                "metric_type": spec.metric_type,
                "params": spec.index_params,
            },
            "search_params": {"metric_type": spec.metric_type, "params": spec.search_params},
            "auto_id": False,  # ids are ours (deterministic); never let Milvus pick them
            "drop_old": False,
            "primary_field": spec.primary_field,
            "text_field": spec.text_field,
            "vector_field": spec.vector_field,
            "enable_dynamic_field": True,
            "timeout": self.config.timeout,
        }

    def get_vector_store(self, spec: CollectionSpec, embedding: Embeddings) -> Milvus:
        """A langchain-milvus ``Milvus`` store for sync use, on a collection that exists with
        the explicit schema (created here if missing; checked if present).

        For async use, prefer :meth:`avector_store`, which binds the store's async client to
        the running loop and closes it.
        """
        from langchain_milvus import Milvus

        self.ensure_collection(spec)
        return self._guard(lambda: Milvus(**self._vector_store_kwargs(spec, embedding)), f"open store '{spec.name}'")

    @asynccontextmanager
    async def avector_store(self, spec: CollectionSpec, embedding: Embeddings) -> AsyncIterator[Milvus]:
        """A ``Milvus`` store made inside the running event loop, its clients closed on exit.

        langchain-milvus caches its ``AsyncMilvusClient`` on the store and binds it to the
        loop it was made in, so a store must live and die within one loop.
        """
        from langchain_milvus import Milvus

        await asyncio.to_thread(self.ensure_collection, spec)
        store = Milvus(**self._vector_store_kwargs(spec, embedding))
        try:
            yield store
        finally:
            if store._async_milvus_client is not None:  # langchain-milvus has no public close()
                await store._async_milvus_client.close()
            store.client.close()

    # ---- helpers ------------------------------------------------------------------------------------

    def _read(self, name: str, call, action: str):
        """A read (query, count, iterator) that heals "collection not loaded" once.

        After a server restart Milvus reloads the collections that were loaded, but in the
        background: a read in that window is refused although the data is all there. Loading
        explicitly waits for that reload (and is a no-op on a loaded collection)."""
        try:
            return self._guard(call, action)
        except MilvusHookError as exc:
            if not is_not_loaded(exc):
                raise
            self.log.warning("Collection '%s' is not loaded (the server restarted?); loading it, then retrying", name)
            self._guard(lambda: self.get_conn().load_collection(name), f"load collection '{name}'")
            return self._guard(call, action)

    def _guard(self, call, action: str):
        """Run a pymilvus call; re-raise failures as ``MilvusHookError`` naming the action and
        the server (pymilvus's own message is kept; it never contains the token)."""
        from pymilvus.exceptions import MilvusException

        try:
            return call()
        except MilvusException as exc:
            raise MilvusHookError(f"{action} on {self.config.uri} failed: {_clean(exc)}") from exc


def is_not_loaded(exc: BaseException) -> bool:
    """Milvus refused a read because the collection is not loaded (code 101 in 2.3-2.6)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # pymilvus raises `e from e`: a cycle
        seen.add(id(exc))
        if "not loaded" in str(exc).lower():
            return True
        exc = exc.__cause__
    return False


def _clean(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())


def _type_name(value: Any) -> str:
    return getattr(value, "name", str(value)).upper()


@contextmanager
def _quiet_pymilvus() -> Iterator[None]:
    """pymilvus logs every failed RPC with a traceback at ERROR level; for calls whose
    failure is an expected answer (no such alias, wrong password) that is only noise."""
    logger = logging.getLogger("pymilvus.decorators")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _mask(values: list[str]) -> None:
    """Register secrets with Airflow's log masker (no-op outside Airflow's runtime)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow always has it
        return
    for value in values:
        mask_secret(value)
