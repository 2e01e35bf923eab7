"""(c) The seeds' approach: one ``aadd_documents([chunk])`` call per chunk, all gathered at
once, through a langchain-milvus store from ``chunk_store.open_store`` (the DAG's spec and
embedding), on the first ``--slice`` chunks (scaled to chunks/s)."""

from __future__ import annotations

import asyncio
import time

from milvus_toolkit import chunk_store
from milvus_toolkit.ingest.writing import peak_rss_mb
from milvus_toolkit_dev.bench.meter import load_average
from milvus_toolkit_dev.bench.workload import collection_spec, embeddings, ingest_params, iter_chunks


def run_seeds(hook, source: str, name: str, dim: int, slice_size: int, *, embedding=None, params=None) -> dict:
    """``embedding``: what the calls embed with (default: the DAG's for ``params``, the
    deterministic one unless ``params`` says otherwise)."""
    from langchain_core.documents import Document

    params = params or ingest_params(source, name, dim)
    spec = collection_spec(params)
    embedding = embedding or embeddings(params)

    async def main() -> dict:
        t = time.perf_counter()
        async with chunk_store.open_store(hook, spec, embedding) as store:
            warm = Document("warm up", metadata={"source": "bench-warmup"})
            await store.aadd_documents([warm], ids=["bench-warmup"])
            await store.adelete(ids=["bench-warmup"])
            setup_s = time.perf_counter() - t
            print(
                f"(c) seeds: one aadd_documents([chunk]) per chunk, all gathered, first {slice_size} chunks "
                f"into '{name}' ...",
                flush=True,
            )
            load_before = load_average()
            started = time.perf_counter()
            chunks = list(iter_chunks(params, limit=slice_size))
            split_s = time.perf_counter() - started
            outcomes = await asyncio.gather(
                *(store.aadd_documents([c], ids=[c.id]) for c in chunks), return_exceptions=True
            )
            seconds = time.perf_counter() - started
            closing = time.perf_counter()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        return {
            "chunks": len(chunks),
            "seconds": seconds,
            "split_s": split_s,
            "errors": errors,
            "setup_s": setup_s,
            "load_before": load_before,
            "close_s": time.perf_counter() - closing,
        }

    import logging

    rpc_log = logging.getLogger("pymilvus.decorators")  # one traceback per failed call otherwise
    level = rpc_log.level
    rpc_log.setLevel(logging.CRITICAL)
    try:
        r = asyncio.run(main())
    finally:
        rpc_log.setLevel(level)
    t0 = time.perf_counter()
    counted = hook.count(name)
    count_s = time.perf_counter() - t0
    ok = r["chunks"] - len(r["errors"])
    result = {
        "collection": name,
        "chunks": r["chunks"],
        "seconds": round(r["seconds"], 2),
        "chunks_per_s": round(ok / r["seconds"], 1),
        "calls": r["chunks"],
        "failed_calls": len(r["errors"]),
        "first_errors": sorted({f"{type(e).__name__}: {e}"[:200] for e in r["errors"]})[:3],
        "read_split_hash_s": round(r["split_s"], 2),
        "write_s": round(r["seconds"] - r["split_s"], 2),
        "rows_counted": counted,
        "setup_s_untimed": round(r["setup_s"], 2),
        "peak_rss_mb_process": peak_rss_mb(),
        "store_close_s_untimed": round(r["close_s"], 2),
        "strong_count_s_untimed": round(count_s, 2),
        "load_avg_before": r["load_before"],
        "load_avg_after": load_average(),
    }
    print(
        f"    {r['chunks']} chunks ({len(r['errors'])} failed calls) in {r['seconds']:.1f} s = "
        f"{result['chunks_per_s']:.0f} chunks/s",
        flush=True,
    )
    return result
