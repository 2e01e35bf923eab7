"""Operators of the Milvus provider.

Arguments are named like pymilvus ``MilvusClient``'s (``collection_name``, ``data``,
``filter``, ``limit``, ``output_fields``); each operator is a thin call of a
:class:`~milvus_provider.hooks.milvus.MilvusHook` method and returns JSON-safe values to XCom.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import math
import re
import warnings
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.sensors.milvus import MilvusCollectionSensor
from milvus_provider.utils.embeddings import resolve_embedding

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "MilvusAliasOperator",
    "MilvusCollectionSensor",
    "MilvusCreateCollectionOperator",
    "MilvusDropCollectionOperator",
    "MilvusIngestOperator",
    "MilvusSearchOperator",
]

T = TypeVar("T")


class _MilvusBaseOperator(BaseOperator):
    """``milvus_conn_id`` and a lazily made :class:`MilvusHook`, closed after ``execute``."""

    ui_color = "#e3f2fd"

    def __init__(self, *, milvus_conn_id: str = MilvusHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.milvus_conn_id = milvus_conn_id

    @cached_property
    def hook(self) -> MilvusHook:
        return MilvusHook(milvus_conn_id=self.milvus_conn_id)

    @contextmanager
    def _connected(self) -> Iterator[MilvusHook]:
        """The hook for the calls of one ``execute``; its client is closed on the way out,
        whatever happens (the one client lifecycle of every operator)."""
        try:
            yield self.hook
        finally:
            close = getattr(self.hook, "close", None)
            if callable(close):
                close()


class MilvusIngestOperator(_MilvusBaseOperator):
    """Write rows into a collection (upsert or insert), with the async client and several
    batches in flight; optionally create the collection first and embed texts.

    Each row is a dict: the primary key (``id_field``), the vector (``vector_field``) and any
    metadata (stored in Milvus's dynamic field). A row without a vector is embedded from its
    ``text_field`` with ``embedding``.

    Returns counts only, never rows: ``{"collection_name", "mode", "rows", "written",
    "embedded", "batches", "created_collection"}``.

    :param collection_name: target collection (templated).
    :param data: list of row dicts, or an XComArg / template giving one (templated).
    :param mode: ``"upsert"`` (default: replaces rows with the same id) or ``"insert"`` (templated).
    :param batch_size: rows per request (templated).
    :param max_concurrency: requests in flight together on the ``AsyncMilvusClient`` (templated).
    :param embedding: embeds the texts of rows without a vector: a LangChain ``Embeddings``
        object, a callable ``list[str] -> list[vector]``, or an import path naming either.
    :param dimension: when given, the collection is created if missing
        (:meth:`MilvusHook.create_collection`: primary key ``id_field`` of the ids' type,
        FLOAT_VECTOR ``vector_field``, dynamic fields, ``index_type``/``metric_type``), and an
        existing one must have this dimension (templated).
    :param primary_field_type: ``VARCHAR`` or ``INT64``; default: from the first row's id.
    :param metric_type: ``COSINE`` (default), ``L2`` or ``IP``, for a created collection.
    :param index_type: ``AUTOINDEX`` (default), ``HNSW``, ... for a created collection.
    :param index_params: index build parameters for a created collection (e.g. ``{"M": 16}``).
    :param id_field: name of the primary key (default ``id``).
    :param vector_field: name of the vector field (default ``vector``).
    :param text_field: field embedded when a row has no vector (default ``text``).
    :param partition_name: partition to write into (templated).
    :param allow_empty: no rows (``data`` ``None``, ``[]``, ``"[]"``) is a success writing
        nothing; by default it fails the task, so an upstream task that returned nothing is seen.
    :param milvus_conn_id: Airflow connection of type ``milvus``.

    ``data`` rendered to text (``render_template_as_native_obj`` off) is parsed as JSON once;
    a Python repr or other text fails naming the field and showing the start of the value.
    """

    template_fields: Sequence[str] = (
        "collection_name",
        "data",
        "mode",
        "batch_size",
        "max_concurrency",
        "dimension",
        "partition_name",
    )

    def __init__(
        self,
        *,
        collection_name: str,
        data: Any,
        mode: str = "upsert",
        batch_size: int = 1000,
        max_concurrency: int = 4,
        embedding: Any = None,
        dimension: int | None = None,
        primary_field_type: str | None = None,
        metric_type: str = "COSINE",
        index_type: str = "AUTOINDEX",
        index_params: dict[str, Any] | None = None,
        id_field: str = "id",
        vector_field: str = "vector",
        text_field: str = "text",
        partition_name: str | None = None,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.allow_empty = allow_empty
        self.collection_name = collection_name
        self.data = data
        self.mode = mode
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.embedding = embedding
        self.dimension = dimension
        self.primary_field_type = primary_field_type
        self.metric_type = metric_type
        self.index_type = index_type
        self.index_params = index_params
        self.id_field = id_field
        self.vector_field = vector_field
        self.text_field = text_field
        self.partition_name = partition_name

    def execute(self, context: Context) -> dict[str, Any]:
        mode = str(self.mode).strip().lower()
        if mode not in ("upsert", "insert"):
            raise ValueError(f"mode must be 'upsert' or 'insert', got {self.mode!r}")
        batch_size, max_concurrency = int(self.batch_size), int(self.max_concurrency)
        if batch_size < 1 or max_concurrency < 1:
            raise ValueError("batch_size and max_concurrency must be at least 1")
        rows = _rows(self.data, _truthy(self.allow_empty), fields=(self.id_field, self.text_field, self.vector_field))
        index_params = _as_dict("index_params", self.index_params)
        embedded = self._embed_missing_vectors(rows, batch_size)
        created = False
        with self._connected() as hook:
            if self.dimension not in (None, ""):
                dimension = int(self.dimension)
                _check_rows(rows, self.id_field, self.vector_field, dimension)
                created = hook.create_collection(
                    self.collection_name,
                    dimension,
                    primary_field_type=self.primary_field_type or _primary_type_of(rows, self.id_field),
                    primary_field=self.id_field,
                    vector_field=self.vector_field,
                    metric_type=self.metric_type,
                    index_type=self.index_type,
                    index_params=index_params,
                )
            write = hook.aupsert if mode == "upsert" else hook.ainsert
            written = (
                _run(
                    write(
                        self.collection_name,
                        rows,
                        batch_size=batch_size,
                        max_concurrency=max_concurrency,
                        partition_name=self.partition_name or None,
                    )
                )
                if rows
                else 0
            )
        result = {
            "collection_name": self.collection_name,
            "mode": mode,
            "rows": len(rows),
            "written": int(written),
            "embedded": embedded,
            "batches": math.ceil(len(rows) / batch_size),
            "created_collection": bool(created),
        }
        self.log.info(
            "Ingested into '%s' (%s): %d rows written of %d, in %d batch(es); %d embedded; collection %s",
            self.collection_name,
            mode,
            result["written"],
            result["rows"],
            result["batches"],
            embedded,
            "created" if created else "already there" if self.dimension not in (None, "") else "not checked",
        )
        return result

    def _embed_missing_vectors(self, rows: list[dict[str, Any]], batch_size: int) -> int:
        missing = [row for row in rows if row.get(self.vector_field) is None]
        if not missing:
            return 0
        adapter = resolve_embedding(self.embedding)
        if adapter is None:
            raise ValueError(
                f"{len(missing)} row(s) have no '{self.vector_field}' (first id: {missing[0].get(self.id_field)!r}): "
                f"give vectors, or texts in '{self.text_field}' and an embedding="
            )
        for row in missing:
            if not isinstance(row.get(self.text_field), str):
                raise ValueError(
                    f"row {row.get(self.id_field)!r} has neither '{self.vector_field}' "
                    f"nor a text in '{self.text_field}'"
                )
        for start in range(0, len(missing), batch_size):
            part = missing[start : start + batch_size]
            for row, vector in zip(part, adapter.embed_documents([row[self.text_field] for row in part]), strict=True):
                row[self.vector_field] = vector
        return len(missing)


class MilvusSearchOperator(_MilvusBaseOperator):
    """Search a collection (or alias) for the nearest neighbours of query vectors, or of
    query texts embedded with ``embedding``.

    Returns JSON-safe hits: one list per query, best first, each
    ``{"id", "distance", <output fields>}``.

    :param collection_name: collection or alias (templated).
    :param data: query vectors (a list of vectors, or one vector), or query texts (templated).
    :param limit: hits per query (templated).
    :param filter: Milvus boolean expression the hits must match (templated). Put values
        from params or upstream tasks in ``filter_params``, never into the string.
    :param filter_params: values of the filter's ``{name}`` placeholders
        (``filter="tenant == {t}"``, ``filter_params={"t": "{{ params.tenant }}"}``): bound,
        so a value cannot change the expression (templated).
    :param output_fields: fields returned with each hit (templated).
    :param search_params: e.g. ``{"params": {"ef": 64}}`` (templated).
    :param anns_field: vector field to search, when the collection has several (templated).
    :param partition_names: partitions to search (templated).
    :param consistency_level: ``"Strong"`` by default, so the search sees rows written by
        upstream tasks; ``None`` uses the collection's own level (templated).
    :param embedding: embeds query texts: a LangChain ``Embeddings`` object (its
        ``embed_query``), a callable or an import path (see :func:`resolve_embedding`).
    :param hybrid: dense and BM25 keyword search ranked together (Milvus 2.5+; see
        :meth:`MilvusHook.hybrid_search`). The keyword side uses ``texts``, or the query
        texts in ``data`` (then embedded with ``embedding`` for the dense side) (templated).
    :param texts: the keyword query of each query vector in ``data``, for ``hybrid`` (templated).
    :param ranker: ``rrf`` (default) or ``weighted``, for ``hybrid`` (templated).
    :param ranker_params: ``{"k": 60}`` for ``rrf``, ``{"weights": [dense, sparse]}`` for
        ``weighted`` (templated).
    :param sparse_field: the BM25 function's output field, for ``hybrid`` (default ``sparse``).
    :param allow_empty: no query in ``data`` returns ``[]`` without searching; by default it
        fails the task.
    :param strict_output_fields: refuse output fields that are not schema fields, also on a
        collection with a dynamic field (whose undeclared keys are otherwise accepted, and a
        key that no hit carries is logged as a warning). On a collection without a dynamic
        field an unknown output field is always refused, before the search.
    :param include_vectors: keep vector fields in the hits (default off: ``output_fields=["*"]``
        returns the other fields, and naming a vector field fails unless this is on).
    :param max_xcom_bytes: the largest result (its JSON, in bytes) returned to XCom, default
        1 MB (1_000_000); a larger one fails the task, saying the size and how to reduce it.
        ``None`` or ``0``: no cap.
    :param milvus_conn_id: Airflow connection of type ``milvus``.

    Fields rendered to text (``render_template_as_native_obj`` off) are parsed as JSON once:
    ``data``, ``search_params``, ``filter_params``, ``ranker_params``, ``output_fields``,
    ``partition_names``, ``texts``. A plain string that is not JSON (does not start with
    ``[``, ``{`` or ``"``) is one name for ``output_fields`` / ``partition_names`` (``"text"``
    is ``["text"]``) and one query text for ``data``. Anything else fails naming the field.
    """

    template_fields: Sequence[str] = (
        "collection_name",
        "data",
        "limit",
        "filter",
        "filter_params",
        "output_fields",
        "search_params",
        "anns_field",
        "partition_names",
        "consistency_level",
        "hybrid",
        "texts",
        "ranker",
        "ranker_params",
    )

    def __init__(
        self,
        *,
        collection_name: str,
        data: Any,
        limit: int = 10,
        filter: str = "",
        filter_params: dict[str, Any] | None = None,
        output_fields: list[str] | None = None,
        search_params: dict[str, Any] | None = None,
        anns_field: str | None = None,
        partition_names: list[str] | None = None,
        consistency_level: str | None = "Strong",
        embedding: Any = None,
        hybrid: bool | str = False,
        texts: list[str] | str | None = None,
        ranker: str = "rrf",
        ranker_params: dict[str, Any] | None = None,
        sparse_field: str = "sparse",
        allow_empty: bool = False,
        strict_output_fields: bool = False,
        include_vectors: bool = False,
        max_xcom_bytes: int | None = 1_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.allow_empty = allow_empty
        self.strict_output_fields = strict_output_fields
        self.include_vectors = include_vectors
        self.max_xcom_bytes = max_xcom_bytes
        self.hybrid = hybrid
        self.texts = texts
        self.ranker = ranker
        self.ranker_params = ranker_params
        self.sparse_field = sparse_field
        self.collection_name = collection_name
        self.data = data
        self.limit = limit
        self.filter = filter
        self.filter_params = filter_params
        self.output_fields = output_fields
        self.search_params = search_params
        self.anns_field = anns_field
        self.partition_names = partition_names
        self.consistency_level = consistency_level
        self.embedding = embedding

    def execute(self, context: Context) -> list[list[dict[str, Any]]]:
        if _truthy(self.hybrid):
            return self._hybrid()
        queries = _queries(self.data, _truthy(self.allow_empty))
        if not queries:
            self.log.info("No query in data (allow_empty=True): nothing searched")
            return []
        args = self._typed()
        texts = [i for i, query in enumerate(queries) if isinstance(query, str)]
        if texts:
            adapter = resolve_embedding(self.embedding)
            if adapter is not None:
                queries = [adapter.embed_query(q) if isinstance(q, str) else q for q in queries]
            elif not self.anns_field:  # Milvus embeds texts itself only for a function's field (BM25)
                raise ValueError("query texts need an embedding= (or anns_field= naming a BM25 function's field)")
        with self._connected() as hook:
            vectors, dynamic = self._check_output_fields(args["output_fields"])
            hits = hook.search(
                collection_name=self.collection_name,
                data=queries,
                limit=args["limit"],
                filter=self.filter or "",
                **({"filter_params": args["filter_params"]} if args["filter_params"] else {}),
                output_fields=args["output_fields"],
                search_params=args["search_params"],
                anns_field=self.anns_field or None,
                partition_names=args["partition_names"],
                consistency_level=self.consistency_level or None,
            )
        hits = self._for_xcom(hits, vectors, dynamic, args["limit"])
        self.log.info("Searched '%s': %s", self.collection_name, _describe_hits(hits))
        return hits

    def _hybrid(self) -> list[list[dict[str, Any]]]:
        queries = _queries(self.data, _truthy(self.allow_empty))
        if not queries:
            self.log.info("No query in data (allow_empty=True): nothing searched")
            return []
        texts = _queries(self.texts, field="texts") if self.texts not in (None, "") else queries
        args = self._typed()
        if not all(isinstance(text, str) for text in texts):
            raise ValueError("hybrid search needs query texts: pass texts=, or query texts as data")
        if any(isinstance(query, str) for query in queries):
            adapter = resolve_embedding(self.embedding)
            if adapter is None:
                raise ValueError("hybrid search with query texts in data needs an embedding= for the dense side")
            queries = [adapter.embed_query(q) if isinstance(q, str) else q for q in queries]
        with self._connected() as hook:
            vectors, dynamic = self._check_output_fields(args["output_fields"])
            hits = hook.hybrid_search(
                self.collection_name,
                queries,
                texts,
                vector_field=self.anns_field or "vector",
                sparse_field=self.sparse_field,
                limit=args["limit"],
                filter=self.filter or "",
                ranker=self.ranker,
                **({"filter_params": args["filter_params"]} if args["filter_params"] else {}),
                ranker_params=args["ranker_params"],
                output_fields=args["output_fields"],
                search_params=args["search_params"],
                partition_names=args["partition_names"],
                consistency_level=self.consistency_level or None,
            )
        hits = self._for_xcom(hits, vectors, dynamic, args["limit"])
        self.log.info("Hybrid search (%s) of '%s': %s", self.ranker, self.collection_name, _describe_hits(hits))
        return hits

    def _typed(self) -> dict[str, Any]:
        """The rendered fields, each parsed once to its type (errors name the field)."""
        return {
            "limit": _as_int("limit", self.limit),
            "filter_params": _as_dict("filter_params", self.filter_params),
            "output_fields": _as_names("output_fields", self.output_fields),
            "search_params": _as_dict("search_params", self.search_params) or None,
            "partition_names": _as_names("partition_names", self.partition_names),
            "ranker_params": _as_dict("ranker_params", self.ranker_params) or None,
        }

    def _check_output_fields(self, output_fields: list[str] | None) -> tuple[set[str], set[str]]:
        """Refuse unknown output fields before searching (see ``strict_output_fields``) and
        vector fields without ``include_vectors``. Returns the collection's vector fields and
        the output fields taken as dynamic keys."""
        if not output_fields:
            return set(), set()
        info = self.hook.describe_collection(self.collection_name)
        fields = {str(f.get("name")): _type_name(f.get("type")) for f in info.get("fields", [])}
        vectors = {name for name, kind in fields.items() if any(t in kind for t in _VECTOR_TYPES)}
        has_dynamic = bool(info.get("enable_dynamic_field"))
        strict = _truthy(self.strict_output_fields)
        include_vectors = _truthy(self.include_vectors)
        dynamic: set[str] = set()
        for name in output_fields:
            if name == "*":
                continue
            if name in fields:
                if name in vectors and not include_vectors:
                    raise ValueError(
                        f"output_fields: '{name}' is a vector field of '{self.collection_name}': "
                        "vectors go to XCom only with include_vectors=True"
                    )
                continue
            if has_dynamic and not strict:
                dynamic.add(name)
                continue
            known = ", ".join(sorted(n for n in fields if n not in vectors))
            why = (
                "strict_output_fields=True: dynamic keys are refused"
                if has_dynamic
                else "the collection has no dynamic field"
            )
            raise ValueError(
                f"output_fields: '{name}' is not a field of collection '{self.collection_name}' ({why}); "
                f"its fields: {known}"
            )
        return vectors, dynamic

    def _for_xcom(
        self, hits: list[list[dict[str, Any]]], vectors: set[str], dynamic: set[str], limit: int
    ) -> list[list[dict[str, Any]]]:
        """Hits without vectors (unless ``include_vectors``), no larger than ``max_xcom_bytes``."""
        if vectors and not _truthy(self.include_vectors):
            hits = [[{k: v for k, v in hit.items() if k not in vectors} for hit in per_query] for per_query in hits]
        if any(hits):
            for name in sorted(dynamic):
                if not any(name in hit for per_query in hits for hit in per_query):
                    self.log.warning(
                        "Output field '%s' is not a schema field of '%s' and no hit carries it as a dynamic key "
                        "(misspelled? strict_output_fields=True refuses such names)",
                        name,
                        self.collection_name,
                    )
        cap = self.max_xcom_bytes
        if cap in (None, "", "None", "none") or _as_int("max_xcom_bytes", cap) <= 0:
            return hits
        cap = _as_int("max_xcom_bytes", cap)
        size = len(json.dumps(hits, separators=(",", ":")).encode())
        if size > cap:
            count = sum(len(per_query) for per_query in hits)
            raise ValueError(
                f"search results are {size} bytes of JSON ({len(hits)} queries, {count} hits), above "
                f"max_xcom_bytes={cap}: lower limit (now {limit}), send fewer queries per task, ask fewer "
                f"output_fields{'' if not _truthy(self.include_vectors) else ', set include_vectors=False'}, "
                "or raise max_xcom_bytes (None: no cap, if your XCom backend holds it)"
            )
        return hits


class MilvusCreateCollectionOperator(_MilvusBaseOperator):
    """Create a collection from arguments (see :meth:`MilvusHook.create_collection`).

    Idempotent: an existing collection with the same dimension is fine (returned with
    ``created: False``); another dimension fails the task and changes nothing. A name that is
    an alias is refused (``ValueError`` naming the collection it points to): it is not a
    collection, and Milvus would otherwise report the target as existing.

    Returns ``{"collection_name", "dimension", "created", "hybrid"}``.

    :param collection_name: (templated)
    :param dimension: vector dimension (templated).
    :param primary_field_type: ``VARCHAR`` (default) or ``INT64`` (templated).
    :param metric_type: ``COSINE`` (default), ``L2`` or ``IP`` (templated).
    :param index_type: ``AUTOINDEX`` (default), ``HNSW``, ``IVF_FLAT``, ... (templated).
    :param index_params: index build parameters, e.g. ``{"M": 16, "efConstruction": 200}`` (templated).
    :param properties: collection properties, e.g. ``{"collection.ttl.seconds": 86400}`` (templated).
    :param description: (templated)
    :param primary_field: primary key name (default ``id``).
    :param vector_field: vector field name (default ``vector``).
    :param id_max_length: VARCHAR primary key length (default 512).
    :param consistency_level: the collection's default consistency (server default if ``None``).
    :param enable_dynamic_field: store undeclared row keys as metadata (default on).
    :param load: load the collection into memory (default on; a search needs it).
    :param varchar_fields: extra VARCHAR scalar fields, name -> max length (templated).
    :param hybrid: also a text field ``text_field`` with an analyzer and a BM25 function into
        the sparse field ``sparse_field`` (indexed), for keyword and hybrid search; Milvus
        2.5+, refused on older servers before anything is created (templated).
    :param text_field: the text field BM25 reads, for ``hybrid`` (default ``text``).
    :param sparse_field: the BM25 function's output field, for ``hybrid`` (default ``sparse``).
    :param analyzer_params: the text field's analyzer, e.g. ``{"type": "english"}`` (templated).
    :param partition_key_field: a VARCHAR field that becomes the partition key (tenants);
        added with length 256 unless in ``varchar_fields`` (templated).
    :param num_partitions: partition-key buckets (server default if ``None``).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = (
        "collection_name",
        "dimension",
        "primary_field_type",
        "metric_type",
        "index_type",
        "index_params",
        "properties",
        "description",
        "varchar_fields",
        "hybrid",
        "analyzer_params",
        "partition_key_field",
    )

    def __init__(
        self,
        *,
        collection_name: str,
        dimension: int | str,
        primary_field_type: str = "VARCHAR",
        metric_type: str = "COSINE",
        index_type: str = "AUTOINDEX",
        index_params: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str = "",
        primary_field: str = "id",
        vector_field: str = "vector",
        id_max_length: int = 512,
        consistency_level: str | None = None,
        enable_dynamic_field: bool = True,
        load: bool = True,
        varchar_fields: dict[str, int] | None = None,
        hybrid: bool | str = False,
        text_field: str = "text",
        sparse_field: str = "sparse",
        analyzer_params: dict[str, Any] | None = None,
        partition_key_field: str | None = None,
        num_partitions: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.varchar_fields = varchar_fields
        self.hybrid = hybrid
        self.text_field = text_field
        self.sparse_field = sparse_field
        self.analyzer_params = analyzer_params
        self.partition_key_field = partition_key_field
        self.num_partitions = num_partitions
        self.collection_name = collection_name
        self.dimension = dimension
        self.primary_field_type = primary_field_type
        self.metric_type = metric_type
        self.index_type = index_type
        self.index_params = index_params
        self.properties = properties
        self.description = description
        self.primary_field = primary_field
        self.vector_field = vector_field
        self.id_max_length = id_max_length
        self.consistency_level = consistency_level
        self.enable_dynamic_field = enable_dynamic_field
        self.load = load

    def execute(self, context: Context) -> dict[str, Any]:
        dimension = _as_int("dimension", self.dimension)
        hybrid = _truthy(self.hybrid)
        index_params = _as_dict("index_params", self.index_params)
        properties = _as_dict("properties", self.properties)
        analyzer_params = _as_dict("analyzer_params", self.analyzer_params)
        varchar_fields = {
            name: _as_int(f"varchar_fields[{name!r}]", length)
            for name, length in (_as_dict("varchar_fields", self.varchar_fields) or {}).items()
        }
        if hybrid:
            varchar_fields.setdefault(self.text_field, 65535)
        if self.partition_key_field:
            varchar_fields.setdefault(self.partition_key_field, 256)
        with self._connected() as hook:
            _refuse_alias(hook, self.collection_name, "create")
            created = hook.create_collection(
                self.collection_name,
                dimension,
                primary_field_type=self.primary_field_type,
                primary_field=self.primary_field,
                vector_field=self.vector_field,
                id_max_length=self.id_max_length,
                metric_type=self.metric_type,
                index_type=self.index_type,
                index_params=index_params or None,
                enable_dynamic_field=self.enable_dynamic_field,
                description=self.description or "",
                properties=properties or None,
                consistency_level=self.consistency_level,
                load=self.load,
                varchar_fields=varchar_fields or None,
                bm25_input_field=self.text_field if hybrid else None,
                bm25_output_field=self.sparse_field,
                analyzer_params=analyzer_params or None,
                partition_key_field=self.partition_key_field or None,
                num_partitions=self.num_partitions,
            )
        self.log.info(
            "Collection '%s' %s (%d-dim%s)",
            self.collection_name,
            "created" if created else "already existed",
            dimension,
            ", hybrid" if hybrid else "",
        )
        return {
            "collection_name": self.collection_name,
            "dimension": dimension,
            "created": bool(created),
            "hybrid": hybrid,
        }


class MilvusDropCollectionOperator(_MilvusBaseOperator):
    """Drop a collection, and first its aliases (``drop_aliases``, default on).

    An alias name is refused (``ValueError``), and nothing is dropped: on Milvus Lite
    ``drop_collection(<alias>)`` drops the collection the alias points to, while Milvus 2.3
    refuses it. Drop an alias with :meth:`MilvusHook.drop_alias`, a collection by its own name.

    Returns ``{"collection_name", "dropped", "aliases_dropped"}``.

    :param collection_name: (templated)
    :param drop_aliases: drop the collection's aliases first (default on).
    :param missing_ok: a missing collection is not an error (default on).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = ("collection_name",)

    def __init__(
        self, *, collection_name: str, drop_aliases: bool = True, missing_ok: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.collection_name = collection_name
        self.drop_aliases = drop_aliases
        self.missing_ok = missing_ok

    def execute(self, context: Context) -> dict[str, Any]:
        with self._connected() as hook:
            _refuse_alias(hook, self.collection_name, "drop")
            if not hook.has_collection(self.collection_name):
                if not self.missing_ok:
                    raise ValueError(f"collection '{self.collection_name}' does not exist")
                self.log.info("Collection '%s' does not exist: nothing to drop", self.collection_name)
                return {"collection_name": self.collection_name, "dropped": False, "aliases_dropped": []}
            aliases = hook.drop_collection(self.collection_name, drop_aliases=self.drop_aliases)
        self.log.info("Dropped collection '%s' (aliases dropped: %s)", self.collection_name, list(aliases or []))
        return {"collection_name": self.collection_name, "dropped": True, "aliases_dropped": list(aliases or [])}


class MilvusAliasOperator(_MilvusBaseOperator):
    """Point an alias at a collection: create it, or move it there atomically (blue/green).

    Returns ``{"alias", "collection_name", "previous"}`` (``previous``: the collection it
    pointed to before, or ``None``).

    :param alias: (templated)
    :param collection_name: the collection the alias should point to (templated).
    :param milvus_conn_id: Airflow connection of type ``milvus``.
    """

    template_fields: Sequence[str] = ("alias", "collection_name")

    def __init__(self, *, alias: str, collection_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias
        self.collection_name = collection_name

    def execute(self, context: Context) -> dict[str, Any]:
        with self._connected() as hook:
            previous = hook.point_alias(self.alias, self.collection_name)
        self.log.info(
            "Alias '%s' %s '%s'%s",
            self.alias,
            "created for" if previous is None else "already on" if previous == self.collection_name else "moved to",
            self.collection_name,
            f" (was on '{previous}')" if previous not in (None, self.collection_name) else "",
        )
        return {"alias": self.alias, "collection_name": self.collection_name, "previous": previous}


# ---- helpers ------------------------------------------------------------------------------------


def _refuse_alias(hook: MilvusHook, name: str, action: str) -> None:
    """Fail when ``name`` is an alias: the collection operators take collections only."""
    target = hook.describe_alias(name)
    if target is not None:
        raise ValueError(
            f"'{name}' is an alias of collection '{target}', not a collection: cannot {action} it. "
            f"Name the collection itself ('{target}'), or manage the alias with MilvusAliasOperator / "
            f"MilvusHook.drop_alias('{name}')"
        )


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync ``execute``; in a fresh thread if a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _rows(
    data: Any, allow_empty: bool = False, *, fields: tuple[str, str, str] = ("id", "text", "vector")
) -> list[dict[str, Any]]:
    """The rows of ``data``: a list of dicts, one dict, or their JSON text (a template rendered
    to text, ``render_template_as_native_obj`` off), or the output of common-ai's
    ``LlamaIndexEmbeddingOperator`` (see :func:`_chunk_rows`; ``fields``: the id, text and
    vector field names). No rows fail unless ``allow_empty``."""
    if isinstance(data, str):
        data = _parse_text("data", data, "a list of row objects") if data.strip() else None
    if _is_chunk_output(data):
        data = _chunk_rows(data, *fields)
    if isinstance(data, Mapping):
        data = [data]
    if data is not None and (isinstance(data, (str, bytes)) or not isinstance(data, Iterable)):
        raise ValueError(f"data: a list of row objects was expected, got a {type(data).__name__}: {_preview(data)}")
    rows = []
    for index, row in enumerate(data or []):
        if not isinstance(row, Mapping):
            raise TypeError(f"data[{index}] is a {type(row).__name__}, not a dict of field values")
        rows.append(dict(row))
    if not rows and not allow_empty:
        raise ValueError(
            f"data: no rows to write (got {_preview(data)}): did an upstream task return nothing? "
            "Pass allow_empty=True when an empty batch is expected"
        )
    return rows


def _is_chunk_output(data: Any) -> bool:
    """``data`` is ``LlamaIndexEmbeddingOperator``'s output: ``{"document_count", "chunk_count",
    "chunks": [{"text", "metadata", "vector"}], "persist_dir"}`` (common-ai 1.0.0)."""
    return isinstance(data, Mapping) and "chunks" in data and "chunk_count" in data


def _chunk_rows(output: Mapping[str, Any], id_field: str, text_field: str, vector_field: str) -> list[dict[str, Any]]:
    """One row per chunk of a ``LlamaIndexEmbeddingOperator`` output: its text in
    ``text_field``, its vector in ``vector_field`` (``None``: embedded by the operator's
    ``embedding``), its metadata keys as fields (dynamic ones), and an id in ``id_field`` made
    from the text and metadata (SHA-256, 32 hex characters): the chunks carry no id, and the
    same chunk gets the same id on every run, so an upsert replaces it instead of adding a copy.
    A chunk repeated in the output (same text and metadata) is written once."""
    chunks = output.get("chunks")
    if not isinstance(chunks, list):
        raise ValueError(f"data: 'chunks' of the embedding output is a {type(chunks).__name__}, not a list")
    if output.get("chunk_count") is not None and output.get("chunk_count") != len(chunks):
        raise ValueError(
            f"data: the embedding output says chunk_count={output.get('chunk_count')!r} but holds {len(chunks)} chunks"
        )
    rows: dict[str, dict[str, Any]] = {}
    for index, chunk in enumerate(chunks):
        where = f"data['chunks'][{index}]"
        if not isinstance(chunk, Mapping) or not isinstance(chunk.get("text"), str):
            raise ValueError(f"{where}: a chunk must be an object with a 'text' string, got {_preview(chunk)}")
        metadata = chunk.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise ValueError(f"{where}: 'metadata' must be an object, got a {type(metadata).__name__}")
        clash = sorted(set(metadata) & {id_field, text_field, vector_field})
        if clash:
            raise ValueError(
                f"{where}: metadata key(s) {clash} would overwrite the row's id, text or vector field; "
                "rename them upstream or pass other id_field/text_field/vector_field names"
            )
        key = json.dumps({"text": chunk["text"], "metadata": metadata}, sort_keys=True, default=str)
        row_id = hashlib.sha256(key.encode()).hexdigest()[:32]
        rows.setdefault(
            row_id, {**metadata, id_field: row_id, text_field: chunk["text"], vector_field: chunk.get("vector")}
        )
    return list(rows.values())


def _describe_hits(hits: list[list[dict[str, Any]]]) -> str:
    """What a search found, for its one log line: hits per query and each query's top id with
    its distance."""
    if not hits:
        return "no query"
    tops = [
        f"#{number}: {len(per_query)} hit(s), top {per_query[0].get('id')!r} at {per_query[0].get('distance')}"
        if per_query
        else f"#{number}: 0 hits"
        for number, per_query in enumerate(hits[:10])
    ]
    more = f"; ... ({len(hits)} queries)" if len(hits) > 10 else ""
    return f"{len(hits)} quer{'y' if len(hits) == 1 else 'ies'}; " + "; ".join(tops) + more


def _check_rows(rows: list[dict[str, Any]], id_field: str, vector_field: str, dimension: int) -> None:
    for row in rows:
        if row.get(id_field) is None:
            raise ValueError(f"a row has no '{id_field}': every row needs its primary key")
        length = len(row[vector_field])
        if length != dimension:
            raise ValueError(f"row {row[id_field]!r} has a {length}-dim '{vector_field}', the collection {dimension}")


def _primary_type_of(rows: list[dict[str, Any]], id_field: str) -> str:
    kinds = {
        "INT64" if isinstance(row.get(id_field), int) and not isinstance(row.get(id_field), bool) else "VARCHAR"
        for row in rows
    }
    if len(kinds) > 1:
        raise ValueError(f"the rows mix integer and string '{id_field}' values")
    return kinds.pop() if kinds else "VARCHAR"


def _queries(data: Any, allow_empty: bool = False, field: str = "data") -> list[Any]:
    """Query vectors or texts: a list of either, one vector, one text, or their JSON text.
    No query fails unless ``allow_empty`` (then ``[]``)."""
    if isinstance(data, str):
        text = data.strip()
        if text[:1] in ("[", "{", "("):
            data = _parse_text(field, text, "a list of query vectors or texts")  # a rendered template
        elif text:
            return [data]  # one query text
        else:
            data = None
    if isinstance(data, Mapping) or (data is not None and not isinstance(data, Iterable)):
        raise ValueError(f"{field}: a list of query vectors or texts was expected, got {_preview(data)}")
    queries = list(data or [])
    if not queries:
        if allow_empty:
            return []
        raise ValueError(
            f"{field}: no query (got {_preview(data)}): did an upstream task return nothing? "
            "Pass allow_empty=True to return [] instead"
        )
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in queries):
        return [[float(x) for x in queries]]  # one vector
    out: list[Any] = []
    for index, query in enumerate(queries):
        if isinstance(query, str):
            out.append(query)
            continue
        try:
            out.append([float(x) for x in query])
        except (TypeError, ValueError):
            raise ValueError(f"{field}[{index}]: neither a vector of numbers nor a text: {_preview(query)}") from None
    return out


def _truthy(value: Any) -> bool:
    """A templated flag: ``True``/``False`` or its rendered text."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


_REPR_MARKS = re.compile(r"'|\bNone\b|\bTrue\b|\bFalse\b|\b[A-Za-z_][\w.]*\(")
_NAME = re.compile(r"^(\*|[A-Za-z_][A-Za-z0-9_]*)$")
_VECTOR_TYPES = ("VECTOR",)  # FLOAT_VECTOR, BINARY_VECTOR, FLOAT16/BFLOAT16/INT8_VECTOR, SPARSE_FLOAT_VECTOR


def _redact(text: str) -> str:
    """``text`` with the secrets registered with Airflow's log masker replaced by ``***``."""
    for path in ("airflow.sdk._shared.secrets_masker", "airflow.sdk.execution_time.secrets_masker"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                redact = importlib.import_module(path).redact
        except (ImportError, AttributeError):
            continue
        return str(redact(text))
    return text


def _preview(value: Any, width: int = 60) -> str:
    """The start of a value for an error message: one line, redacted, at most ~``width`` characters."""
    text = _redact(" ".join(str(value).split()))
    return repr(text[:width] + ("..." if len(text) > width else ""))


def _parse_text(field: str, text: str, expected: str) -> Any:
    """A templated field rendered to text, parsed as JSON once, or an error naming the field."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.strip()
        if stripped[:1] in ("[", "{", "(") and _REPR_MARKS.search(stripped):
            raise ValueError(
                f"{field}: rendered as a Python repr, not JSON ({_preview(text)}); {expected} was expected. "
                "Render it with '| tojson', or set render_template_as_native_obj=True on the DAG"
            ) from None
        raise ValueError(
            f"{field}: not JSON ({exc.msg} at character {exc.pos}); {expected} was expected, got {_preview(text)}"
        ) from None


def _as_dict(field: str, value: Any) -> dict[str, Any] | None:
    """A dict-typed templated field: a dict, JSON object text, or nothing (``None``/``""``)."""
    if isinstance(value, str):
        value = _parse_text(field, value, "a JSON object") if value.strip() else None
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: a JSON object (dict) was expected, got a {type(value).__name__}: {_preview(value)}")
    return dict(value)


def _as_names(field: str, value: Any) -> list[str] | None:
    """A list of names (``output_fields``, ``partition_names``): a list, JSON list text, or one
    plain name (``"text"`` means ``["text"]``; text starting with ``[``, ``{`` or ``"`` is JSON)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[:1] in ("[", "{", '"', "("):
            value = _parse_text(field, text, "a list of names")
        elif _NAME.match(text):
            return [text]
        else:
            raise ValueError(f"{field}: neither one name nor a JSON list of names: {_preview(text)}")
        if isinstance(value, str):
            value = [value]
    if value is None:
        return None
    if (
        isinstance(value, (Mapping, bytes))
        or not isinstance(value, Sequence)
        or not all(isinstance(n, str) for n in value)
    ):
        raise ValueError(f"{field}: a list of names was expected, got {_preview(value)}")
    return list(value) or None


def _as_int(field: str, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: an integer was expected, got {_preview(value)}") from None


def _type_name(kind: Any) -> str:
    return str(getattr(kind, "name", kind)).upper()
