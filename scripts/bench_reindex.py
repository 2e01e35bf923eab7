#!/usr/bin/env python
"""What each reindex strategy costs: an unchanged corpus reindexed incrementally, against a
full (blue/green) rebuild of the same corpus. Both through ``airflow dags test
milvus_reindex``, back to back, against the same Milvus, with ``deterministic`` embeddings
(so the figures are about orchestration, hashing, the diff read from Milvus and Milvus itself, not a model).

1. full: builds ``<collection>__<stamp>`` from scratch, validates, points the alias at it;
2. incremental on the unchanged corpus: every chunk's id and metadata hash is looked up in the
   collection and skipped; nothing is embedded or written; the count suite still runs.

Prints a table and writes .local/benchmarks/reindex-<ts>.json. Expects ``source
scripts/dev-env.sh`` (``make bench-reindex`` does it). The corpus generator is the ingest
benchmark's (scripts/bench_ingest.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import make_corpus  # noqa: E402  (same generated corpus as the ingest benchmark)

CORPUS = re.compile(r"corpus   : (\d+) files \((\d+) skipped\), (\d+) chunks")
CHANGES = re.compile(r"changes  : (\d+) added, (\d+) updated, (\d+) skipped, (\d+) deleted\n  embedded : (\d+) texts")


def run(conf: dict, env: dict, log: Path) -> dict:
    started = time.perf_counter()
    result = subprocess.run(
        ["airflow", "dags", "test", "milvus_reindex", "-c", json.dumps(conf)],
        env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"milvus_reindex failed; see {log}")
    output = result.stdout + result.stderr
    added, updated, skipped, deleted, embedded = map(int, CHANGES.search(output).groups())
    files, _, chunks = map(int, CORPUS.search(output).groups())
    return {"seconds": round(seconds, 1), "files": files, "chunks": chunks, "added": added, "updated": updated,
            "skipped": skipped, "deleted": deleted, "embedded": embedded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="minimum chunks in the generated corpus")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--collection", default="bench_reindex")
    args = parser.parse_args(argv)

    from milvus_provider.hooks.milvus import MilvusHook

    corpus = make_corpus(args.seed, args.chunks)
    out = Path(os.environ.get("LOCAL_HOME", ".local")) / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    env = dict(os.environ)
    conf = {"source": str(corpus.folder), "collection": args.collection, "embedding": "deterministic",
            "batch_size": args.batch_size}
    hook = MilvusHook()
    try:
        print(f"corpus: about {corpus.estimated_chunks} chunks in {corpus.files} files ({corpus.folder})", flush=True)
        full = run({**conf, "strategy": "full"}, env, out / f"reindex-{stamp}-full.log")
        print(f"full rebuild: {full}", flush=True)
        incremental = run({**conf, "strategy": "incremental"}, env, out / f"reindex-{stamp}-incremental.log")
        print(f"incremental, unchanged corpus: {incremental}", flush=True)
    finally:
        if hook.describe_alias(args.collection):
            hook.drop_alias(args.collection)
        for name in hook.list_collections():
            if name.startswith(args.collection + "__"):
                hook.drop_collection(name)
    chunks = full["chunks"]
    result = {
        "when": stamp, "cores": os.cpu_count(), "chunks": chunks, "files": corpus.files,
        "batch_size": args.batch_size, "full": full, "incremental_unchanged": incremental,
        "ratio_full_over_incremental": round(full["seconds"] / incremental["seconds"], 2),
    }
    (out / f"reindex-{stamp}.json").write_text(json.dumps(result, indent=1))
    print()
    print(f"| strategy ({chunks:,} chunks) | wall clock s | chunks/s | embedded | written | skipped |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in (("full rebuild (blue/green)", full), ("incremental, unchanged", incremental)):
        print(f"| {name} | {r['seconds']:.1f} | {chunks / r['seconds']:,.0f} | {r['embedded']:,} | "
              f"{r['added'] + r['updated']:,} | {r['skipped']:,} |")
    print(f"\nfull / incremental: {result['ratio_full_over_incremental']}x  (results: {out}/reindex-{stamp}.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
