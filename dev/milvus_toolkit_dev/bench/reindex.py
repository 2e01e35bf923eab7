"""What each reindex strategy costs: an unchanged corpus reindexed incrementally, against a
full (blue/green) rebuild of the same corpus. Both through ``airflow dags test
milvus_reindex``, back to back, against the same Milvus, with ``deterministic`` embeddings
(so the figures are about orchestration, hashing, the diff read from Milvus and Milvus itself, not a model).

1. full: builds ``<collection>__<stamp>`` from scratch, validates, points the alias at it;
2. incremental on the unchanged corpus: every chunk's id and metadata hash is looked up in the
   collection and skipped; nothing is embedded or written; the count suite still runs.

Each run's figures (files, chunks, added, updated, skipped, deleted, embedded) are its
``report`` task's return value, read from the Airflow metadata DB. Prints a table and writes
$LOCAL_HOME/benchmarks/reindex-<ts>.json. Expects ``source scripts/dev-env.sh`` (``make
bench-reindex`` does it). The corpus generator is the ingest benchmark's (``corpus``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from milvus_toolkit_dev.bench import results_dir
from milvus_toolkit_dev.bench.airflow_runs import dags_test
from milvus_toolkit_dev.bench.corpus import make_corpus

DAG_ID = "milvus_reindex"
FIGURES = ("files", "chunks", "added", "updated", "skipped", "deleted", "embedded")


def run(conf: dict, log: Path) -> dict:
    """One reindex run: its wall clock and the figures its ``report`` task returned."""
    result = dags_test(DAG_ID, conf, log)
    figures = result.record.figures()
    return {"seconds": round(result.seconds, 1), **{key: figures[key] for key in FIGURES}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m milvus_toolkit_dev.bench.reindex", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--chunks", type=int, default=100_000, help="minimum chunks in the generated corpus")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--collection", default="bench_reindex")
    args = parser.parse_args(argv)

    from milvus_provider.hooks.milvus import MilvusHook

    corpus = make_corpus(args.seed, args.chunks)
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    conf = {
        "source": str(corpus.folder),
        "collection": args.collection,
        "embedding": "deterministic",
        "batch_size": args.batch_size,
    }
    hook = MilvusHook()
    try:
        print(f"corpus: about {corpus.estimated_chunks} chunks in {corpus.files} files ({corpus.folder})", flush=True)
        full = run({**conf, "strategy": "full"}, out / f"reindex-{stamp}-full.log")
        print(f"full rebuild: {full}", flush=True)
        incremental = run({**conf, "strategy": "incremental"}, out / f"reindex-{stamp}-incremental.log")
        print(f"incremental, unchanged corpus: {incremental}", flush=True)
    finally:
        if hook.describe_alias(args.collection):
            hook.drop_alias(args.collection)
        for name in hook.list_collections():
            if name.startswith(args.collection + "__"):
                hook.drop_collection(name)
    chunks = full["chunks"]
    result = {
        "when": stamp,
        "cores": os.cpu_count(),
        "chunks": chunks,
        "files": corpus.files,
        "batch_size": args.batch_size,
        "full": full,
        "incremental_unchanged": incremental,
        "ratio_full_over_incremental": round(full["seconds"] / incremental["seconds"], 2),
    }
    (out / f"reindex-{stamp}.json").write_text(json.dumps(result, indent=1))
    print()
    print(f"| strategy ({chunks:,} chunks) | wall clock s | chunks/s | embedded | written | skipped |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in (("full rebuild (blue/green)", full), ("incremental, unchanged", incremental)):
        print(
            f"| {name} | {r['seconds']:.1f} | {chunks / r['seconds']:,.0f} | {r['embedded']:,} | "
            f"{r['added'] + r['updated']:,} | {r['skipped']:,} |"
        )
    print(f"\nfull / incremental: {result['ratio_full_over_incremental']}x  (results: {out}/reindex-{stamp}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
