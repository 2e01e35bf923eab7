"""The ingest pipeline's steps as plain functions. The DAG calls them from its tasks; tests
call them directly. Milvus is reached through a ``MilvusHook``-like object passed in."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from milvus_toolkit.embeddings import EmbeddingChoice, get_embeddings
from milvus_toolkit.ingest.documents import BadFile, LoadedDocument, SourceError, discover, load
from milvus_toolkit.ingest.params import IngestParams
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.ingest.staging import BatchWriter, SplitManifest, read_batch_file, read_json, write_json
from milvus_toolkit.ingest.validation import ValidationFailed, ValidationReport, gather, smoke_search, validate
from milvus_toolkit.ingest.writing import RetryLog, WriteResult, retrying, write_batch

log = logging.getLogger(__name__)


class CorpusError(ValueError):
    """The corpus cannot be ingested as asked (nothing to index, or a bad file with
    ``on_bad_file=fail``). Raised before anything is written to Milvus."""


def collection_spec(params: IngestParams, dim: int, name: str | None = None):
    from milvus_provider.config import CollectionSpec

    return CollectionSpec(name=name or params.collection, dim=dim, description="milvus-toolkit chunks")


def embedding_for(params: IngestParams) -> EmbeddingChoice:
    return get_embeddings(params.embedding, dim=params.embedding_dim)


def check_inputs(params: IngestParams, hook, collection: str | None = None) -> dict:
    """Everything that can be checked before reading the corpus: the source exists, the
    embedding can be built, Milvus answers, and an existing collection has the embedding's
    dimension. Writes nothing."""
    corpus = discover(params.source)
    if not corpus.files:
        raise CorpusError(f"param 'source': {params.source!r} holds no files")
    embedding = embedding_for(params)
    health = hook.health_check()
    name = collection or params.collection
    existing = hook.has_collection(name)
    if existing:
        hook.check_collection(collection_spec(params, embedding.dim, name))
    log.info(
        "Source %s: %d files. Embedding %s (%d dims). Milvus %s at %s; collection '%s' %s.",
        params.source, len(corpus.files), embedding.model, embedding.dim, health["server_version"],
        health["uri"], name, "exists (dimension checked)" if existing else "will be created",
    )
    return {"files": len(corpus.files), "dim": embedding.dim, "model": embedding.model, "collection_existed": existing}


def split_corpus(params: IngestParams, run_folder) -> SplitManifest:
    """Read, split and stage the corpus in batches. Raises ``CorpusError`` (before any write)
    on an empty corpus, or on the first bad file when ``on_bad_file=fail``."""
    started = time.perf_counter()
    corpus = discover(params.source)
    settings = SplitSettings(params.splitter, params.chunk_size, params.chunk_overlap)
    writer = BatchWriter(run_folder, params.batch_size)
    bad: list[BadFile] = []
    loaded = 0
    smoke = None

    def good_documents() -> Iterator[LoadedDocument]:
        nonlocal loaded
        for item in load(corpus):
            if isinstance(item, BadFile):
                if params.on_bad_file == "fail":
                    raise CorpusError(f"bad file {item.source!r} in {params.source!r}: {item.reason} (on_bad_file=fail)")
                log.warning("Skipping %s: %s", item.source, item.reason)
                bad.append(item)
                continue
            loaded += 1
            yield item

    for doc in good_documents():
        for chunk in split_document(doc, settings):
            if smoke is None:
                smoke = {"id": chunk.id, "text": chunk.page_content}
            writer.add(chunk)
        if loaded % 100 == 0:
            log.info("split %d of %d files, %d chunks so far", loaded, len(corpus.files), writer.total)
    writer.flush()

    if writer.total == 0:
        reasons = "; ".join(f"{b.source}: {b.reason}" for b in bad[:10]) or "no files"
        raise CorpusError(f"param 'source': {params.source!r} yields no text to index ({reasons})")
    manifest = SplitManifest(
        run_folder=str(run_folder),
        batches=[{"index": b.index, "path": b.path, "chunks": b.chunks, "label": b.label} for b in writer.batches],
        files_seen=len(corpus.files),
        files_loaded=loaded,
        bad_files=len(bad),
        chunks=writer.total,
        expected_counts_path=write_json(run_folder / "expected_counts.json", dict(writer.counts)),
        bad_files_path=write_json(run_folder / "bad_files.json", [{"source": b.source, "reason": b.reason} for b in bad]),
        smoke_chunk_path=write_json(run_folder / "smoke_chunk.json", smoke),
        seconds=round(time.perf_counter() - started, 3),
    )
    log.info(
        "Split %d files into %d chunks in %d batches (%d files skipped) in %.1f s",
        loaded, writer.total, len(writer.batches), len(bad), manifest.seconds,
    )
    return manifest


def ensure_collection(params: IngestParams, hook, collection: str | None = None) -> bool:
    """Create the collection (explicit schema) unless it exists; check it if it does."""
    return hook.ensure_collection(collection_spec(params, embedding_for(params).dim, collection))


async def write_staged_batch(params: IngestParams, hook, batch: dict, collection: str | None = None) -> WriteResult:
    """Embed and write one staged batch, ``params.concurrency`` calls in flight."""
    chunks = read_batch_file(batch["path"])
    embedding = embedding_for(params)
    spec = collection_spec(params, embedding.dim, collection)
    # Opening the store talks to Milvus too (check + load): retry it like the writes, so a
    # server restart between two batches heals inside the task.
    reopened = RetryLog(f"{batch['label']}: opening the collection")
    async for attempt in retrying(reopened):
        with attempt:
            async with hook.avector_store(spec, embedding.embeddings) as store:
                result = await write_batch(
                    store, chunks, mode=params.mode, concurrency=params.concurrency, batch_index=batch["index"]
                )
    result.retries += reopened.count
    log.info(
        "%s: wrote %d, skipped %d already present, %d calls, %d retries, %.1f s (%.0f chunks/s), peak RSS %.0f MB",
        batch["label"], result.written, result.skipped_existing, result.calls, result.retries,
        result.seconds, result.chunks / max(result.seconds, 1e-9), result.peak_rss_mb,
    )
    return result


def validate_collection(
    params: IngestParams, hook, manifest: dict, *, collection: str | None = None, strict: bool = False
) -> ValidationReport:
    """The great-expectations suite plus the smoke search; raises ``ValidationFailed`` with
    a readable table when anything differs."""
    name = collection or params.collection
    embedding = embedding_for(params)
    expected = read_json(manifest["expected_counts_path"])
    report = validate(gather(hook, name, expected, dim=embedding.dim), strict=strict)
    smoke = read_json(manifest["smoke_chunk_path"]) if manifest.get("smoke_chunk_path") else None
    if smoke:
        store = hook.get_vector_store(collection_spec(params, embedding.dim, name), embedding.embeddings)
        found, ids = smoke_search(store, smoke["id"], smoke["text"])
        store.client.close()
        report.facts["smoke_search"] = "chunk found in top 3" if found else f"chunk NOT in top 3 ({ids})"
        if not found:
            report.success = False
            report.failed.append(f"smoke search: chunk {smoke['id']} not among the top 3 results for its own text")
    log.info("Validation of '%s':\n%s", name, report.table())
    if not report.success:
        raise ValidationFailed(f"collection '{name}' does not match the split corpus:\n{report.table()}")
    return report


@dataclass
class Summary:
    text: str
    figures: dict


def summarize(params: IngestParams, manifest: dict, results: list[dict], validation: dict, total_seconds: float) -> Summary:
    """A summary a person reads at a glance, and its figures (small, JSON-safe)."""
    bad = read_json(manifest["bad_files_path"]) if manifest.get("bad_files_path") else []
    written = sum(r["written"] for r in results)
    skipped = sum(r["skipped_existing"] for r in results)
    write_seconds = max((r["seconds"] for r in results), default=0.0)
    sum_write_seconds = sum(r["seconds"] for r in results)
    figures = {
        "collection": params.collection,
        "mode": params.mode,
        "files_seen": manifest["files_seen"],
        "files_indexed": manifest["files_loaded"],
        "files_skipped": len(bad),
        "chunks": manifest["chunks"],
        "batches": len(results),
        "rows_written": written,
        "rows_already_present": skipped,
        "retries": sum(r["retries"] for r in results),
        "split_seconds": manifest["seconds"],
        "split_chunks_per_s": round(manifest["chunks"] / max(manifest["seconds"], 1e-9), 1),
        "write_chunks_per_s_per_task": round(sum(r["chunks"] for r in results) / max(sum_write_seconds, 1e-9), 1),
        "slowest_batch_seconds": write_seconds,
        "peak_rss_mb_per_task": max((r["peak_rss_mb"] for r in results), default=0.0),
        "total_seconds": round(total_seconds, 1),
        "validation": "passed" if validation.get("success") else "FAILED",
    }
    lines = [
        f"Ingest into '{params.collection}' ({params.mode}, {params.embedding} embeddings, {params.splitter} splitter)",
        f"  files    : {figures['files_seen']} seen, {figures['files_indexed']} indexed, {figures['files_skipped']} skipped",
    ]
    lines += [f"             skipped {b['source']}: {b['reason']}" for b in bad[:20]]
    if len(bad) > 20:
        lines.append(f"             ... and {len(bad) - 20} more (see {manifest['bad_files_path']})")
    lines += [
        f"  chunks   : {figures['chunks']} in {figures['batches']} batches",
        f"  rows     : {written} written, {skipped} already present, {figures['retries']} retried calls",
        f"  split    : {figures['split_seconds']:.1f} s ({figures['split_chunks_per_s']:.0f} chunks/s)",
        f"  write    : {figures['write_chunks_per_s_per_task']:.0f} chunks/s per task (embed + write), slowest batch {write_seconds:.1f} s",
        f"  memory   : peak {figures['peak_rss_mb_per_task']:.0f} MB per write task",
        f"  validate : {figures['validation']} ({validation.get('rows_for_these_sources', '?')} rows for "
        f"{validation.get('sources', '?')} sources; {validation.get('smoke_search', 'no smoke search')})",
        f"  total    : {figures['total_seconds']:.1f} s",
    ]
    return Summary("\n".join(lines), figures)


__all__ = [
    "CorpusError", "SourceError", "ValidationFailed", "check_inputs", "split_corpus", "ensure_collection",
    "write_staged_batch", "validate_collection", "summarize",
]
