"""(a) The ceiling: the DAG's read + split + stamp (the toolkit's own functions, see
``workload``), the DAG's embedding (``deterministic``), then plain ``MilvusClient.insert`` in
batches of ``--insert-batch`` into a collection made by ``chunk_store.ensure_collection`` with
the DAG's ``CollectionSpec`` (the same rows langchain-milvus writes). One process, no Airflow,
no vector store; the insert calls alone give the Milvus-only insert rate.
(a2) The same work with ``AsyncMilvusClient.insert``, several batches in flight (a reference,
not a target)."""

from __future__ import annotations

import asyncio
import time

from milvus_toolkit import chunk_store
from milvus_toolkit.ingest.writing import peak_rss_mb
from milvus_toolkit_dev.bench.meter import load_average
from milvus_toolkit_dev.bench.workload import collection_spec, embeddings, ingest_params, iter_chunks, row_of, warm_up


def run_ceiling(hook, source: str, name: str, dim: int, insert_batch: int) -> dict:
    params = ingest_params(source, name, dim)
    spec = collection_spec(params)
    t = time.perf_counter()
    chunk_store.ensure_collection(hook, spec)
    client = hook.get_conn()
    warm_up(client, spec)
    setup_s = time.perf_counter() - t
    embedding = embeddings(params)
    split_s = embed_s = rows_s = insert_s = 0.0
    chunks_total = 0
    pending: list = []

    def flush() -> None:
        nonlocal embed_s, rows_s, insert_s, chunks_total, pending
        if not pending:
            return
        t0 = time.perf_counter()
        vectors = embedding.embed_documents([c.page_content for c in pending])
        t1 = time.perf_counter()
        rows = [row_of(c, v, spec) for c, v in zip(pending, vectors, strict=True)]
        t2 = time.perf_counter()
        client.insert(name, rows)
        t3 = time.perf_counter()
        embed_s += t1 - t0
        rows_s += t2 - t1
        insert_s += t3 - t2
        chunks_total += len(pending)
        pending = []

    print(f"(a) ceiling: read+split+hash+embed+insert into '{name}' ...", flush=True)
    load_before = load_average()
    started = time.perf_counter()
    chunks = iter_chunks(params)
    while True:
        t0 = time.perf_counter()
        chunk = next(chunks, None)
        split_s += time.perf_counter() - t0
        if chunk is None:
            break
        pending.append(chunk)
        if len(pending) >= insert_batch:
            flush()
    flush()
    seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    counted = hook.count(name)  # Strong: every acknowledged insert is visible
    count_s = time.perf_counter() - t0
    if counted != chunks_total:
        raise RuntimeError(f"(a) wrote {chunks_total} chunks but '{name}' holds {counted} rows")
    result = {
        "collection": name,
        "chunks": chunks_total,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(chunks_total / seconds, 1),
        "read_split_hash_s": round(split_s, 2),
        "embed_s": round(embed_s, 2),
        "build_rows_s": round(rows_s, 2),
        "insert_s": round(insert_s, 2),
        "insert_rows_per_s": round(chunks_total / insert_s, 1),
        "insert_batch": insert_batch,
        "client": "pymilvus MilvusClient.insert (sync)",
        "setup_s_untimed": round(setup_s, 2),
        "strong_count_s_untimed": round(count_s, 2),
        "rows_counted": counted,
        "peak_rss_mb_process": peak_rss_mb(),
        "load_avg_before": load_before,
        "load_avg_after": load_average(),
    }
    print(
        f"    {chunks_total} chunks in {seconds:.1f} s = {result['chunks_per_s']:.0f} chunks/s; inserts alone "
        f"{insert_s:.1f} s = {result['insert_rows_per_s']:.0f} rows/s",
        flush=True,
    )
    return result


def run_async_ceiling(hook, source: str, name: str, dim: int, insert_batch: int, in_flight: int) -> dict:
    """(a2) The same work with ``AsyncMilvusClient.insert``, ``in_flight`` batches in flight: the
    client splits and converts the next batch while the server ingests the previous ones. Not
    part of the targets; it shows how much a sync loop leaves on the table on this machine."""
    params = ingest_params(source, name, dim)
    spec = collection_spec(params)
    chunk_store.ensure_collection(hook, spec)
    warm_up(hook.get_conn(), spec)
    embedding = embeddings(params)

    async def main() -> dict:
        async with hook.async_client() as client:
            semaphore = asyncio.Semaphore(in_flight)
            pending: list = []
            tasks: list = []
            total = 0

            async def insert(rows: list) -> None:
                try:
                    await client.insert(name, rows)
                finally:
                    semaphore.release()

            async def flush() -> None:
                nonlocal pending, total
                if not pending:
                    return
                vectors = embedding.embed_documents([c.page_content for c in pending])
                rows = [row_of(c, v, spec) for c, v in zip(pending, vectors, strict=True)]
                total += len(pending)
                pending = []
                await semaphore.acquire()
                tasks.append(asyncio.ensure_future(insert(rows)))
                await asyncio.sleep(0)  # let the request go out before splitting on

            started = time.perf_counter()
            for chunk in iter_chunks(params):
                pending.append(chunk)
                if len(pending) >= insert_batch:
                    await flush()
            await flush()
            await asyncio.gather(*tasks)
            return {"chunks": total, "seconds": time.perf_counter() - started}

    print(f"(a2) async ceiling: same work, AsyncMilvusClient.insert, {in_flight} batches in flight ...", flush=True)
    r = asyncio.run(main())
    counted = hook.count(name)
    if counted != r["chunks"]:
        raise RuntimeError(f"(a2) wrote {r['chunks']} chunks but '{name}' holds {counted} rows")
    result = {
        "collection": name,
        "chunks": r["chunks"],
        "seconds": round(r["seconds"], 2),
        "chunks_per_s": round(r["chunks"] / r["seconds"], 1),
        "insert_batch": insert_batch,
        "in_flight": in_flight,
        "client": "pymilvus AsyncMilvusClient.insert",
        "rows_counted": counted,
    }
    print(f"    {r['chunks']} chunks in {r['seconds']:.1f} s = {result['chunks_per_s']:.0f} chunks/s", flush=True)
    return result
