"""The ingest pipeline's steps as plain functions. The DAG calls them from its tasks; tests
call them directly. Milvus is reached through a ``MilvusHook``-like object passed in."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial

from fsspec.utils import glob_translate
from upath import UPath

from milvus_toolkit import chunk_store, fingerprints, marks, sync
from milvus_toolkit.embeddings import EmbeddingChoice, get_embeddings
from milvus_toolkit.ingest.documents import (
    GLOB_CHARS,
    BadFile,
    Corpus,
    SourceError,
    Unchanged,
    discover,
    load,
    split_glob,
)
from milvus_toolkit.ingest.params import IngestParams
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.ingest.staging import (
    RUN_RECORD,
    BatchRef,
    BatchWriter,
    IdsWriter,
    RunRecord,
    ShardRecord,
    ShardRef,
    ShardResult,
    SplitManifest,
    SplitPlan,
    make_private_folder,
    read_batch_file,
    read_json,
    read_new_ids,
    remove_run_folder,
    staged_path,
    write_json,
)
from milvus_toolkit.ingest.validation import (
    ValidationFailed,
    ValidationReport,
    gather,
    keyword_search,
    smoke_search,
    validate,
)
from milvus_toolkit.ingest.writing import RetryLog, WriteResult, peak_rss_mb, retrying, write_batch
from milvus_toolkit.rules import PermanentError, tenant_filter
from milvus_toolkit.sync import Scope, stamp

log = logging.getLogger(__name__)


PLANNED_DELETES = "planned_deletes.json"
SMOKE_QUERY = "smoke_query.json"  # written by the write task that embedded the smoke chunk


class CorpusError(PermanentError, ValueError):
    """The corpus cannot be ingested as asked (nothing to index, or a bad file with
    ``on_bad_file=fail``). Raised before anything is written to Milvus."""


def collection_spec(params: IngestParams, dim: int, name: str | None = None):
    from milvus_toolkit.chunk_store import CollectionSpec

    return CollectionSpec(
        name=name or params.collection,
        dim=dim,
        description="milvus-toolkit chunks",
        hybrid=params.hybrid,
        tenant=params.tenant,
    )


def embedding_for(params: IngestParams) -> EmbeddingChoice:
    return get_embeddings(params.embedding, dim=params.embedding_dim, concurrency=params.concurrency)


def list_corpus(params: IngestParams, hook, collection: str):
    """The run's files, named relative to a stable root: ``source_root`` if given, else the
    root recorded on the collection when it holds this run's source, else the source folder.
    A run whose names would not match the recorded root is refused: the same file under two
    names would get two sets of rows."""
    key = marks.source_root_key(params.tenant)
    recorded = hook.collection_properties(collection).get(key) if hook.has_collection(collection) else None
    root = params.source_root or (recorded if recorded and _inside(params.source, recorded) else None)
    corpus = discover(params.source, root=root, conn_id=params.source_conn_id)
    if recorded and normal_root(corpus.root) != recorded:
        raise CorpusError(
            f"param 'source_root': collection '{collection}' names its sources relative to {recorded!r}, "
            f"but this run would name them relative to {normal_root(corpus.root)!r} (the same file would get a "
            f"second set of rows). Pass source_root={recorded!r} with a source inside it, or write into "
            f"another collection."
        )
    return corpus


def normal_root(path) -> str:
    text = str(path)
    return text.rstrip("/") if "://" in text else os.path.abspath(text)


def _inside(source: str, root: str) -> bool:
    source = normal_root(source)
    return source == root or source.startswith(root.rstrip("/") + "/")


def check_inputs(params: IngestParams, hook, collection: str | None = None, *, rewrites_all: bool = False) -> dict:
    """Everything that can be checked before reading the corpus: the source can be listed
    completely, the embedding can be built, Milvus answers, and an existing collection has
    the embedding's dimension and model. Writes nothing."""
    name = collection or params.collection
    embedding = embedding_for(params)
    health = hook.health_check()
    existing = hook.has_collection(name)
    if not existing and name == params.collection and (legacy := marks.legacy_copies(hook, name)):
        raise CorpusError(
            f"param 'collection': '{name}' is being moved behind an alias: its data is in '{legacy[-1]}' and the alias "
            f"does not exist yet (a reindex stopped between the two steps). Nothing was written; run milvus_reindex on "
            f"'{name}' again to finish the move, then ingest."
        )
    corpus = list_corpus(params, hook, params.collection)  # names follow the serving collection's root
    if not corpus.files:
        raise CorpusError(f"param 'source': {params.source!r} holds no files")
    spec = collection_spec(params, embedding.dim, name)
    if spec.features:  # hybrid / tenant on a server without them: refused before anything is read
        hook.require(*spec.features, action=f"ingest into '{name}'")
    if params.evaluation:  # a bad evaluation set is refused (file and line) before anything is written
        from milvus_toolkit.evaluation import load_evaluation_set

        load_evaluation_set(params.evaluation, params.source_conn_id)
    if existing:
        chunk_store.check_collection(hook, spec)
        marks.check_embedding(hook, name, marks.embedding_identity(embedding), rewrites_all=rewrites_all)
    log.info(
        "Source %s: %d files (names relative to %s). Embedding %s (%d dims). Milvus %s at %s; collection '%s' %s.",
        params.source,
        len(corpus.files),
        corpus.root,
        embedding.model,
        embedding.dim,
        health["server_version"],
        health["uri"],
        name,
        "exists (dimension and model checked)" if existing else "will be created",
    )
    return {"files": len(corpus.files), "dim": embedding.dim, "model": embedding.model, "collection_existed": existing}


def split_corpus(
    params: IngestParams, hook, run_folder, *, deletes_unlisted: bool = False, run_started: float | None = None
) -> SplitManifest:
    """List, then load and split every shard, then merge: the DAGs run the same three steps as
    tasks (``split_shard`` mapped over the shards); this runs them in one process. Raises
    ``CorpusError`` (before any write) on an empty corpus, or on the first bad file when
    ``on_bad_file=fail``.

    ``deletes_unlisted`` (reindex): a complete listing of a folder also answers for the
    sources under it that are no longer there. ``run_started``: the run's start on one clock
    for every worker (the DAGs pass the scheduler's); the rows this run writes carry it, and
    it decides which rows the run may delete. Without it (a plain library call) this
    process's clock is used."""
    try:
        plan = list_sources(params, hook, run_folder, deletes_unlisted=deletes_unlisted, run_started=run_started)
        return merge_shards(params, plan, [split_shard(params, plan, shard) for shard in plan.shards])
    except BaseException:
        remove_run_folder(run_folder)  # staged chunk text never outlives a failed split
        raise


def list_sources(
    params: IngestParams, hook, run_folder, *, deletes_unlisted: bool = False, run_started: float | None = None
) -> SplitPlan:
    """List the corpus, read once what the collection holds per source (one streamed read, one
    entry per source), and stage the sources in shards of ``files_per_shard``: each shard is
    loaded and split by its own task, which reads only its own part."""
    started, listing_started = time.perf_counter(), time.time()
    run_stamp = sync.checked_run_stamp(run_started)
    corpus = list_corpus(params, hook, params.collection)
    known = recorded_fingerprints(params, hook) if diffs_existing(params) else None
    make_private_folder(run_folder)
    census_path = (
        None
        if known is None
        else write_json(run_folder / "census.json", {source: entry.rows for source, entry in known.items()})
    )
    skips = known is not None and skips_unchanged(params)
    shards: list[ShardRef] = []
    # Sorted by source name, so a name two files share (in NFC) stays inside one shard.
    names = [corpus.relative(path) for path in corpus.files]
    start = 0
    while start < len(corpus.files):
        end = min(start + params.files_per_shard, len(corpus.files))
        while end < len(corpus.files) and names[end] == names[end - 1]:
            end += 1
        files, sources = corpus.files[start:end], names[start:end]
        staged = {
            "corpus": corpus.shard(files),
            "known": {s: known[s].to_json() for s in sources if s in known} if skips else None,
        }
        index = len(shards)
        path = write_json(run_folder / f"shard-{index:05d}.json", staged)
        shards.append(ShardRef(index, path, len(files), sources[0], sources[-1]))
        start = end
    prefix, pattern = _listing(params.source, corpus)
    plan = SplitPlan(
        run_folder=str(run_folder),
        run_stamp=run_stamp,
        source_root=normal_root(corpus.root),
        files_seen=len(corpus.files),
        shards=shards,
        listed_prefix=prefix,
        listed_pattern=pattern,
        deletes_unlisted=deletes_unlisted,
        census_path=census_path,
        split_identity=fingerprints.split_identity(
            params.splitter,
            params.chunk_size,
            params.chunk_overlap,
            marks.embedding_identity(embedding_for(params)),
            params.tenant,
        ),
        started=listing_started,
    )
    log.info(
        "Listed %d files in %d shard(s) of up to %d files%s in %.1f s",
        len(corpus.files),
        len(shards),
        params.files_per_shard,
        "" if known is None else f"; the collection holds {len(known)} sources",
        time.perf_counter() - started,
    )
    return plan


def split_shard(params: IngestParams, plan: SplitPlan, shard: ShardRef) -> ShardResult:
    """Load and split one shard's sources, stage their chunks in batches and their ids in parts:
    this task holds one file and one batch at a time. Raises ``CorpusError`` on the first bad
    file when ``on_bad_file=fail`` (before any write)."""
    started = time.perf_counter()
    staged = read_json(shard.path)
    corpus = Corpus.from_shard(staged["corpus"], params.source_conn_id)
    known = {
        source: fingerprints.Recorded(fingerprints.MIXED if fp == fingerprints.MIXED_TEXT else fp, rows)
        for source, (fp, rows) in (staged["known"] or {}).items()
    }
    skips = staged["known"] is not None
    decide = (
        (lambda source, facts: fingerprints.decide(known.get(source), plan.split_identity, facts)) if skips else None
    )
    settings = SplitSettings(params.splitter, params.chunk_size, params.chunk_overlap, tenant=params.tenant)
    folder, prefix = staged_path(plan.run_folder), f"s{shard.index:05d}-"
    writer, new_ids = BatchWriter(folder, params.batch_size, prefix), IdsWriter(folder, params.batch_size, prefix)
    record = ShardRecord()
    why_read: Counter[str] = Counter()
    verified = 0
    for item in load(
        corpus, max_file_bytes=params.max_file_mb * 1024 * 1024, decide=decide, verify_content=params.verify_content
    ):
        if isinstance(item, Unchanged):
            record.unchanged[item.source] = item.chunks
            verified += item.verified
            continue
        if isinstance(item, BadFile):
            if params.on_bad_file == "fail":
                raise CorpusError(f"bad file {item.source!r} in {params.source!r}: {item.reason} (on_bad_file=fail)")
            log.warning("Skipping %s (its rows in Milvus, if any, are kept): %s", item.source, item.reason)
            record.bad_files.append({"source": item.source, "reason": item.reason})
            continue
        if item.why_read:
            why_read[item.why_read] += 1
        record.loaded.append(item.source)  # a loaded source, even one that splits into nothing
        chunks = split_document(item, settings)
        fingerprint = fingerprints.Fingerprint(plan.split_identity, item.facts, item.doc_hash, len(chunks)).text()
        for chunk in chunks:
            chunk.metadata[fingerprints.FINGERPRINT] = fingerprint
            if record.smoke_chunk is None:
                record.smoke_chunk = {"id": chunk.id, "text": chunk.page_content}
            writer.add(stamp(chunk, plan.run_stamp))
        new_ids.add(item.source, [chunk.id for chunk in chunks])
        if len(record.loaded) % 100 == 0:
            log.info("%s: split %d files, %d chunks so far", shard.label, len(record.loaded), writer.total)
    writer.flush()
    new_ids.flush()
    record.counts = dict(writer.counts)
    result = ShardResult(
        index=shard.index,
        batches=writer.batches,
        new_ids_parts=new_ids.parts,
        record_path=record.write(folder / f"shard-{shard.index:05d}-record.json"),
        files_loaded=len(record.loaded),
        chunks=writer.total,
        files_verified=verified,
        why_read=dict(why_read),
        seconds=round(time.perf_counter() - started, 3),
    )
    log.info(
        "%s: split %d files into %d chunks in %d batches (%d skipped, %d unchanged and not read) in %.1f s, "
        "peak RSS %.0f MB",
        shard.label,
        result.files_loaded,
        result.chunks,
        len(result.batches),
        len(record.bad_files),
        len(record.unchanged),
        result.seconds,
        peak_rss_mb(),
    )
    return result


def merge_shards(params: IngestParams, plan: SplitPlan, results: list[ShardResult]) -> SplitManifest:
    """Fold the shards' results into the run's manifest and record (one entry per source): the
    batches numbered across shards, the scope the deletes and validation answer for."""
    results = sorted((ShardResult.of(r) for r in results), key=lambda r: r.index)
    folder = staged_path(plan.run_folder)
    batches: list[BatchRef] = []
    loaded: list[str] = []
    counts: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    bad: list[dict] = []
    smoke = None
    why_read: Counter[str] = Counter()
    for result in results:
        record = ShardRecord.read(result.record_path)
        loaded += record.loaded
        counts.update(record.counts)
        unchanged.update(record.unchanged)
        bad += record.bad_files
        smoke = smoke or record.smoke_chunk  # the first chunk of the run: in its first batch
        why_read.update(result.why_read)
        batches += [replace(batch, index=len(batches) + i) for i, batch in enumerate(result.batches)]
    chunks = sum(counts.values())
    if chunks == 0 and not unchanged:
        reasons = "; ".join(f"{b['source']}: {b['reason']}" for b in bad[:10]) or "no files"
        raise CorpusError(f"param 'source': {params.source!r} yields no text to index ({reasons})")
    if not batches:  # every source unchanged: one empty batch keeps the fan-out (and what follows it) running
        empty = BatchWriter(folder, params.batch_size, "empty-")
        empty.flush(empty=True)
        batches = empty.batches
    scope = Scope(
        loaded=sorted(loaded),
        failed=sorted(b["source"] for b in bad),
        unchanged=sorted(unchanged),
        listed_prefix=plan.listed_prefix,
        listed_pattern=plan.listed_pattern,
        deletes_unlisted=plan.deletes_unlisted,
        tenant=params.tenant,
    )
    seconds = round(time.time() - plan.started, 3) if plan.started else sum(r.seconds for r in results)
    verified = sum(r.files_verified for r in results)
    manifest = SplitManifest(
        run_folder=plan.run_folder,
        batches=batches,
        files_seen=plan.files_seen,
        files_loaded=len(loaded),
        bad_files=len(bad),
        chunks=chunks,
        files_unchanged=len(unchanged),
        chunks_unchanged=sum(unchanged.values()),
        files_verified=verified,
        why_read=dict(why_read),
        # Sources kept unchanged are expected to hold the rows their fingerprint records (the
        # collection had exactly that many when this run decided): validation checks them too.
        record_path=RunRecord(
            expected_counts={**unchanged, **counts},
            bad_files=bad,
            smoke_chunk=smoke,
            census=read_json(plan.census_path) if plan.census_path else None,
        ).write(folder),
        seconds=seconds,
        run_stamp=plan.run_stamp,
        source_root=plan.source_root,
        scope=scope,
        new_ids_parts=[part for result in results for part in result.new_ids_parts],
    )
    log.info(
        "Split %d files into %d chunks in %d batches over %d shard(s) (%d files skipped, %d unchanged and not "
        "read%s)%s",
        len(loaded),
        chunks,
        len(batches),
        len(results),
        len(bad),
        len(unchanged),
        f", {verified} of them read and hashed (verify_content)" if verified else "",
        "".join(f"\n  read: {count} {reason}" for reason, count in why_read.most_common()),
    )
    return manifest


def diffs_existing(params: IngestParams) -> bool:
    """Whether the run changes the collection it names, and so reads what it holds: every
    ingest, an incremental reindex (a full one writes a new build)."""
    return getattr(params, "strategy", "incremental") == "incremental"


def skips_unchanged(params: IngestParams) -> bool:
    """Whether this run may skip sources whose fingerprint says they did not change: not a
    full rebuild (it starts empty), not ``force_reembed``, not ingest's ``upsert`` (both rewrite
    every chunk on purpose)."""
    strategy = getattr(params, "strategy", None)
    if strategy is not None:  # a reindex
        return strategy == "incremental" and not getattr(params, "force_reembed", False)
    return params.mode == "add"


def recorded_fingerprints(params: IngestParams, hook) -> dict[str, fingerprints.Recorded]:
    """The fingerprint of each source as the collection records it (Strong reads, this run's
    tenant only): one small entry per source. Empty when the collection does not exist."""
    name = hook.describe_alias(params.collection) or params.collection  # Milvus Lite: has_collection(alias) is False
    if not hook.has_collection(name):
        return {}
    return chunk_store.source_fingerprints(hook, name, filter=tenant_filter(params.tenant))


def _listing(source: str, corpus) -> tuple[str | None, str | None]:
    """What a listing covers completely: the folder (relative to the root) and, for a glob,
    the pattern of names within it (fsspec's regex of the glob, as the listing used);
    ``(None, None)`` for a single file, whose listing says nothing about other files."""
    if any(c in source for c in GLOB_CHARS):
        folder, pattern = split_glob(source)
        return _relative_folder(corpus, folder), glob_translate(pattern)
    if corpus.single_file:
        return None, None
    return _relative_folder(corpus, source), None


def _relative_folder(corpus, folder: str) -> str:
    relative = corpus.relative(UPath(folder))
    return "" if relative in (".", "") else relative


def plan_deletes(params: IngestParams, hook, manifest: SplitManifest, collection: str | None = None) -> int:
    """Before any write: what this run will delete (within ``max_delete_percent``), kept in
    the run's staging folder (it can be many ids: not for XCom). Returns how many."""
    record = manifest.record()
    planned = sync.plan_deletes(
        hook,
        collection or params.collection,
        read_new_ids(manifest.new_ids_parts),
        manifest.scope,
        manifest.run_stamp,
        params.max_delete_percent,
        census=record.census,
    )
    write_json(staged_path(manifest.run_folder) / PLANNED_DELETES, planned.ids)
    record.unlisted = planned.unlisted
    record.write(manifest.run_folder)
    return len(planned.ids)


def delete_obsolete(params: IngestParams, hook, manifest: SplitManifest, collection: str | None = None) -> int:
    """After every batch was written: delete the planned rows that are still obsolete."""
    planned = read_json(staged_path(manifest.run_folder) / PLANNED_DELETES)
    return sync.delete_planned(
        hook,
        collection or params.collection,
        planned,
        read_new_ids(manifest.new_ids_parts),
        manifest.scope,
        manifest.run_stamp,
    )


def prepare(
    params: IngestParams,
    hook,
    manifest: SplitManifest,
    collection: str | None = None,
    *,
    marks_to_set: dict | None = None,
) -> list[dict]:
    """Everything between the split and the fan-out: plan the deletes (the budget stops the
    run here, before any write), then create or check the collection. Returns the batches."""
    plan_deletes(params, hook, manifest, collection)
    ensure_collection(params, hook, manifest, collection, marks_to_set=marks_to_set)
    return [batch.to_xcom() for batch in manifest.batches]


def ensure_collection(
    params: IngestParams,
    hook,
    manifest: SplitManifest,
    collection: str | None = None,
    *,
    marks_to_set: dict | None = None,
) -> bool:
    """Create the collection (explicit schema) unless it exists, check it if it does, and
    record what made its rows: the embedding model and the source root."""
    embedding = embedding_for(params)
    spec = collection_spec(params, embedding.dim, collection)
    created = chunk_store.ensure_collection(hook, spec)
    recorded = hook.collection_properties(spec.name)
    wanted = {
        marks.EMBEDDING: marks.embedding_identity(embedding),
        marks.source_root_key(params.tenant): manifest.source_root,
        **(marks_to_set or {}),
    }
    missing = {key: value for key, value in wanted.items() if key not in recorded}
    if missing:
        hook.set_collection_properties(spec.name, missing)
    return created


async def write_staged_batch(
    params: IngestParams, hook, batch: BatchRef, collection: str | None = None, *, mode: str | None = None
) -> dict:
    """Embed and write one staged batch, ``params.concurrency`` calls in flight.

    ``upsert`` embeds and rewrites every chunk; ``add`` embeds only the chunks the collection
    lacks, and rewrites chunks whose metadata changed with their stored vectors."""
    mode = mode or params.mode
    chunks = read_batch_file(batch.path)
    if not chunks:  # every source was unchanged: nothing to embed, write or even ask Milvus
        log.info("%s: nothing to write (every source unchanged)", batch.label)
        zero = ("chunks", "new", "rewritten", "written", "refreshed", "unchanged", "calls", "retries")
        return {"batch": batch.index, **dict.fromkeys(zero, 0), "seconds": 0.0, "peak_rss_mb": peak_rss_mb()}
    embedding = embedding_for(params)
    spec = collection_spec(params, embedding.dim, collection)
    # Reading what the collection holds and opening the store talk to Milvus too: retry
    # them like the writes, so a server restart between two batches heals inside the task.
    reopened = RetryLog(f"{batch.label}: reading the collection")
    result = WriteResult(batch.index, 0, 0, 0, 0, 0, 0.0, peak_rss_mb())
    async for attempt in retrying(reopened):
        with attempt:
            marked = {
                c.id: c.metadata[fingerprints.FINGERPRINT] for c in chunks if fingerprints.FINGERPRINT in c.metadata
            }
            stored = await asyncio.to_thread(chunk_store.stored_meta_hashes, hook, spec, [c.id for c in chunks], marked)
            changes = sync.classify(chunks, stored)
            to_write, stale = (chunks, []) if mode == "upsert" else (changes.new, changes.stale_metadata)
            refreshed = await asyncio.to_thread(chunk_store.refresh_metadata, hook, spec, stale)
            if to_write:  # prepare checked the collection's layout for this run: trusted here
                async with chunk_store.open_store(hook, spec, embedding.embeddings, checked=True) as store:
                    result = await write_batch(
                        store,
                        to_write,
                        mode=mode,
                        concurrency=params.concurrency,
                        batch_index=batch.index,
                        present=partial(chunk_store.existing_ids, hook, store),
                    )
    if to_write:  # this task embedded, so its model is loaded: the smoke query costs one more text
        await remember_smoke_query(batch, to_write, embedding)
    counts = {
        "batch": batch.index,
        "chunks": len(chunks),
        "new": len(changes.new),
        "rewritten": len(to_write) - len(changes.new) if mode == "upsert" else 0,
        "written": result.written,
        "refreshed": refreshed,
        "unchanged": len(chunks) - result.written - refreshed,
        "calls": result.calls,
        "retries": result.retries + reopened.count,
        "seconds": result.seconds,
        "peak_rss_mb": result.peak_rss_mb,
    }
    log.info(
        "%s: wrote %d (embedded), refreshed metadata of %d, %d unchanged, %d calls, %d retries, %.1f s, "
        "peak RSS %.0f MB",
        batch.label,
        counts["written"],
        refreshed,
        counts["unchanged"],
        result.calls,
        counts["retries"],
        result.seconds,
        result.peak_rss_mb,
    )
    return counts


async def remember_smoke_query(batch: BatchRef, written, embedding: EmbeddingChoice) -> None:
    """In the write task that embedded the smoke chunk (its model is loaded): embed the smoke
    query too and stage its vector, so that ``validate`` need not load the model for one
    query. The vector is still the model's own for that text, made apart from the write."""
    if batch.index != 0:  # the smoke chunk is the corpus's first chunk: always in batch 0
        return
    run = staged_path(batch.path).parent  # batches are staged in the run folder, beside its record
    smoke = RunRecord.read(run / RUN_RECORD).smoke_chunk if (run / RUN_RECORD).exists() else None
    if smoke and any(c.id == smoke["id"] for c in written):
        vector = await embedding.embeddings.aembed_query(smoke["text"])
        write_json(
            run / SMOKE_QUERY, {"model": marks.embedding_identity(embedding), "text": smoke["text"], "vector": vector}
        )


def smoke_queries(manifest: SplitManifest, embedding: EmbeddingChoice) -> dict[str, list[float]]:
    """The smoke query's vector staged by a write task of this run with this model, if any."""
    path = staged_path(manifest.run_folder) / SMOKE_QUERY
    staged = read_json(path) if path.exists() else None
    return (
        {staged["text"]: staged["vector"]} if staged and staged["model"] == marks.embedding_identity(embedding) else {}
    )


def validate_collection(
    params: IngestParams,
    hook,
    manifest: SplitManifest,
    *,
    collection: str | None = None,
    strict: bool = False,
    build: bool = False,
    serving: str | None = None,
) -> ValidationReport:
    """The great-expectations suite plus the smoke search; raises ``ValidationFailed`` with
    a readable table when anything differs. Then, with ``params.evaluation``, retrieval
    quality (``check_quality``): ``build`` is a full rebuild compared with ``serving``."""
    name = collection or params.collection
    embedding = embedding_for(params)
    record = manifest.record()
    expected = record.expected_counts
    scope = manifest.scope
    failed = set(scope.failed)  # unreadable this run: their rows are kept, not checked
    spec = collection_spec(params, embedding.dim, name)
    census = record.census  # None: a new build, which holds only this run's rows
    gone = [s for s in census or () if s not in failed and s not in scope.listed and scope.is_gone(s)]
    answered = scope.read | set(gone)
    others = None if census is None else [s for s in census if s not in expected and s not in answered]
    report = validate(
        gather(
            hook,
            name,
            expected,
            dim=embedding.dim,
            kept=scope.unchanged,
            gone=gone,
            others=None if others is None else len(others),
            others_rows=None if others is None else sum(census[s] for s in others),
            filter=spec.scope_filter,
        ),
        strict=strict,
    )
    if params.tenant:
        report.facts["tenant"] = params.tenant
    if failed:
        report.facts["kept_unreadable_sources"] = len(failed)
    if scope.unchanged:
        report.facts["kept_unchanged_sources"] = len(scope.unchanged)
    smoke = record.smoke_chunk
    if smoke:
        with chunk_store.search_store(hook, spec, embedding.answering(smoke_queries(manifest, embedding))) as store:
            found, ids = smoke_search(store, smoke["id"], smoke["text"], expr=spec.scope_filter)
        report.facts["smoke_search"] = "chunk found in top 3" if found else f"chunk NOT in top 3 ({ids})"
        if not found:
            report.success = False
            report.failed.append(f"smoke search: chunk {smoke['id']} not among the top 3 results for its own text")
        if spec.hybrid:
            found, ids = keyword_search(hook, spec, smoke["id"], smoke["text"])
            report.facts["keyword_search"] = "chunk found in top 3 (BM25)" if found else f"chunk NOT in top 3 ({ids})"
            if not found:
                report.success = False
                report.failed.append(
                    f"keyword search: chunk {smoke['id']} not among the top 3 BM25 results for its own text"
                )
    log.info("Validation of '%s':\n%s", name, report.table())
    if not report.success:
        raise ValidationFailed(f"collection '{name}' does not match the split corpus:\n{report.table()}")
    if params.evaluation:  # after the counts: a collection that lost rows is refused for that first
        report.facts["quality"] = check_quality(params, hook, spec, embedding, build=build, serving=serving).summary()
    return report


def check_quality(params: IngestParams, hook, spec, embedding: EmbeddingChoice, *, build=False, serving=None):
    """Score the run's evaluation set on the collection and apply the quality gate (``evaluation.check_quality``)."""
    from milvus_toolkit import evaluation

    return evaluation.check_quality(
        hook,
        spec,
        embedding,
        evaluation.load_evaluation_set(params.evaluation, params.source_conn_id),
        k=params.evaluation_k,
        min_quality=params.min_quality,
        max_quality_drop=params.max_quality_drop,
        force=params.force_swap,
        build=build,
        serving=serving,
    )


def record_rewritten_model(params: IngestParams, hook, manifest: SplitManifest, collection: str) -> None:
    """After a validated run that re-embedded every chunk it kept (``force_reembed``), the
    collection's vectors are the new model's: record it. Not while a source that could not be
    read still holds vectors of the old model (that would mix two models silently)."""
    identity = marks.embedding_identity(embedding_for(params))
    failed = manifest.scope.failed
    if failed and hook.collection_properties(collection).get(marks.EMBEDDING) != identity:
        raise ValidationFailed(
            f"{len(failed)} source(s) could not be read this run and still hold vectors of the previous model "
            f"in '{collection}' ({', '.join(failed[:10])}); the new model was not recorded. Fix those files and "
            f"run again."
        )
    marks.record_embedding(hook, collection, identity)


@dataclass
class Summary:
    """What a run did (ingest's ``summarize`` and reindex's): ``text`` for people, ``figures``
    (small, JSON-safe) for the Asset event."""

    text: str
    figures: dict


def summarize(
    params: IngestParams,
    manifest: SplitManifest,
    results: list[dict],
    deleted: int,
    validation: dict,
    total_seconds: float,
) -> Summary:
    """A summary a person reads at a glance, and its figures (small, JSON-safe)."""
    record = manifest.record()
    bad = record.bad_files
    written = sum(r["written"] for r in results)
    skipped = sum(r["unchanged"] for r in results) + manifest.chunks_unchanged  # not embedded or written again
    refreshed = sum(r["refreshed"] for r in results)
    write_seconds = max((r["seconds"] for r in results), default=0.0)
    sum_write_seconds = sum(r["seconds"] for r in results)
    figures = {
        "collection": params.collection,
        "tenant": params.tenant,
        "hybrid": params.hybrid,
        "mode": params.mode,
        "files_seen": manifest.files_seen,
        "files_indexed": manifest.files_loaded,
        "files_skipped": len(bad),
        "files_unchanged": manifest.files_unchanged,
        "files_verified": manifest.files_verified,
        "chunks": manifest.chunks,
        "batches": len(results),
        "rows_written": written,
        "rows_already_present": skipped,
        "rows_metadata_refreshed": refreshed,
        "rows_deleted": deleted,
        "retries": sum(r["retries"] for r in results),
        "split_seconds": manifest.seconds,
        "split_chunks_per_s": round(manifest.chunks / max(manifest.seconds, 1e-9), 1),
        "write_chunks_per_s_per_task": round(sum(r["chunks"] for r in results) / max(sum_write_seconds, 1e-9), 1),
        "slowest_batch_seconds": write_seconds,
        "peak_rss_mb_per_task": max((r["peak_rss_mb"] for r in results), default=0.0),
        "total_seconds": round(total_seconds, 1),
        "validation": "passed" if validation.get("success") else "FAILED",
    }
    lines = [
        f"Ingest into '{params.collection}'{f' tenant {params.tenant!r}' if params.tenant else ''} ({params.mode}, "
        f"{params.embedding} embeddings{', hybrid BM25' if params.hybrid else ''}, {params.splitter} splitter)",
        f"  files    : {figures['files_seen']} seen, {figures['files_indexed']} indexed, "
        f"{figures['files_skipped']} skipped",
    ]
    lines += [f"             skipped {b['source']} (its rows are kept): {b['reason']}" for b in bad[:20]]
    if len(bad) > 20:
        lines.append(f"             ... and {len(bad) - 20} more (see {manifest.record_path})")
    lines += unchanged_lines(manifest)
    unlisted = record.unlisted
    figures["sources_no_longer_listed"] = len(unlisted)
    if unlisted:
        lines.append(
            f"  unlisted : {len(unlisted)} source(s) in the collection are no longer listed (renamed or deleted?) "
            f"and keep their rows: {', '.join(unlisted[:10])}{' ...' if len(unlisted) > 10 else ''}; "
            f"ingest never deletes; milvus_reindex on this source does"
        )
    lines += [
        f"  chunks   : {figures['chunks']} in {figures['batches']} batches",
        f"  rows     : {written} written, {skipped} already present, {refreshed} metadata refreshed, "
        f"{deleted} obsolete deleted, {figures['retries']} retried calls",
        f"  split    : {figures['split_seconds']:.1f} s ({figures['split_chunks_per_s']:.0f} chunks/s)",
        f"  write    : {figures['write_chunks_per_s_per_task']:.0f} chunks/s per task (embed + write), "
        f"slowest batch {write_seconds:.1f} s",
        f"  memory   : peak {figures['peak_rss_mb_per_task']:.0f} MB per write task",
        f"  validate : {figures['validation']} ({validation.get('rows_for_these_sources', '?')} rows for "
        f"{validation.get('sources', '?')} sources; {validation.get('smoke_search', 'no smoke search')})",
        f"  total    : {figures['total_seconds']:.1f} s",
    ]
    if validation.get("quality"):
        lines.insert(-1, quality_line(validation["quality"]))
        figures.update(quality_figures(validation["quality"]))
    return Summary("\n".join(lines), figures)


def unchanged_lines(manifest: SplitManifest) -> list[str]:
    """How many sources were kept unchanged (not read, or read and hashed only), and why the others were read."""
    if not (manifest.files_unchanged or manifest.why_read):
        return []
    verified = f" ({manifest.files_verified} read and hashed: verify_content)" if manifest.files_verified else ""
    lines = [
        f"  unchanged: {manifest.files_unchanged} source(s) ({manifest.chunks_unchanged} rows) kept as they are, "
        f"not split{verified}"
    ]
    lines += [
        f"             read {count}: {reason}"
        for reason, count in sorted(manifest.why_read.items(), key=lambda item: -item[1])
    ]
    return lines


def quality_line(quality: dict) -> str:
    """The report's quality line: every mode's totals, the gate and whether force_swap overrode it."""
    gate = quality.get("gate") or {}
    k = quality.get("k")
    modes: dict[str, list[str]] = {}
    for key, value in (quality.get("scores") or {}).items():
        mode, metric = key.split("_", 1)
        modes.setdefault(mode, []).append(f"{metric.removesuffix(f'_at_{k}')} {value:.3f}")
    scores = "; ".join(f"{mode}: {', '.join(values)}" for mode, values in modes.items())
    verdict = "OVERRIDDEN by force_swap" if gate.get("forced") else "passed" if gate.get("passed") else "FAILED"
    baseline = f", baseline {gate['baseline']:.3f} from {gate.get('baseline_from')}" if "baseline" in gate else ""
    worse = f"; worse: {', '.join(gate['worse'][:10])}" if gate.get("worse") else ""
    return (
        f"  quality  : {quality.get('queries')} queries at k={k} (set {quality.get('set')}): {scores}\n"
        f"             gate {gate.get('metric')} {gate.get('score', 0):.3f}{baseline}: {verdict}{worse}"
    )


def quality_figures(quality: dict) -> dict:
    """Flat figures for the Asset event (``quality.<mode>_<metric>_at_<k>``, as the Milvus view reads them)."""
    gate = quality.get("gate") or {}
    figures = {f"quality.{key}": value for key, value in (quality.get("scores") or {}).items()}
    figures.update(
        {
            "quality_set": quality.get("set"),
            "quality_gate": "forced" if gate.get("forced") else "passed" if gate.get("passed") else "failed",
        }
    )
    if "baseline" in gate:
        figures["quality_baseline"] = gate["baseline"]
    return figures


__all__ = [
    "CorpusError",
    "SourceError",
    "ValidationFailed",
    "check_inputs",
    "split_corpus",
    "ensure_collection",
    "plan_deletes",
    "write_staged_batch",
    "delete_obsolete",
    "validate_collection",
    "summarize",
]
