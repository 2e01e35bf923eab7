"""Ingest benchmark: how close does the ``milvus_ingest`` DAG come to a plain pymilvus loop?

One run, back to back, against the same Milvus server (``milvus_default``):

(a) ceiling: the DAG's read + split + stamp (``milvus_toolkit.ingest.documents`` /
    ``splitting``, ``milvus_toolkit.sync.stamp``: the same work as the DAG), the DAG's
    ``deterministic`` embedding, then plain ``MilvusClient.insert`` in batches of
    ``--insert-batch`` into a collection made by ``chunk_store.ensure_collection`` (the DAG's
    ``CollectionSpec``, same rows as langchain-milvus writes). One process, no Airflow, no
    vector store. The insert calls alone give the Milvus-only insert rate.
(b) the DAG end to end: ``airflow dags test milvus_ingest -c {...}`` as a subprocess, wall
    clock from start to finish (process start, parse, every task, validation, report). Run
    on the full corpus and on a smaller one (``--small-chunks``) to show that memory per
    mapped task does not grow with the corpus.
(c) the seeds' approach: one ``aadd_documents([chunk])`` call per chunk, all gathered at
    once, through a langchain-milvus store from ``chunk_store.open_store``, on the first
    ``--slice`` chunks (scaled to chunks/s).

The DAG run's figures (chunks, files, split time: the ``report`` task's return value), peak
RSS per write task (the ``write_batch`` return values) and the run's XCom bytes are read
from the Airflow database ($AIRFLOW_HOME/airflow.db). Prints a table and writes
$LOCAL_HOME/benchmarks/ingest-<ts>.json. Benchmark collections are dropped at the end.
Expects ``source scripts/dev-env.sh`` (``make bench-ingest`` does it).

``--embedding local`` measures with the real local model instead (``real_model``): the model
alone, the toolkit's embedding alone, the DAG's write phase and end to end, and the seeds'
approach, on about ``--model-chunks`` chunks, with the ratios to the model alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime

from milvus_toolkit.embeddings import DETERMINISTIC_DEFAULT_DIM
from milvus_toolkit.ingest.params import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from milvus_toolkit_dev.bench import real_model, results_dir
from milvus_toolkit_dev.bench.ceiling import run_async_ceiling, run_ceiling
from milvus_toolkit_dev.bench.corpus import corpus_root, make_corpus, subset_corpus
from milvus_toolkit_dev.bench.dag import run_dag
from milvus_toolkit_dev.bench.meter import PhaseMeter, load_average, milvus_process, settle
from milvus_toolkit_dev.bench.report import compare, table
from milvus_toolkit_dev.bench.seeds import run_seeds
from milvus_toolkit_dev.bench.workload import drop, split_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m milvus_toolkit_dev.bench.ingest",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--chunks", type=int, default=200_000, help="minimum chunks in the generated corpus (default 200000)"
    )
    parser.add_argument(
        "--small-chunks",
        type=int,
        default=50_000,
        help="(b) also on a corpus of about this many chunks, for memory per task (0: skip)",
    )
    parser.add_argument("--slice", type=int, default=20_000, help="chunks for (c), the seeds' approach (default 20000)")
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="(b) batch_size param: chunks per mapped write task"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="(b) concurrency param: async calls in flight per task",
    )
    parser.add_argument(
        "--mode", choices=["upsert", "add"], default="upsert", help="(b) mode param (DAG default upsert)"
    )
    parser.add_argument("--insert-batch", type=int, default=1000, help="(a) rows per MilvusClient.insert")
    parser.add_argument(
        "--no-async-ceiling",
        dest="async_ceiling",
        action="store_false",
        help="skip (a2), the same work with AsyncMilvusClient (for reference, not a target)",
    )
    parser.add_argument(
        "--dim", type=int, default=DETERMINISTIC_DEFAULT_DIM, help="vector dimension (deterministic embedding default)"
    )
    parser.add_argument("--seed", type=int, default=42, help="corpus seed")
    parser.add_argument(
        "--embedding",
        choices=["deterministic", "local"],
        default="deterministic",
        help="local: the real model instead (model alone, the DAG's write phase and end to end, the "
        "seeds' approach, on about --model-chunks chunks; see bench/real_model.py)",
    )
    parser.add_argument(
        "--model-chunks",
        type=int,
        default=1200,
        help="with --embedding local: chunks in the corpus (default 1200, ~25 files)",
    )
    parser.add_argument(
        "--model-phases",
        default="mt,c",
        help="with --embedding local: besides the model alone and the DAG, which phases run: mt (the "
        "toolkit's embedding without Milvus), c (the seeds' approach); default mt,c",
    )
    parser.add_argument("--conn-id", default="milvus_default")
    parser.add_argument("--keep-corpus", action="store_true", help="keep .local/bench-corpus (reused by the next run)")
    parser.add_argument("--keep-collections", action="store_true", help="do not drop the benchmark collections")
    args = parser.parse_args(argv)

    if "AIRFLOW_HOME" not in os.environ:
        print("bench-ingest: source scripts/dev-env.sh first (or run `make bench-ingest`)", file=sys.stderr)
        return 2
    from milvus_provider.hooks.milvus import MilvusHook

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = results_dir()
    results.mkdir(parents=True, exist_ok=True)
    split = split_settings()
    hook = MilvusHook(args.conn_id)
    health = hook.health_check()
    suffix = stamp.lower().replace("t", "_").replace("z", "")
    names = {k: f"bench_ingest_{k}_{suffix}" for k in ("a", "a2", "b", "c", "b_small")}
    model_mode = args.embedding == "local"
    result: dict = {
        "timestamp": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "shared": True,
            "note": "shared machine: other sessions may run tests at the same time",
        },
        "load_avg_start": load_average(),
        "milvus": {"uri": health["uri"], "server_version": health["server_version"]},
        "settings": {
            "chunks_min": args.chunks,
            "small_chunks": args.small_chunks,
            "slice": args.slice,
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "mode": args.mode,
            "insert_batch": args.insert_batch,
            "dim": args.dim,
            "seed": args.seed,
            "chunk_size": split.chunk_size,
            "chunk_overlap": split.chunk_overlap,
            "embedding": "deterministic",
            "consistency": "collections Session (CollectionSpec default); counts Strong",
        },
    }
    out = results / f"ingest-{stamp}.json"
    started = time.perf_counter()
    try:
        # (a), (b), (c) back to back on the same server, then (b) on the smaller corpus. Before
        # each: wait for the server to finish the previous collection's index; after each: drop.
        server = milvus_process(health["uri"])

        def phase(key: str, run, *run_args, **run_kwargs) -> dict:
            waited = settle(server)
            with PhaseMeter(server) as meter:
                figures = run(*run_args, **run_kwargs)
            figures["settle_before"] = waited
            figures["cpu_during_phase"] = meter.figures
            if key in names:
                drop(hook, names[key], args.keep_collections)
            return figures

        if model_mode:
            result["settings"] = real_model.settings(args)
            real_model.run(args, result, phase, names, results, stamp)
            real_model.compare(result)
            result["total_s"] = round(time.perf_counter() - started, 1)
            print(real_model.table(result))
            return 0

        corpus = make_corpus(args.seed, args.chunks)
        print(
            f"corpus: {corpus.folder} ({corpus.files} files, {corpus.bytes / 1e6:.0f} MB, ~{corpus.estimated_chunks} "
            f"chunks; {'reused' if corpus.reused else f'generated in {corpus.seconds:.1f} s'})",
            flush=True,
        )
        result["corpus"] = {
            "folder": str(corpus.folder),
            "files": corpus.files,
            "bytes": corpus.bytes,
            "generated_s": round(corpus.seconds, 2),
            "reused": corpus.reused,
        }
        result["a"] = phase("a", run_ceiling, hook, str(corpus.folder), names["a"], args.dim, args.insert_batch)
        if result["a"]["chunks"] < args.chunks:
            raise RuntimeError(f"corpus yields {result['a']['chunks']} chunks, fewer than --chunks {args.chunks}")
        result["corpus"]["chunks"] = result["a"]["chunks"]
        if args.async_ceiling:
            result["a2"] = phase(
                "a2",
                run_async_ceiling,
                hook,
                str(corpus.folder),
                names["a2"],
                args.dim,
                args.insert_batch,
                args.concurrency,
            )
        result["b"] = phase(
            "b",
            run_dag,
            str(corpus.folder),
            names["b"],
            args.batch_size,
            args.concurrency,
            args.mode,
            results / f"ingest-{stamp}-b.log",
        )
        result["c"] = phase("c", run_seeds, hook, str(corpus.folder), names["c"], args.dim, args.slice)
        if args.small_chunks:
            small = subset_corpus(corpus, args.small_chunks)
            result["b_small"] = phase(
                "b_small",
                run_dag,
                str(small),
                names["b_small"],
                args.batch_size,
                args.concurrency,
                args.mode,
                results / f"ingest-{stamp}-b-small.log",
            )
        compare(result)
        result["total_s"] = round(time.perf_counter() - started, 1)
        print(table(result))
        return 0
    finally:
        result.setdefault("total_s", round(time.perf_counter() - started, 1))
        if not args.keep_collections:
            for name in names.values():
                try:
                    if hook.has_collection(name):
                        hook.drop_collection(name)
                except Exception as exc:  # report, never mask the benchmark's own error
                    print(f"could not drop {name}: {exc}", file=sys.stderr)
            result["collections_dropped"] = not args.keep_collections
        if not args.keep_corpus:
            shutil.rmtree(corpus_root() / f"seed{args.seed}", ignore_errors=True)
        out.write_text(json.dumps(result, indent=1, default=str))
        print(f"\nresult: {out}")
        hook.close()


if __name__ == "__main__":
    sys.exit(main())
