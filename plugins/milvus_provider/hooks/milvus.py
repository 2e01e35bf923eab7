"""MilvusHook: one place that turns an Airflow connection into Milvus clients and stores.

The generic data methods mirror pymilvus ``MilvusClient`` (``collection_name``, ``data``,
``filter``, ``limit``, ``output_fields``), each with an async twin (``a``-prefixed) that runs
on pymilvus's ``AsyncMilvusClient``. Results are plain JSON-safe Python values, so any task
can return them to XCom.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from milvus_provider.config import MilvusConnectionConfig
from milvus_provider.hooks.capabilities import ServerCapabilities, UnsupportedFeatureError

if TYPE_CHECKING:
    from pymilvus import AsyncMilvusClient, MilvusClient

# Milvus refuses a query whose limit (plus offset) is over 16,384 (``maxQueryResultWindow``).
MAX_QUERY_WINDOW = 16_384


class MilvusHookError(RuntimeError):
    """A Milvus operation failed; the message says what and where (never a secret)."""


class DimensionMismatchError(MilvusHookError):
    """An existing collection stores vectors of another dimension than the embedding's."""


class SchemaMismatchError(MilvusHookError):
    """An existing collection does not have the layout this toolkit writes."""


class RowValidationError(MilvusHookError, ValueError):
    """A row does not fit the collection's schema, or repeats a primary key of the same call.
    Raised before the first request: nothing was written. The message names the batch, the
    row's index and the field, never a value of the row (only a repeated primary key)."""


class PartialWriteError(MilvusHookError):
    """A write request failed; the remaining batches were not sent.

    ``written_ids``: the primary keys of the rows already written (the server's for
    ``auto_id``); ``written``: their count; ``failed_batch``: the failed batch's number (from 0);
    ``uncertain_ids``: rows of async batches cancelled in flight, which may have landed."""

    def __init__(
        self, message: str, *, written_ids: list[Any], uncertain_ids: list[Any], failed_batch: int, written: int
    ) -> None:
        super().__init__(message)
        self.written_ids = list(written_ids)
        self.uncertain_ids = list(uncertain_ids)
        self.failed_batch = failed_batch
        self.written = written


__all__ = [
    "MilvusHook",
    "MilvusHookError",
    "DimensionMismatchError",
    "SchemaMismatchError",
    "ServerCapabilities",
    "UnsupportedFeatureError",
    "RowValidationError",
    "PartialWriteError",
    "WriteSchema",
]


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

    def __init__(self, milvus_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.milvus_conn_id = milvus_conn_id
        self._timeout_override = timeout
        self._client: MilvusClient | None = None
        self._capabilities: ServerCapabilities | None = None

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

            self._client = self._guard(lambda: _constructed(MilvusClient, self.config.client_kwargs()), "connect")
        return self._client

    async def aget_config(self) -> MilvusConnectionConfig:
        """:attr:`config`, resolved without blocking the event loop (triggers, async tasks).

        Reads the connection with ``aget_connection`` and registers its secrets with
        ``amask_secret``; the result is cached on the hook like :attr:`config`.
        """
        if "config" in self.__dict__:
            return self.__dict__["config"]
        aget_connection = getattr(self, "aget_connection", None)
        if aget_connection is not None:
            conn = await aget_connection(self.milvus_conn_id)
        else:  # pragma: no cover - Airflow < 3.1 has no async connection lookup
            conn = await asyncio.to_thread(self.get_connection, self.milvus_conn_id)
        aextra = getattr(conn, "aextra_dejson", None)
        extra = await aextra() if aextra is not None else await asyncio.to_thread(lambda: conn.extra_dejson)
        config = MilvusConnectionConfig.from_connection(conn, timeout=self._timeout_override, extra=extra)
        await _amask(config.secrets())
        self.__dict__["config"] = config
        return config

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
        config = await self.aget_config()
        client = await self._aguard(lambda: _aconstructed(AsyncMilvusClient, config.client_kwargs()), "connect")
        try:
            yield client
        finally:
            await client.close()

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button and ``POST /api/v2/connections/test``. Never hangs:
        a closed port answers at once, a silent host after ``min(timeout, 5)`` seconds.
        The message never carries a secret of the connection."""
        ok, message = self._test_connection()
        config = self.__dict__.get("config")
        return ok, config.redact(message) if config is not None else message

    def _test_connection(self) -> tuple[bool, str]:
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
            if re.search(r"database .*(not found|does not exist)", str(exc)):  # 2.x / Milvus Lite wording
                return False, f"Database '{config.db_name}' does not exist on {config.uri}"
            return False, f"Connected to {config.uri} but a request failed: {_clean(exc)}"
        finally:
            client.close()
        capabilities = ServerCapabilities.from_version(version)
        return True, (
            f"Connected to Milvus {version} at {config.uri}, database '{config.db_name}' ({capabilities.describe()})"
        )

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

    def capabilities(self) -> ServerCapabilities:
        """What the server supports (BM25, hybrid search, partition keys, aliases,
        authentication), read from the version it reports; asked once per hook."""
        if self._capabilities is None:
            version = self._guard(lambda: self.get_conn().get_server_version(), "read the server version")
            self._capabilities = ServerCapabilities.from_version(version)
        return self._capabilities

    def require(self, *features: str, action: str = "") -> ServerCapabilities:
        """Fail with :class:`UnsupportedFeatureError` (naming the server version and the
        feature) unless the server supports every feature; call it before writing anything."""
        capabilities = self.capabilities()
        capabilities.require(features, where=self.config.uri, action=action)
        return capabilities

    # ---- collections ---------------------------------------------------------------------

    def has_collection(self, name: str) -> bool:
        return self._guard(lambda: self.get_conn().has_collection(name), f"check collection '{name}'")

    def list_collections(self) -> list[str]:
        return self._guard(lambda: self.get_conn().list_collections(), "list collections")

    def describe_collection(self, name: str) -> dict[str, Any]:
        return self._guard(lambda: self.get_conn().describe_collection(name), f"describe collection '{name}'")

    def collection_dim(self, name: str, vector_field: str = "vector") -> int | None:
        """The dimension of ``vector_field`` in an existing collection (or ``None``)."""
        for fld in self.describe_collection(name).get("fields", []):
            if fld.get("name") == vector_field:
                dim = (fld.get("params") or {}).get("dim")
                return int(dim) if dim is not None else None
        return None

    def drop_collection(self, name: str, *, drop_aliases: bool = False) -> list[str]:
        """Drop a collection. With ``drop_aliases`` its aliases are dropped first (Milvus 2.3
        otherwise leaves them dangling, and a later ``create_alias`` of the same name fails).
        Returns the aliases dropped."""
        dropped: list[str] = []
        if drop_aliases:
            for alias in self.list_aliases(name):
                self.drop_alias(alias)
                dropped.append(alias)
        self._guard(lambda: self.get_conn().drop_collection(name), f"drop collection '{name}'")
        return dropped

    def rename_collection(self, old_name: str, new_name: str) -> None:
        """Rename a collection; one that was loaded is loaded under its new name too (Milvus
        Lite hands a renamed collection back released: reads of it would fail)."""
        client = self.get_conn()
        was_loaded = _is_loaded(self._guard(lambda: client.get_load_state(old_name), f"load state of '{old_name}'"))
        self._guard(
            lambda: client.rename_collection(old_name, new_name), f"rename collection '{old_name}' to '{new_name}'"
        )
        if was_loaded and not _is_loaded(
            self._guard(lambda: client.get_load_state(new_name), f"load state of '{new_name}'")
        ):
            self._guard(lambda: client.load_collection(new_name), f"load collection '{new_name}'")

    def collection_properties(self, name: str) -> dict[str, str]:
        """The collection's properties (key/value strings kept by the server, renames included)."""
        return dict(self.describe_collection(name).get("properties") or {})

    def set_collection_properties(self, name: str, properties: dict[str, str]) -> None:
        """Add or overwrite properties of an existing collection (other keys are kept)."""
        props = {key: str(value) for key, value in properties.items()}
        self._guard(
            lambda: self.get_conn().alter_collection_properties(name, properties=props), f"set properties of '{name}'"
        )

    # ---- generic collection management ---------------------------------------------------------

    def create_collection(
        self,
        collection_name: str,
        dimension: int,
        *,
        primary_field_type: str = "VARCHAR",
        primary_field: str = "id",
        vector_field: str = "vector",
        id_max_length: int = 512,
        metric_type: str = "COSINE",
        index_type: str = "AUTOINDEX",
        index_params: dict[str, Any] | None = None,
        enable_dynamic_field: bool = True,
        varchar_fields: Mapping[str, int] | None = None,
        description: str = "",
        properties: Mapping[str, Any] | None = None,
        consistency_level: str | None = None,
        load: bool = True,
        bm25_input_field: str | None = None,
        bm25_output_field: str = "sparse",
        analyzer_params: Mapping[str, Any] | None = None,
        partition_key_field: str | None = None,
        num_partitions: int | None = None,
    ) -> bool:
        """Create a generic collection unless it exists; returns ``True`` when created now.

        The schema: primary key ``primary_field`` (``VARCHAR`` of ``id_max_length`` or
        ``INT64``, ids given by the caller), a ``FLOAT_VECTOR`` field ``vector_field`` of
        ``dimension``, VARCHAR scalar fields ``varchar_fields`` (name -> max length), dynamic
        fields on (any other key of a row is stored as metadata), and
        one vector index (``AUTOINDEX`` by default, e.g. ``HNSW`` with ``index_params``).

        Milvus 2.5+ options (checked against :meth:`capabilities` before anything is
        created): ``bm25_input_field`` (one of ``varchar_fields``) gets an analyzer
        (``analyzer_params``, default the standard one) and a BM25 function into the sparse
        field ``bm25_output_field`` with its ``SPARSE_INVERTED_INDEX`` (metric ``BM25``), for
        keyword and hybrid search; ``partition_key_field`` (one of ``varchar_fields``)
        becomes the partition key (``num_partitions`` buckets), so one collection holds many
        tenants cheaply.

        Idempotent: an existing collection whose vector field has the same dimension is
        accepted as it is (loaded when ``load``); another dimension raises
        :class:`DimensionMismatchError`, a missing vector field, BM25 function or partition
        key :class:`SchemaMismatchError`. Nothing existing is altered.
        """
        dimension = int(dimension)
        if not 1 <= dimension <= 32768:
            raise ValueError(f"dimension must be between 1 and 32768, got {dimension}")
        pk_type = _primary_type(primary_field_type)
        for option, name in (("bm25_input_field", bm25_input_field), ("partition_key_field", partition_key_field)):
            if name is not None and name not in (varchar_fields or {}):
                raise ValueError(
                    f"{option} {name!r} must be one of varchar_fields ({', '.join(varchar_fields or {}) or 'none'})"
                )
        wanted = [f for f, on in (("bm25", bm25_input_field), ("partition_key", partition_key_field)) if on]
        if wanted:
            self.require(*wanted, action=f"create collection '{collection_name}'")
        if self.has_collection(collection_name):
            self._check_dimension(collection_name, vector_field, dimension)
            self._check_layout(collection_name, bm25_input_field, bm25_output_field, partition_key_field)
            if load:
                self._guard(
                    lambda: self.get_conn().load_collection(collection_name), f"load collection '{collection_name}'"
                )
            return False
        from pymilvus import DataType

        client = self.get_conn()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=enable_dynamic_field, description=description)
        if pk_type == "VARCHAR":
            schema.add_field(primary_field, DataType.VARCHAR, is_primary=True, max_length=int(id_max_length))
        else:
            schema.add_field(primary_field, DataType.INT64, is_primary=True)
        for name, max_length in (varchar_fields or {}).items():
            options: dict[str, Any] = {}
            if name == bm25_input_field:
                options.update(
                    enable_analyzer=True, **({"analyzer_params": dict(analyzer_params)} if analyzer_params else {})
                )
            if name == partition_key_field:
                options["is_partition_key"] = True
            schema.add_field(name, DataType.VARCHAR, max_length=int(max_length), **options)
        schema.add_field(vector_field, DataType.FLOAT_VECTOR, dim=dimension)
        index = client.prepare_index_params()
        index.add_index(
            field_name=vector_field, index_type=index_type, metric_type=metric_type, params=dict(index_params or {})
        )
        if bm25_input_field:
            from pymilvus import Function, FunctionType

            schema.add_field(bm25_output_field, DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{bm25_input_field}_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=[bm25_input_field],
                    output_field_names=[bm25_output_field],
                )
            )
            index.add_index(field_name=bm25_output_field, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        extra: dict[str, Any] = {"consistency_level": consistency_level} if consistency_level else {}
        if partition_key_field and num_partitions:
            extra["num_partitions"] = int(num_partitions)
        try:
            self._guard(
                lambda: client.create_collection(collection_name, schema=schema, index_params=index, **extra),
                f"create collection '{collection_name}'",
            )
        except MilvusHookError:
            if not self.has_collection(collection_name):  # not a concurrent creation: a real failure
                raise
            self._check_dimension(collection_name, vector_field, dimension)
            return False
        if properties:
            self.set_collection_properties(collection_name, dict(properties))
        if load:
            self._guard(lambda: client.load_collection(collection_name), f"load collection '{collection_name}'")
        self.log.info(
            "Created collection '%s' (%s id, %d-dim %s/%s)",
            collection_name,
            pk_type,
            dimension,
            index_type,
            metric_type,
        )
        return True

    def load_collection(self, name: str) -> None:
        """Load a collection (or an alias's collection) for search and query; a no-op when loaded."""
        self._guard(lambda: self.get_conn().load_collection(name), f"load collection '{name}'")

    def collection_layout(self, name: str) -> dict[str, Any]:
        """The BM25 functions (``{input field: output field}``) and the partition key field
        (or ``None``) of an existing collection."""
        return layout_of(self.describe_collection(name))

    def _check_layout(self, name: str, bm25_input: str | None, bm25_output: str, partition_key: str | None) -> None:
        if not bm25_input and not partition_key:
            return
        layout = self.collection_layout(name)
        where = f"collection '{name}' on {self.config.uri}"
        if bm25_input and layout["bm25"].get(bm25_input) != bm25_output:
            raise SchemaMismatchError(
                f"{where} exists without a BM25 function from '{bm25_input}' to '{bm25_output}' (it was created "
                f"without keyword search). Nothing was changed: BM25 needs a new collection (rebuild into one)."
            )
        if partition_key and layout["partition_key_field"] != partition_key:
            raise SchemaMismatchError(
                f"{where} exists with partition key {layout['partition_key_field']!r}, not '{partition_key}'. "
                f"Nothing was changed: a partition key is fixed when a collection is created."
            )

    def _check_dimension(self, collection_name: str, vector_field: str, dimension: int) -> None:
        existing = self.collection_dim(collection_name, vector_field)
        where = f"collection '{collection_name}' on {self.config.uri}"
        if existing is None:
            raise SchemaMismatchError(f"{where} exists but has no vector field '{vector_field}'")
        if existing != dimension:
            raise DimensionMismatchError(
                f"{where} exists with {existing}-dim vectors in '{vector_field}', not {dimension}. "
                f"Nothing was changed: use another collection name, or drop this one on purpose."
            )

    def collection_state(
        self,
        collection_name: str,
        *,
        filter: str = "",
        count_rows: bool = True,
        filter_params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Whether a collection (or alias) exists and is loaded, and how many rows it holds
        (matching ``filter`` with ``filter_params`` bound; counted with Strong consistency, only when loaded and
        ``count_rows``). JSON-safe: ``{"collection_name", "exists", "loaded", "row_count"}``."""
        filter, bound = self._bound(filter, filter_params, f"count rows in '{collection_name}'")
        client = self.get_conn()
        state: dict[str, Any] = {
            "collection_name": collection_name,
            "exists": False,
            "loaded": False,
            "row_count": None,
        }
        state["exists"] = bool(
            self._guard(lambda: client.has_collection(collection_name), f"check collection '{collection_name}'")
        )
        if not state["exists"]:
            return state
        load = self._guard(lambda: client.get_load_state(collection_name), f"load state of '{collection_name}'")
        state["loaded"] = _is_loaded(load)
        if state["loaded"] and count_rows:
            state["row_count"] = self._count(collection_name, filter, bound)
        return state

    async def acollection_state(
        self,
        collection_name: str,
        *,
        filter: str = "",
        count_rows: bool = True,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Async twin of :meth:`collection_state` (used by ``MilvusCollectionTrigger``)."""
        filter, bound = await self._abound(filter, filter_params, f"count rows in '{collection_name}'")
        async with self._aclient(client) as c:
            state: dict[str, Any] = {
                "collection_name": collection_name,
                "exists": False,
                "loaded": False,
                "row_count": None,
            }
            state["exists"] = bool(
                await self._aguard(lambda: c.has_collection(collection_name), f"check collection '{collection_name}'")
            )
            if not state["exists"]:
                return state
            load = await self._aguard(lambda: c.get_load_state(collection_name), f"load state of '{collection_name}'")
            state["loaded"] = _is_loaded(load)
            if state["loaded"] and count_rows:
                state["row_count"] = await self._acount(c, collection_name, filter, bound)
            return state

    # ---- data: writes ----------------------------------------------------------------------------

    def insert(
        self,
        collection_name: str,
        data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
        *,
        batch_size: int | None = 1000,
        partition_name: str | None = None,
        timeout: float | None = None,
        allow_empty: bool = False,
    ) -> int:
        """Insert rows (dicts: primary key, vector, any metadata); returns how many were
        written, in one request per ``batch_size`` rows (1000; ``None`` or 0: one request).

        **Not retry-safe on a collection with a user primary key**: Milvus keeps every
        inserted row, so a retry (or a second run) with the same rows duplicates them. Use
        :meth:`upsert` there. On an ``auto_id`` collection insert is the only write: leave the
        primary key out of the rows (the server generates it); a retry adds the rows again.

        Before the first request every row is checked against the collection's schema (the
        primary key present and of its type, unless ``auto_id``; each vector of its type and
        dimension; every required field present; no field the schema does not know unless it
        has a dynamic field): a bad row raises :class:`RowValidationError` naming its batch,
        its index and the field (never a value), and nothing is written. Two rows with the
        same primary key in one call are refused the same way (no silent last- or first-wins).
        ``data=None`` is refused unless ``allow_empty`` (then, like an empty list, 0).

        If a request fails, the remaining batches are not sent and :class:`PartialWriteError`
        (a :class:`MilvusHookError`) carries the ids already written (``written_ids``), also
        logged, so a retry or a cleanup knows what landed.
        """
        return self._write("insert", collection_name, data, batch_size, partition_name, timeout, allow_empty)

    def upsert(
        self,
        collection_name: str,
        data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
        *,
        batch_size: int | None = 1000,
        partition_name: str | None = None,
        timeout: float | None = None,
        allow_empty: bool = False,
    ) -> int:
        """Insert or replace rows by primary key (retry-safe); returns how many were written.

        Checked, batched and reported like :meth:`insert`; duplicate primary keys within one
        call are refused. Refused on an ``auto_id`` collection: there the server generates
        the keys, so a row's key is not known in advance and cannot be replaced; use
        :meth:`insert` without the primary key.
        """
        return self._write("upsert", collection_name, data, batch_size, partition_name, timeout, allow_empty)

    def write_schema(self, collection_name: str) -> WriteSchema:
        """What :meth:`insert`/:meth:`upsert` check rows against (read from the server)."""
        info = self._guard(
            lambda: self.get_conn().describe_collection(collection_name), f"describe collection '{collection_name}'"
        )
        return WriteSchema.of(info)

    def _write(self, op, collection_name, data, batch_size, partition_name, timeout, allow_empty) -> int:
        rows = _rows_to_write(data, op, collection_name, allow_empty)
        if not rows:
            return 0
        schema = self.write_schema(collection_name)
        batches = schema.check(op, collection_name, rows, batch_size)
        client = self.get_conn()
        self._warn_insert(op, collection_name, schema)
        kwargs = _opt(partition_name=partition_name, timeout=timeout)
        written_ids: list[Any] = []
        written = 0
        for number, part in enumerate(batches):
            try:
                result = self._guard(
                    lambda part=part: getattr(client, op)(collection_name, data=part, **kwargs),
                    f"{op} {len(part)} rows into '{collection_name}'",
                )
            except MilvusHookError as exc:
                raise self._partial(op, collection_name, exc, number, len(batches), written, written_ids, []) from exc
            written += _written(result, op, len(part))
            written_ids.extend(_ids_of(result, part, schema.primary))
        return written

    async def ainsert(
        self,
        collection_name: str,
        data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
        *,
        batch_size: int | None = 1000,
        max_concurrency: int = 4,
        partition_name: str | None = None,
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        allow_empty: bool = False,
    ) -> int:
        """Async :meth:`insert` (same checks, batching, errors and retry caveat): at most
        ``max_concurrency`` requests in flight together; the first failed batch cancels the
        others (``asyncio.TaskGroup``). A batch cancelled while in flight may still have
        landed on the server: its ids are in ``PartialWriteError.uncertain_ids``."""
        return await self._awrite(
            "insert", collection_name, data, batch_size, max_concurrency, partition_name, timeout, client, allow_empty
        )

    async def aupsert(
        self,
        collection_name: str,
        data: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
        *,
        batch_size: int | None = 1000,
        max_concurrency: int = 4,
        partition_name: str | None = None,
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        allow_empty: bool = False,
    ) -> int:
        """Async :meth:`upsert`, batched and cancelled like :meth:`ainsert`."""
        return await self._awrite(
            "upsert", collection_name, data, batch_size, max_concurrency, partition_name, timeout, client, allow_empty
        )

    async def _awrite(
        self, op, collection_name, data, batch_size, max_concurrency, partition_name, timeout, client, allow_empty
    ) -> int:
        rows = _rows_to_write(data, op, collection_name, allow_empty)
        if not rows:
            return 0
        if int(max_concurrency) < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        gate = asyncio.Semaphore(int(max_concurrency))
        kwargs = _opt(partition_name=partition_name, timeout=timeout)
        async with self._aclient(client) as c:
            info = await self._aguard(
                lambda: c.describe_collection(collection_name), f"describe collection '{collection_name}'"
            )
            schema = WriteSchema.of(info)
            batches = schema.check(op, collection_name, rows, batch_size)
            self._warn_insert(op, collection_name, schema)
            done: dict[int, tuple[int, list[Any]]] = {}
            in_flight: set[int] = set()
            failures: list[tuple[int, MilvusHookError]] = []

            async def one(number: int, part: list[dict[str, Any]]) -> None:
                async with gate:
                    if failures:  # a sibling failed while this one waited: never send it
                        return
                    in_flight.add(number)
                    try:
                        result = await self._aguard(
                            lambda: getattr(c, op)(collection_name, data=part, **kwargs),
                            f"{op} {len(part)} rows into '{collection_name}'",
                        )
                    except MilvusHookError as exc:
                        in_flight.discard(number)
                        failures.append((number, exc))
                        raise
                    in_flight.discard(number)
                    done[number] = (_written(result, op, len(part)), _ids_of(result, part, schema.primary))

            try:
                async with asyncio.TaskGroup() as group:
                    for number, part in enumerate(batches):
                        group.create_task(one(number, part))
            except BaseExceptionGroup as errors:
                if not failures:
                    raise errors.exceptions[0] from errors
                number, exc = failures[0]
                written_ids = [i for n in sorted(done) for i in done[n][1]]
                uncertain = [_pk_of(row, schema.primary) for n in sorted(in_flight) for row in batches[n]]
                written = sum(count for count, _ in done.values())
                raise self._partial(
                    op, collection_name, exc, number, len(batches), written, written_ids, uncertain
                ) from exc
        return sum(count for count, _ in done.values())

    def _warn_insert(self, op: str, collection_name: str, schema: WriteSchema) -> None:
        if op == "insert" and not schema.auto_id:
            self.log.info(
                "Inserting into '%s' (primary key '%s' set by the caller): a retry or a second run with the same rows "
                "duplicates them; use upsert to make the write retry-safe",
                collection_name,
                schema.primary,
            )

    def _partial(self, op, collection_name, exc, number, batches, written, written_ids, uncertain) -> PartialWriteError:
        if written or written_ids:
            landed = f"{written} row(s) were already written, ids {_few(written_ids)}"
        else:
            landed = "nothing was written"
        if uncertain:
            landed += f"; {len(uncertain)} row(s) in flight when cancelled may have landed, ids {_few(uncertain)}"
        message = f"{exc} (batch {number} of {batches}; the remaining batches were not sent; {landed})"
        self.log.error("%s into '%s' stopped at batch %d of %d: %s", op, collection_name, number, batches, landed)
        return PartialWriteError(
            message, written_ids=written_ids, uncertain_ids=uncertain, failed_batch=number, written=written
        )

    def delete(
        self,
        collection_name: str,
        ids: Sequence[str | int] | str | int | None = None,
        filter: str = "",
        *,
        batch_size: int = 1000,
        partition_name: str | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> int:
        """Delete rows by primary key (``ids``) or by a boolean ``filter`` expression (one of
        the two, never neither: emptying a collection takes an explicit filter). Values from
        users or upstream tasks go in ``filter_params`` (``filter="tenant == {t}"``,
        ``filter_params={"t": tenant}``): bound by the server, they cannot change the expression.

        By ids: returns how many ids were sent. By filter: the server's ``delete_count``
        (Milvus 2.3 counts the primary keys the expression names, existing or not).
        """
        kwargs = _opt(partition_name=partition_name)
        id_list = _delete_target(ids, filter, filter_params)
        if id_list is None:
            filter, bound = self._bound(filter, filter_params, f"delete from '{collection_name}'")
            kwargs.update(bound)
            result = self._guard(
                lambda: self.get_conn().delete(collection_name, filter=filter, **kwargs),
                f"delete rows matching {filter!r} from '{collection_name}'",
            )
            return _deleted(result)
        deleted = 0
        for part in _batches(id_list, batch_size):
            self._guard(
                lambda part=part: self.get_conn().delete(collection_name, ids=part, **kwargs),
                f"delete {len(part)} rows from '{collection_name}'",
            )
            deleted += len(part)
        return deleted

    async def adelete(
        self,
        collection_name: str,
        ids: Sequence[str | int] | str | int | None = None,
        filter: str = "",
        *,
        batch_size: int = 1000,
        partition_name: str | None = None,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> int:
        """Async :meth:`delete`."""
        kwargs = _opt(partition_name=partition_name)
        id_list = _delete_target(ids, filter, filter_params)
        if id_list is None:
            filter, bound = await self._abound(filter, filter_params, f"delete from '{collection_name}'")
            kwargs.update(bound)
        async with self._aclient(client) as c:
            if id_list is None:
                result = await self._aguard(
                    lambda: c.delete(collection_name, filter=filter, **kwargs),
                    f"delete rows matching {filter!r} from '{collection_name}'",
                )
                return _deleted(result)
            deleted = 0
            for part in _batches(id_list, batch_size):
                await self._aguard(
                    lambda part=part: c.delete(collection_name, ids=part, **kwargs),
                    f"delete {len(part)} rows from '{collection_name}'",
                )
                deleted += len(part)
            return deleted

    # ---- data: reads ----------------------------------------------------------------------------------

    def query(
        self,
        collection_name: str,
        filter: str = "",
        *,
        output_fields: Sequence[str] | None = None,
        ids: Sequence[str | int] | None = None,
        limit: int | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = "Strong",
        timeout: float | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows matching ``filter`` (or with these ``ids``), as JSON-safe dicts. Strong
        consistency by default: a read in a task sees the writes of the tasks before it.
        ``filter_params`` binds the ``{name}`` placeholders of ``filter`` (Milvus 2.5+)."""
        kwargs = _read_kwargs(output_fields, ids, limit, partition_names, consistency_level, timeout)
        filter, bound = self._bound(filter, filter_params, f"query '{collection_name}'")
        kwargs.update(bound)
        rows = self._read(
            collection_name,
            lambda: self.get_conn().query(collection_name, filter=filter, **kwargs),
            f"query '{collection_name}'",
        )
        return [_json_safe(dict(row)) for row in rows]

    async def aquery(
        self,
        collection_name: str,
        filter: str = "",
        *,
        output_fields: Sequence[str] | None = None,
        ids: Sequence[str | int] | None = None,
        limit: int | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = "Strong",
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Async :meth:`query`."""
        kwargs = _read_kwargs(output_fields, ids, limit, partition_names, consistency_level, timeout)
        filter, bound = await self._abound(filter, filter_params, f"query '{collection_name}'")
        kwargs.update(bound)
        async with self._aclient(client) as c:
            rows = await self._aread(
                c,
                collection_name,
                lambda: c.query(collection_name, filter=filter, **kwargs),
                f"query '{collection_name}'",
            )
        return [_json_safe(dict(row)) for row in rows]

    def get(
        self,
        collection_name: str,
        ids: Sequence[str | int] | str | int,
        *,
        output_fields: Sequence[str] | None = None,
        consistency_level: str | None = "Strong",
        timeout: float | None = None,
        batch_size: int | None = 1000,
    ) -> list[dict[str, Any]]:
        """The rows with these primary keys (missing ids are simply absent), one query per
        ``batch_size`` ids (``None`` or 0: one query). Strong consistency by default."""
        rows: list[dict[str, Any]] = []
        for part in _batches(_id_list(ids), batch_size):
            rows.extend(
                self.query(
                    collection_name,
                    ids=part,
                    output_fields=output_fields,
                    consistency_level=consistency_level,
                    timeout=timeout,
                )
            )
        return rows

    async def aget(
        self,
        collection_name: str,
        ids: Sequence[str | int] | str | int,
        *,
        output_fields: Sequence[str] | None = None,
        consistency_level: str | None = "Strong",
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        batch_size: int | None = 1000,
    ) -> list[dict[str, Any]]:
        """Async :meth:`get` (the batches one after another, on one client)."""
        id_list = _id_list(ids)
        if not id_list:
            return []
        rows: list[dict[str, Any]] = []
        async with self._aclient(client) as c:
            for part in _batches(id_list, batch_size):
                rows.extend(
                    await self.aquery(
                        collection_name,
                        ids=part,
                        output_fields=output_fields,
                        consistency_level=consistency_level,
                        timeout=timeout,
                        client=c,
                    )
                )
        return rows

    def search(
        self,
        collection_name: str,
        data: Sequence[Any],
        *,
        limit: int = 10,
        filter: str = "",
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, Any] | None = None,
        anns_field: str | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = None,
        timeout: float | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Nearest neighbours of each query vector in ``data``: one list per query, best
        first, each hit ``{"id", "distance", <output fields>}`` (JSON-safe, ready for XCom).
        ``consistency_level`` ``None`` uses the collection's own; pass ``"Strong"`` to see
        writes made just before by another client. ``filter_params`` binds the ``{name}``
        placeholders of ``filter`` (Milvus 2.5+)."""
        kwargs = _search_kwargs(
            limit, filter, output_fields, search_params, anns_field, partition_names, consistency_level, timeout
        )
        filter, bound = self._bound(filter, filter_params, f"search '{collection_name}'")
        kwargs.update(bound, filter=filter or "")
        result = self._read(
            collection_name,
            lambda: self.get_conn().search(collection_name, data=list(data), **kwargs),
            f"search '{collection_name}'",
        )
        return _hits(result)

    async def asearch(
        self,
        collection_name: str,
        data: Sequence[Any],
        *,
        limit: int = 10,
        filter: str = "",
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, Any] | None = None,
        anns_field: str | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = None,
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Async :meth:`search`."""
        kwargs = _search_kwargs(
            limit, filter, output_fields, search_params, anns_field, partition_names, consistency_level, timeout
        )
        filter, bound = await self._abound(filter, filter_params, f"search '{collection_name}'")
        kwargs.update(bound, filter=filter or "")
        async with self._aclient(client) as c:
            result = await self._aread(
                c,
                collection_name,
                lambda: c.search(collection_name, data=list(data), **kwargs),
                f"search '{collection_name}'",
            )
        return _hits(result)

    def search_text(
        self,
        collection_name: str,
        query: str,
        *,
        embedding: Any = None,
        limit: int = 5,
        filter: str = "",
        filter_params: dict[str, Any] | None = None,
        output_fields: list[str] | None = None,
        anns_field: str | None = None,
        search_params: dict[str, Any] | None = None,
        consistency_level: str | None = None,
    ) -> list[dict[str, Any]]:
        """Search a Milvus collection for the rows nearest to one query text, best first.

        Each hit is ``{"id", "distance", <output fields>}``. Made for callers that hold text,
        not vectors, such as an agent's tool (common-ai's ``HookToolset``): pin
        ``collection_name``, ``embedding`` and ``output_fields`` there and the model only
        chooses the query (and ``limit``).

        :param collection_name: the collection or alias to search.
        :param query: the question or keywords to search for, in plain words.
        :param embedding: embeds the query (a LangChain ``Embeddings`` object, a callable or an
            import path, as in ``MilvusSearchOperator``); without one the text is matched by
            the BM25 function field ``anns_field`` (Milvus 2.5+).
        :param limit: how many hits to return (1 to 100).
        :param filter: a Milvus boolean expression the hits must match.
        :param filter_params: values of the filter's ``{name}`` placeholders.
        :param output_fields: fields returned with each hit.
        :param anns_field: the vector field to search (a BM25 sparse field without embedding).
        :param search_params: index search parameters, e.g. ``{"params": {"ef": 64}}``.
        :param consistency_level: ``None`` uses the collection's own level.
        """
        from milvus_provider.utils.embeddings import resolve_embedding

        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"search_text of '{collection_name}' needs a non-empty query text, got {query!r}")
        limit = int(limit)
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be between 1 and 100, got {limit}")
        adapter = resolve_embedding(embedding)
        if adapter is None and not anns_field:
            raise ValueError(
                f"search_text of '{collection_name}' needs an embedding, or anns_field naming a BM25 function's field"
            )
        data = [adapter.embed_query(query)] if adapter is not None else [query]
        return self.search(
            collection_name,
            data,
            limit=limit,
            filter=filter,
            filter_params=filter_params,
            output_fields=output_fields,
            anns_field=anns_field,
            search_params=search_params,
            consistency_level=consistency_level,
        )[0]

    def hybrid_search(
        self,
        collection_name: str,
        data: Sequence[Any],
        texts: Sequence[str],
        *,
        vector_field: str = "vector",
        sparse_field: str = "sparse",
        limit: int = 10,
        filter: str = "",
        ranker: str = "rrf",
        ranker_params: Mapping[str, Any] | None = None,
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, Any] | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = None,
        timeout: float | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Dense and BM25 keyword search in one call (Milvus 2.5+): query ``i`` is the vector
        ``data[i]`` against ``vector_field`` and the text ``texts[i]`` against the BM25
        ``sparse_field``, merged by ``ranker`` (``rrf`` with ``ranker_params={"k": 60}``, or
        ``weighted`` with ``{"weights": [dense, sparse]}``). Results as :meth:`search`."""
        self.require("bm25", "hybrid_search", action=f"hybrid search of '{collection_name}'")
        filter, bound = self._bound(filter, filter_params, f"hybrid search '{collection_name}'")
        args = _hybrid_args(
            data,
            texts,
            vector_field,
            sparse_field,
            limit,
            filter,
            ranker,
            ranker_params,
            output_fields,
            search_params,
            partition_names,
            consistency_level,
            timeout,
            bound.get("filter_params"),
        )
        result = self._read(
            collection_name,
            lambda: self.get_conn().hybrid_search(collection_name, **args),
            f"hybrid search '{collection_name}'",
        )
        return _hits(result)

    async def ahybrid_search(
        self,
        collection_name: str,
        data: Sequence[Any],
        texts: Sequence[str],
        *,
        vector_field: str = "vector",
        sparse_field: str = "sparse",
        limit: int = 10,
        filter: str = "",
        ranker: str = "rrf",
        ranker_params: Mapping[str, Any] | None = None,
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, Any] | None = None,
        partition_names: Sequence[str] | None = None,
        consistency_level: str | None = None,
        timeout: float | None = None,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Async :meth:`hybrid_search`."""
        await asyncio.to_thread(self.require, "bm25", "hybrid_search", action=f"hybrid search of '{collection_name}'")
        filter, bound = await self._abound(filter, filter_params, f"hybrid search '{collection_name}'")
        args = _hybrid_args(
            data,
            texts,
            vector_field,
            sparse_field,
            limit,
            filter,
            ranker,
            ranker_params,
            output_fields,
            search_params,
            partition_names,
            consistency_level,
            timeout,
            bound.get("filter_params"),
        )
        async with self._aclient(client) as c:
            result = await self._aread(
                c,
                collection_name,
                lambda: c.hybrid_search(collection_name, **args),
                f"hybrid search '{collection_name}'",
            )
        return _hits(result)

    # ---- counting --------------------------------------------------------------------------

    def count(self, collection_name: str, filter: str = "", *, filter_params: Mapping[str, Any] | None = None) -> int:
        """Exact row count with Strong consistency (sees every write acknowledged before),
        of the rows matching ``filter`` (``filter_params`` bound) if given."""
        filter, bound = self._bound(filter, filter_params, f"count rows in '{collection_name}'")
        return self._count(collection_name, filter, bound)

    async def acount(
        self,
        collection_name: str,
        filter: str = "",
        *,
        client: AsyncMilvusClient | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> int:
        """Async :meth:`count`."""
        filter, bound = await self._abound(filter, filter_params, f"count rows in '{collection_name}'")
        async with self._aclient(client) as c:
            return await self._acount(c, collection_name, filter, bound)

    def _count(self, collection_name: str, filter: str, bound: Mapping[str, Any]) -> int:
        """The one Strong ``count(*)`` query (``filter`` already bound), sync."""
        rows = self._read(
            collection_name,
            lambda: self.get_conn().query(collection_name, **_count_args(filter, bound)),
            f"count rows in '{collection_name}'",
        )
        return _count_of(rows)

    async def _acount(
        self, client: AsyncMilvusClient, collection_name: str, filter: str, bound: Mapping[str, Any]
    ) -> int:
        """The one Strong ``count(*)`` query, on an async client."""
        rows = await self._aread(
            client,
            collection_name,
            lambda: client.query(collection_name, **_count_args(filter, bound)),
            f"count rows in '{collection_name}'",
        )
        return _count_of(rows)

    def iter_rows(
        self,
        name: str,
        output_fields: list[str],
        *,
        filter: str = "",
        batch_size: int = MAX_QUERY_WINDOW,
        filter_params: Mapping[str, Any] | None = None,
    ) -> Iterable[list[dict[str, Any]]]:
        """Every row of a collection (matching ``filter``), in batches, each page a Strong query.

        A Strong query waits for the server's next time tick (about 0.3 s measured on Milvus
        2.3.5, whatever the page size), so pages are as large as Milvus allows
        (``MAX_QUERY_WINDOW``): 100k rows read in 2.2 s, against 6.5 s in pages of 5,000.

        Paged by primary key (``pk > last`` with ``limit``; Milvus answers a limited query in
        primary-key order), not with pymilvus's ``query_iterator``: against Milvus 2.3 that
        cannot get a server timestamp, falls back to the client's clock and misses rows
        written in the last second or so. A read that decides a delete must see them all."""
        filter, bound = self._bound(filter, filter_params, f"read rows of '{name}'")
        pk, numeric = self._primary_key(name)
        fields = list(dict.fromkeys([pk, *output_fields]))
        last: Any = None
        while True:
            after = (
                None
                if last is None
                else f"{pk} > {last}"
                if numeric
                else f"{pk} > {json.dumps(last, ensure_ascii=False)}"
            )
            expr = " and ".join(f"({part})" for part in (filter, after) if part)
            batch = self._read(
                name,
                lambda expr=expr: self.get_conn().query(
                    name, filter=expr, output_fields=fields, limit=batch_size, consistency_level="Strong", **bound
                ),
                f"read rows of '{name}'",
            )
            if not batch:
                return
            # Plain dicts first: pymilvus's result list fills dynamic fields lazily by position, so a
            # list sorted before they are read pairs rows with another row's dynamic fields.
            batch = [dict(row) for row in batch]
            batch.sort(key=lambda row: row[pk])
            last = batch[-1][pk]
            yield batch if pk in output_fields else [{k: v for k, v in row.items() if k != pk} for row in batch]
            if len(batch) < batch_size:
                return

    def _primary_key(self, name: str) -> tuple[str, bool]:
        """The primary field's name, and whether it is an integer."""
        for fld in self.describe_collection(name).get("fields", []):
            if fld.get("is_primary"):
                kind = str(getattr(fld.get("type"), "name", fld.get("type"))).upper()
                return fld["name"], "INT" in kind
        raise MilvusHookError(f"collection '{name}' on {self.config.uri} has no primary field")

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
            raise MilvusHookError(
                self.config.redact(f"describe alias '{alias}' on {self.config.uri}: {_clean(exc)}")
            ) from None
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

    # ---- helpers ------------------------------------------------------------------------------------

    def _bound(self, filter: str, filter_params: Mapping[str, Any] | None, action: str) -> tuple[str, dict[str, Any]]:
        """The filter and the keyword arguments that bind ``filter_params`` in it.

        A server with expression templates (Milvus 2.5+; not Milvus Lite) binds the values
        itself (pymilvus ``filter_params``). On any other server each ``{name}`` outside a
        string literal is replaced here by the value written as a literal (strings quoted and
        escaped), so a value can never change the expression's structure either way."""
        params = _filter_params(filter, filter_params)
        if not params:
            return filter, {}
        if self.capabilities().filter_params:
            return filter, {"filter_params": params}
        return render_filter(filter, params), {}

    async def _abound(
        self, filter: str, filter_params: Mapping[str, Any] | None, action: str
    ) -> tuple[str, dict[str, Any]]:
        """Async :meth:`_bound` (the server version is read once per hook, off the event loop)."""
        params = _filter_params(filter, filter_params)
        if not params:
            return filter, {}
        capabilities = await asyncio.to_thread(self.capabilities)
        if capabilities.filter_params:
            return filter, {"filter_params": params}
        return render_filter(filter, params), {}

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

    @asynccontextmanager
    async def _aclient(self, client: AsyncMilvusClient | None) -> AsyncIterator[AsyncMilvusClient]:
        """The caller's client (left open), or a new one for this call (closed after)."""
        if client is not None:
            yield client
            return
        async with self.async_client() as own:
            yield own

    async def _aread(self, client: AsyncMilvusClient, name: str, call: Callable[[], Awaitable[Any]], action: str):
        """Async :meth:`_read`: heals "collection not loaded" once."""
        try:
            return await self._aguard(call, action)
        except MilvusHookError as exc:
            if not is_not_loaded(exc):
                raise
            self.log.warning("Collection '%s' is not loaded (the server restarted?); loading it, then retrying", name)
            await self._aguard(lambda: client.load_collection(name), f"load collection '{name}'")
            return await self._aguard(call, action)

    async def _aguard(self, call: Callable[[], Awaitable[Any]], action: str):
        """Async :meth:`_guard`."""
        from pymilvus.exceptions import MilvusException

        try:
            return await call()
        except (MilvusException, *_rpc_errors()) as exc:
            config = await self.aget_config()
            raise MilvusHookError(config.redact(f"{action} on {config.uri} failed: {_clean(exc)}")) from exc

    def _guard(self, call, action: str):
        """Run a pymilvus call; re-raise failures as ``MilvusHookError`` naming the action and
        the server (pymilvus's own message is kept; it never contains the token)."""
        from pymilvus.exceptions import MilvusException

        try:
            return call()
        except (MilvusException, *_rpc_errors()) as exc:
            raise MilvusHookError(self.config.redact(f"{action} on {self.config.uri} failed: {_clean(exc)}")) from exc


def layout_of(info: Mapping[str, Any]) -> dict[str, Any]:
    """:meth:`MilvusHook.collection_layout` of a ``describe_collection`` answer already read."""
    bm25 = {
        fn["input_field_names"][0]: fn["output_field_names"][0]
        for fn in info.get("functions") or []
        if str(getattr(fn.get("type"), "name", fn.get("type"))).upper() == "BM25"
        and fn.get("input_field_names")
        and fn.get("output_field_names")
    }
    keys = [f["name"] for f in info.get("fields", []) if f.get("is_partition_key")]
    return {"bm25": bm25, "partition_key_field": keys[0] if keys else None}


def is_not_loaded(exc: BaseException) -> bool:
    """Milvus refused a read because the collection is not loaded (code 101 in 2.3-2.6)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # pymilvus raises `e from e`: a cycle
        seen.add(id(exc))
        if "not loaded" in str(exc).lower():
            return True
        exc = exc.__cause__
    return False


def _rpc_errors() -> tuple[type[BaseException], ...]:
    """Raw gRPC failures pymilvus passes through (a per-call ``timeout``: DEADLINE_EXCEEDED)."""
    try:
        import grpc
    except ImportError:  # pragma: no cover - pymilvus depends on grpcio
        return ()
    return (grpc.RpcError,)


def _constructed(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """``factory(**kwargs)``, with arguments the client refuses (a URI pymilvus cannot parse)
    raised as a pymilvus error: the guards turn it into ``MilvusHookError``, sync and async alike."""
    from pymilvus.exceptions import MilvusException

    try:
        return factory(**kwargs)
    except (ValueError, TypeError) as exc:
        raise MilvusException(message=f"invalid client settings: {_clean(exc)}") from None


async def _aconstructed(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """:func:`_constructed` in the running event loop (an async client binds to it)."""
    return _constructed(factory, kwargs)


def _clean(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    details = getattr(exc, "details", None)
    if callable(code) and callable(details):  # a raw gRPC error: its str() is a debug dump
        try:
            return f"{getattr(code(), 'name', code())}: {details()}"
        except Exception:  # pragma: no cover - a half-built RpcError
            pass
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())


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


async def _amask(values: list[str]) -> None:
    """:func:`_mask` for the event loop: ``amask_secret`` never blocks it."""
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # pragma: no cover - Airflow < 3.2
        await asyncio.to_thread(_mask, values)
        return
    for value in values:
        await amask_secret(value)


# ---- argument and result shaping (pure functions) ----------------------------------------------


def _primary_type(value: str) -> str:
    """``VARCHAR`` or ``INT64`` from the names people use for them."""
    name = str(value).strip().upper()
    if name in {"VARCHAR", "STRING", "STR", "TEXT"}:
        return "VARCHAR"
    if name in {"INT64", "INT", "INTEGER"}:
        return "INT64"
    raise ValueError(f"primary_field_type must be VARCHAR or INT64, got {value!r}")


def _is_loaded(load_state: Any) -> bool:
    state = load_state.get("state") if isinstance(load_state, Mapping) else load_state
    return getattr(state, "name", str(state)).split(".")[-1].lower() == "loaded"


def _as_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, Mapping):
        return [dict(data)]
    rows = list(data or [])
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {index} is a {type(row).__name__}, not a dict of field values")
    return [dict(row) for row in rows]


# ---- row checks before a write ---------------------------------------------------------------------

_VECTOR_KINDS = {
    "FLOAT_VECTOR",
    "FLOAT16_VECTOR",
    "BFLOAT16_VECTOR",
    "BINARY_VECTOR",
    "SPARSE_FLOAT_VECTOR",
    "INT8_VECTOR",
}
_INT_KINDS = {"INT8", "INT16", "INT32", "INT64"}


def _kind(value: Any) -> str:
    return str(getattr(value, "name", value)).split(".")[-1].upper()


class WriteSchema:
    """A collection's schema as far as a write needs it (from ``describe_collection``)."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.primary = ""
        self.auto_id = bool(info.get("auto_id"))
        self.dynamic = bool(info.get("enable_dynamic_field"))
        for fld in info.get("fields") or []:
            params = dict(fld.get("params") or {})
            spec = {
                "kind": _kind(fld.get("type")),
                "dim": int(params["dim"]) if params.get("dim") not in (None, "") else None,
                "max_length": int(params["max_length"]) if params.get("max_length") not in (None, "") else None,
                "optional": bool(fld.get("nullable")) or fld.get("default_value") is not None,
                "generated": bool(fld.get("is_function_output")),
            }
            if fld.get("is_primary"):
                self.primary = fld["name"]
                self.auto_id = self.auto_id or bool(fld.get("auto_id"))
            self.fields[fld["name"]] = spec

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> WriteSchema:
        return cls(info)

    def check(
        self, op: str, collection_name: str, rows: list[dict[str, Any]], batch_size: int | None
    ) -> list[list[dict[str, Any]]]:
        """The batches to send, once every row fits; else :class:`RowValidationError`."""
        if op == "upsert" and self.auto_id:
            raise RowValidationError(
                f"upsert into '{collection_name}' refused: its primary key '{self.primary}' is generated by the server "
                f"(auto_id), so a row's key is not known in advance and nothing can be replaced by it. Use insert with "
                f"rows without '{self.primary}' (a retry adds the rows again), or a collection with a user primary key"
            )
        batches = list(_batches(rows, batch_size))
        seen: dict[Any, int] = {}
        index = 0
        for number, part in enumerate(batches):
            for row in part:
                where = f"batch {number}, row {index}"
                self._check_row(collection_name, row, where)
                if not self.auto_id:
                    key = row[self.primary]
                    if key in seen:
                        raise RowValidationError(
                            f"{op} into '{collection_name}' refused: primary key {key!r} appears twice in one call "
                            f"(rows {seen[key]} and {index}); nothing was written. Send each id once"
                        )
                    seen[key] = index
                index += 1
        return batches

    def _check_row(self, collection_name: str, row: Mapping[str, Any], where: str) -> None:
        def bad(field: str, problem: str) -> RowValidationError:
            return RowValidationError(
                f"{where}: field '{field}' {problem} (collection '{collection_name}'); nothing was written"
            )

        for name, spec in self.fields.items():
            value = row.get(name)
            if name == self.primary:
                if self.auto_id:
                    if name in row:
                        raise bad(
                            name, "is given, but the collection generates its primary keys (auto_id): leave it out"
                        )
                    continue
                if value is None:
                    raise bad(name, "is missing: every row needs its primary key")
            if spec["generated"]:
                if name in row:
                    raise bad(name, "is given, but the collection computes it with a function (BM25): leave it out")
                continue
            if value is None:
                if spec["optional"]:
                    continue
                raise bad(name, "is missing (required: not nullable, no default)")
            problem = _type_problem(spec, value)
            if problem:
                raise bad(name, problem)
        if not self.dynamic:
            for name in row:
                if name not in self.fields:
                    raise bad(name, "is not in the collection's schema (it has no dynamic field)")


def _type_problem(spec: Mapping[str, Any], value: Any) -> str | None:
    import numbers

    kind, dim = spec["kind"], spec["dim"]
    if kind in _INT_KINDS:
        return (
            None
            if isinstance(value, numbers.Integral) and not isinstance(value, bool)
            else f"is a {type(value).__name__}, not an integer ({kind})"
        )
    if kind in {"FLOAT", "DOUBLE"}:
        return (
            None
            if isinstance(value, numbers.Real) and not isinstance(value, bool)
            else f"is a {type(value).__name__}, not a number ({kind})"
        )
    if kind == "BOOL":
        return (
            None if isinstance(value, (bool, __import__("numpy").bool_)) else f"is a {type(value).__name__}, not a bool"
        )
    if kind == "VARCHAR":
        if not isinstance(value, str):
            return f"is a {type(value).__name__}, not a string (VARCHAR)"
        if spec["max_length"] and len(value) > spec["max_length"]:
            return f"has {len(value)} characters, more than its max_length {spec['max_length']}"
        return None
    if kind == "ARRAY":
        return None if isinstance(value, (list, tuple)) else f"is a {type(value).__name__}, not a list (ARRAY)"
    if kind == "SPARSE_FLOAT_VECTOR":
        if isinstance(value, Mapping):
            if all(
                isinstance(k, numbers.Integral) and isinstance(v, numbers.Real) and not isinstance(v, bool)
                for k, v in value.items()
            ):
                return None
            return "is not a sparse vector: its keys must be integers and its values numbers"
        return (
            None
            if hasattr(value, "tocsr") or hasattr(value, "nnz")
            else f"is a {type(value).__name__}, not a sparse vector (dict of index to value)"
        )
    if kind == "BINARY_VECTOR":
        want = (dim or 0) // 8
        if isinstance(value, (bytes, bytearray)):
            return (
                None
                if not dim or len(value) == want
                else f"has {len(value)} bytes, the collection's binary vectors {want} ({dim} bits)"
            )
        return f"is a {type(value).__name__}, not bytes (BINARY_VECTOR)"
    if kind in _VECTOR_KINDS:
        if isinstance(value, (bytes, bytearray)) and kind in {"FLOAT16_VECTOR", "BFLOAT16_VECTOR"}:
            return (
                None
                if not dim or len(value) == 2 * dim
                else f"has {len(value) // 2} values, the collection {dim} ({kind})"
            )
        if (
            isinstance(value, (str, bytes, bytearray, Mapping))
            or not hasattr(value, "__len__")
            or not hasattr(value, "__iter__")
        ):
            return f"is a {type(value).__name__}, not a vector of {dim} numbers ({kind})"
        if dim and len(value) != dim:
            return f"has {len(value)} values, the collection {dim} ({kind})"
        dtype = getattr(value, "dtype", None)
        if dtype is not None and getattr(dtype, "kind", "") in "iuf":
            import numpy

            return (
                None
                if dtype.kind in "iu" or bool(numpy.isfinite(value).all())
                else f"holds a NaN or infinite value ({kind})"
            )
        for item in value:
            if isinstance(item, bool) or not isinstance(item, numbers.Real):
                return f"holds a {type(item).__name__}, not only numbers ({kind})"
            if kind != "INT8_VECTOR" and not math.isfinite(float(item)):
                return f"holds a NaN or infinite value ({kind})"
        return None
    return None


def _rows_to_write(data: Any, op: str, collection_name: str, allow_empty: bool) -> list[dict[str, Any]]:
    if data is None and not allow_empty:
        raise ValueError(
            f"{op} into '{collection_name}' got data=None (no rows; did an upstream task return nothing?); "
            f"pass allow_empty=True to accept that and write nothing"
        )
    return _as_rows(data)


def _pk_of(row: Mapping[str, Any], primary: str) -> Any:
    return _json_safe(row.get(primary))


def _ids_of(result: Any, part: list[dict[str, Any]], primary: str) -> list[Any]:
    """The written rows' primary keys: the server's answer (``ids``, generated ones for
    auto_id), else the rows' own."""
    ids = result.get("ids") if isinstance(result, Mapping) else None
    if ids is not None and not isinstance(ids, (str, bytes)):
        try:
            return [_json_safe(i) for i in list(ids)]
        except TypeError:
            pass
    return [_pk_of(row, primary) for row in part if primary in row]


def _few(ids: list[Any], shown: int = 5) -> str:
    head = ", ".join(repr(i) for i in ids[:shown])
    return f"[{head}{', ...' if len(ids) > shown else ''}] ({len(ids)} in all)" if len(ids) > shown else f"[{head}]"


def _batches(items: Sequence[Any], batch_size: int | None) -> Iterator[list[Any]]:
    items = list(items)
    if batch_size is None or int(batch_size) <= 0:
        if items:
            yield items
        return
    size = int(batch_size)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _count_args(filter: str, bound: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the exact row count: ``count(*)`` with Strong consistency, so it
    sees every write acknowledged before (a count from another client can otherwise be stale)."""
    return {"filter": filter, "output_fields": ["count(*)"], "consistency_level": "Strong", **bound}


def _count_of(rows: Sequence[Mapping[str, Any]]) -> int:
    return int(rows[0]["count(*)"])


def _opt(**kwargs: Any) -> dict[str, Any]:
    """Only the keyword arguments that were given (pymilvus's defaults differ by version)."""
    return {key: value for key, value in kwargs.items() if value is not None}


def _written(result: Any, op: str, sent: int) -> int:
    if isinstance(result, Mapping):
        return int(result.get(f"{op}_count", sent))
    return sent


def _deleted(result: Any) -> int:
    if isinstance(result, Mapping):
        return int(result.get("delete_count", 0))
    if isinstance(result, (list, tuple)):  # Milvus Lite answers a delete with the deleted keys
        return len(result)
    return int(getattr(result, "delete_count", 0) or 0)


def _id_list(ids: Any) -> list[Any]:
    if ids is None:
        return []
    if isinstance(ids, (str, int)):
        return [ids]
    return list(ids)


def _filter_params(filter: str, filter_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The bound values of a templated filter (``tenant == {t}`` with ``{"t": ...}``)."""
    if filter_params is None or (not filter_params and not isinstance(filter_params, str)):
        return {}
    if not isinstance(filter_params, Mapping):
        raise TypeError(
            f"filter_params must be a dict of placeholder name to value, got a {type(filter_params).__name__}"
        )
    if not filter or not str(filter).strip():
        raise ValueError("filter_params given without a filter to bind them in")
    return {str(key): value for key, value in filter_params.items()}


_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def filter_literal(value: Any) -> str:
    """``value`` as a Milvus expression literal: strings double-quoted with every quote,
    backslash and control character escaped; numbers, booleans and lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a filter value must be a finite number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # \" \\ \n \uXXXX: escapes Milvus reads back
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(filter_literal(item) for item in value) + "]"
    raise TypeError(f"a filter value must be a string, number, boolean or a list of them, got a {type(value).__name__}")


def render_filter(filter: str, params: Mapping[str, Any]) -> str:
    """``filter`` with each ``{name}`` placeholder outside a string literal replaced by
    :func:`filter_literal` of ``params[name]``. Every placeholder needs a value."""
    out: list[str] = []
    i, n = 0, len(filter)
    while i < n:
        char = filter[i]
        if char in "\"'":  # copy a string literal as it is (placeholders inside are text)
            j = i + 1
            while j < n and filter[j] != char:
                j += 2 if filter[j] == "\\" else 1
            out.append(filter[i : j + 1])
            i = j + 1
            continue
        match = _PLACEHOLDER.match(filter, i) if char == "{" else None
        if match:
            name = match.group(1)
            if name not in params:
                raise ValueError(
                    f"filter placeholder {{{name}}} has no value in filter_params ({', '.join(params) or 'none'})"
                )
            out.append(filter_literal(params[name]))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _delete_target(ids: Any, filter: str, filter_params: Mapping[str, Any] | None = None) -> list[Any] | None:
    """The id list to delete, or ``None`` to delete by ``filter``."""
    if ids is not None and (filter or filter_params):
        raise ValueError("delete by ids or by filter, not both")
    if ids is None:
        if not filter or not str(filter).strip():
            raise ValueError("delete needs ids or a filter (emptying a collection takes an explicit filter)")
        return None
    return _id_list(ids)


def _read_kwargs(output_fields, ids, limit, partition_names, consistency_level, timeout) -> dict[str, Any]:
    return _opt(
        output_fields=list(output_fields) if output_fields is not None else None,
        ids=_id_list(ids) if ids is not None else None,
        limit=int(limit) if limit is not None else None,
        partition_names=list(partition_names) if partition_names else None,
        consistency_level=consistency_level or None,
        timeout=timeout,
    )


def _search_kwargs(
    limit, filter, output_fields, search_params, anns_field, partition_names, consistency_level, timeout
) -> dict[str, Any]:
    kwargs = _opt(
        output_fields=list(output_fields) if output_fields is not None else None,
        search_params=dict(search_params) if search_params else None,
        anns_field=anns_field or None,
        partition_names=list(partition_names) if partition_names else None,
        consistency_level=consistency_level or None,
        timeout=timeout,
    )
    kwargs["limit"] = int(limit)
    kwargs["filter"] = filter or ""
    return kwargs


def _hybrid_args(
    data,
    texts,
    vector_field,
    sparse_field,
    limit,
    filter,
    ranker,
    ranker_params,
    output_fields,
    search_params,
    partition_names,
    consistency_level,
    timeout,
    expr_params=None,
) -> dict[str, Any]:
    from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

    data, texts = list(data), [str(t) for t in texts]
    if len(data) != len(texts) or not data:
        raise ValueError(
            f"hybrid search needs one text per query vector, got {len(data)} vectors and {len(texts)} texts"
        )
    params = dict(ranker_params or {})
    if ranker == "rrf":
        rank = RRFRanker(int(params.get("k", 60)))
    elif ranker == "weighted":
        weights = [float(w) for w in params.get("weights", (0.5, 0.5))]
        if len(weights) != 2:
            raise ValueError(f"the weighted ranker needs two weights [dense, sparse], got {weights}")
        rank = WeightedRanker(*weights)
    else:
        raise ValueError(f"ranker must be 'rrf' or 'weighted', got {ranker!r}")
    expr = filter or None
    bound = {"expr_params": dict(expr_params)} if expr_params else {}
    requests = [
        AnnSearchRequest(
            data=data, anns_field=vector_field, param=dict(search_params or {}), limit=int(limit), expr=expr, **bound
        ),
        AnnSearchRequest(data=texts, anns_field=sparse_field, param={}, limit=int(limit), expr=expr, **bound),
    ]
    return _opt(
        reqs=requests,
        ranker=rank,
        limit=int(limit),
        output_fields=list(output_fields) if output_fields is not None else None,
        partition_names=list(partition_names) if partition_names else None,
        consistency_level=consistency_level or None,
        timeout=timeout,
    )


def _hits(result: Any) -> list[list[dict[str, Any]]]:
    """pymilvus search results as plain lists of ``{"id", "distance", <fields>}`` dicts."""
    out: list[list[dict[str, Any]]] = []
    for hits in result:
        rows: list[dict[str, Any]] = []
        for hit in hits:
            raw = dict(hit)
            entity = raw.get("entity") or {}
            # The primary key: ``Hit.id`` whatever the field is called (Milvus Lite keys it by name).
            key = getattr(hit, "id", None) if not isinstance(hit, Mapping) or "id" not in hit else raw.get("id")
            row: dict[str, Any] = {"id": key, "distance": float(raw.get("distance", 0.0))}
            for key, value in dict(entity).items():
                row.setdefault(key, value)
            rows.append(_json_safe(row))
        out.append(rows)
    return out


def _json_safe(value: Any) -> Any:
    """Plain JSON types only: numpy scalars and arrays, tuples and mappings converted."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return _json_safe(tolist())
    return str(value)
