"""Nightly reindexing: incremental by default (LangChain's indexing API with a SQL record
manager), blue/green full rebuilds behind a Milvus alias.

Incremental, fanned out over mapped tasks with the semantics of ``aindex(cleanup="full")``:
1. ``plan`` reads the record manager's clock: the run's start time.
2. every mapped task calls ``aindex`` on its batch with ``cleanup=None``: chunks whose key
   is already recorded are skipped (not embedded, not written); the rest are written; every
   key of the batch gets its timestamp refreshed;
3. once *all* batches succeeded, ``cleanup`` deletes the keys not refreshed since the run
   started (chunks of changed or deleted files) from Milvus, then from the record manager.
   ``aindex`` itself does step 3 at the end of one call; across tasks we do it once, last.

Full: build ``<alias>__<timestamp>`` from scratch with the same fan-out, validate it with the
same suite, and only then point the alias at it. The previous collection is kept for one
rollback; older builds are dropped.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.indexing import aindex
from langchain_core.vectorstores import VectorStore
from pydantic import Field

from milvus_toolkit.embeddings import CountingEmbeddings
from milvus_toolkit.ingest.params import IngestParams, ParamsError
from milvus_toolkit.ingest.pipeline import collection_spec, embedding_for
from milvus_toolkit.ingest.staging import read_batch_file
from milvus_toolkit.local_milvus import REPO_ROOT

log = logging.getLogger(__name__)
BUILD_SEPARATOR = "__"
DEFAULT_SCHEDULE = "0 2 * * *"


class ReindexParams(IngestParams):
    """The ingest params (without ``mode``: reindexing decides what to write) plus the
    reindex strategy."""

    strategy: Literal["incremental", "full"] = "incremental"
    force_reembed: bool = False
    build_collection: str | None = Field(None, description="full only: name of the new collection")


def parse_reindex_params(raw: dict) -> ReindexParams:
    from pydantic import ValidationError

    try:
        return ReindexParams(**{k: v for k, v in raw.items() if k != "mode"})
    except ValidationError as exc:
        problems = [
            f"param '{'.'.join(str(p) for p in e['loc'])}': {e['msg'].removeprefix('Value error, ')}"
            if e["loc"] else e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise ParamsError("invalid reindex parameters: " + "; ".join(problems)) from None


def record_db_url() -> str:
    """Where the record manager keeps its records: ``MILVUS_TOOLKIT_RECORD_DB`` (any async
    SQLAlchemy URL, e.g. ``postgresql+psycopg://user@host/db``), by default SQLite in
    ``.local``."""
    url = os.environ.get("MILVUS_TOOLKIT_RECORD_DB")
    if url:
        return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1) if url.startswith("sqlite:///") else url
    path = REPO_ROOT / ".local" / "record_manager.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def namespace_for(database: str, collection: str) -> str:
    """Records are kept per physical collection: a rebuild starts with an empty namespace."""
    return f"milvus/{database}/{collection}"


async def open_record_manager(namespace: str):
    from langchain_classic.indexes import SQLRecordManager

    url = record_db_url()
    manager = SQLRecordManager(
        namespace,
        db_url=url,
        async_mode=True,
        # Mapped tasks in several processes share one SQLite file: wait for its lock.
        engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None,
    )
    await manager.acreate_schema()
    return manager


async def close_record_manager(manager) -> None:
    await manager.engine.dispose()


@dataclass
class Plan:
    """What this run works on (small, JSON-safe: goes through XCom)."""

    alias: str
    strategy: str
    target: str  # physical collection written and validated
    previous: str | None  # what the alias served before (full: kept for rollback)
    plain_collection: bool  # the serving name is a real collection, not an alias yet
    namespace: str
    started_at: float  # record manager clock at the start of the run
    build: bool  # writing into a new collection (full, or first run)

    def to_xcom(self) -> dict:
        return dict(self.__dict__)


async def make_plan(params: ReindexParams, hook, run_stamp: str) -> Plan:
    """Resolve the serving name and choose the physical collection to write."""
    alias = params.collection
    pointed = hook.describe_alias(alias)
    plain = pointed is None and hook.has_collection(alias)
    current = pointed or (alias if plain else None)
    build = params.strategy == "full" or current is None
    if build:
        target = params.build_collection or f"{alias}{BUILD_SEPARATOR}{run_stamp}"
        if target in (current, alias):
            raise ParamsError(f"param 'build_collection': {target!r} is the collection being served; choose a new name")
    else:
        target = current
    namespace = namespace_for(hook.config.db_name, target)
    manager = await open_record_manager(namespace)
    try:
        started = await manager.aget_time()
    finally:
        await close_record_manager(manager)
    plan = Plan(alias, params.strategy, target, current, plain, namespace, started, build)
    log.info(
        "Reindex '%s' (%s): writing '%s'%s; serving '%s' until then",
        alias, "full rebuild" if build else "incremental", target,
        " (new collection)" if build else "", current or "nothing yet",
    )
    return plan


class UpsertingStore(VectorStore):
    """Hands ``aindex`` a store whose "add" is Milvus's upsert.

    ``aindex`` writes with ``aadd_documents`` and records the keys afterwards. In Milvus an
    add is an insert, which never checks ids: a task that dies between the two steps would
    insert the same rows again on retry. Keys here are our deterministic chunk ids, so an
    upsert by id makes the retry harmless.
    """

    def __init__(self, store) -> None:
        self.store = store

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs["ids"]
        await self.store.aupsert(ids=ids, documents=documents)
        return ids

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        return await self.store.adelete(ids=ids)

    def add_texts(self, *args, **kwargs):  # pragma: no cover - aindex is async only here
        raise NotImplementedError("UpsertingStore is for aindex (async) only")

    def similarity_search(self, *args, **kwargs):  # pragma: no cover
        raise NotImplementedError("search the Milvus store itself")

    @classmethod
    def from_texts(cls, *args, **kwargs):  # pragma: no cover
        raise NotImplementedError


async def index_batch(params: ReindexParams, hook, plan: dict, batch: dict) -> dict:
    """``aindex`` one staged batch into the plan's target; counts what it did and how many
    texts it embedded."""
    chunks = read_batch_file(batch["path"])
    embedding = embedding_for(params)
    counting = CountingEmbeddings(embedding.embeddings)
    manager = await open_record_manager(plan["namespace"])
    try:
        async with hook.avector_store(collection_spec(params, embedding.dim, plan["target"]), counting) as store:
            result = await aindex(
                chunks,
                manager,
                UpsertingStore(store),
                batch_size=256,
                cleanup=None,  # done once for the whole run, after every batch succeeded
                source_id_key="source",
                force_update=params.force_reembed,
                key_encoder=lambda doc: doc.id,  # our deterministic chunk id (source + content)
            )
    finally:
        await close_record_manager(manager)
    counts = {**dict(result), "embedded": counting.texts, "batch": batch["index"]}
    log.info("%s: %s", batch["label"], counts)
    return counts


async def cleanup_stale(params: ReindexParams, hook, plan: dict, batch_size: int = 1000) -> int:
    """Delete what no batch of this run refreshed (chunks of changed or deleted files),
    first from Milvus, then from the record manager: ``aindex``'s "full" cleanup."""
    embedding = embedding_for(params)
    manager = await open_record_manager(plan["namespace"])
    deleted = 0
    try:
        async with hook.avector_store(collection_spec(params, embedding.dim, plan["target"]), embedding.embeddings) as store:
            while keys := await manager.alist_keys(before=plan["started_at"], limit=batch_size):
                if not await store.adelete(ids=keys):
                    raise RuntimeError(f"deleting {len(keys)} stale chunks from '{plan['target']}' failed")
                await manager.adelete_keys(keys)
                deleted += len(keys)
    finally:
        await close_record_manager(manager)
    log.info("Deleted %d stale chunks from '%s'", deleted, plan["target"])
    return deleted


def swap_alias(hook, plan: dict) -> dict:
    """Point the serving name at the validated build; keep the previous collection for one
    rollback and drop older builds (and failed builds left by earlier runs).

    A plain collection that carries the serving name is first renamed to
    ``<name>__legacy_<stamp>`` (the rollback copy), so that the name can become an alias.
    """
    alias, target, previous = plan["alias"], plan["target"], plan["previous"]
    if not plan["build"]:
        return {"alias": alias, "serving": target, "swapped": False, "previous": previous, "dropped": []}
    if plan["plain_collection"]:
        previous = f"{alias}{BUILD_SEPARATOR}legacy_{target.rsplit(BUILD_SEPARATOR, 1)[-1]}"
        hook.get_conn().rename_collection(alias, previous)
        log.info("Renamed plain collection '%s' to '%s' (kept for rollback)", alias, previous)
    hook.point_alias(alias, target)
    log.info("Alias '%s' now serves '%s' (previously '%s')", alias, target, previous)
    keep = {target, previous}
    dropped = sorted(
        name for name in hook.list_collections()
        if name.startswith(alias + BUILD_SEPARATOR) and name not in keep
    )
    for name in dropped:
        hook.drop_collection(name)
    return {"alias": alias, "serving": target, "swapped": True, "previous": previous, "dropped": dropped}


async def drop_namespaces(collections: list[str], database: str) -> None:
    for name in collections:
        manager = await open_record_manager(namespace_for(database, name))
        try:
            while keys := await manager.alist_keys(limit=1000):
                await manager.adelete_keys(keys)
        finally:
            await close_record_manager(manager)


def run_stamp(when: datetime) -> str:
    return re.sub(r"[^0-9T]", "", when.strftime("%Y%m%dT%H%M%S"))


@dataclass
class ReindexSummary:
    text: str
    figures: dict


def summarize(params: ReindexParams, plan: dict, manifest: dict, indexed: list[dict], deleted: int,
              validation: dict, swap: dict) -> ReindexSummary:
    """What the run did, for people (text) and for the Asset event (figures)."""
    total = {key: sum(r.get(key, 0) for r in indexed) for key in ("num_added", "num_updated", "num_skipped", "embedded")}
    figures = {
        "collection": params.collection,
        "strategy": "full" if plan["build"] else "incremental",
        "target": plan["target"],
        "serving": swap.get("serving", plan["target"]),
        "files": manifest["files_loaded"],
        "files_skipped": manifest["bad_files"],
        "chunks": manifest["chunks"],
        "added": total["num_added"],
        "updated": total["num_updated"],
        "skipped": total["num_skipped"],
        "deleted": deleted,
        "embedded": total["embedded"],
        "validation": "passed" if validation.get("success") else "FAILED",
        "dropped": swap.get("dropped", []),
    }
    lines = [
        f"Reindex of '{params.collection}' ({figures['strategy']}) into '{plan['target']}'",
        f"  corpus   : {figures['files']} files ({figures['files_skipped']} skipped), {figures['chunks']} chunks",
        f"  changes  : {figures['added']} added, {figures['updated']} updated, {figures['skipped']} skipped, {deleted} deleted",
        f"  embedded : {figures['embedded']} texts",
        f"  validate : {figures['validation']} ({validation.get('rows_for_these_sources', '?')} rows, {validation.get('sources', '?')} sources)",
    ]
    if swap.get("swapped"):
        lines.append(f"  alias    : '{params.collection}' -> '{swap['serving']}' (rollback copy: '{swap.get('previous')}'; dropped {swap['dropped'] or 'none'})")
    else:
        lines.append(f"  serving  : '{figures['serving']}'")
    return ReindexSummary("\n".join(lines), figures)
