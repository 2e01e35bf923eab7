"""Recall against QPS over HNSW ``ef``, per server and layer, on real text and on the random stress case.

For each server (Airflow connection id: ``milvus_default`` = the local 2.3.5 server of ``make
milvus-up``, ``milvus_lite`` = Milvus Lite of ``make milvus-lite-up``) and each data set, the
benchmark's own code (:class:`milvus_toolkit.benchmark.search_metrics.SearchMetrics`) builds one
collection per layer as the benchmark does (rows in, flush, HNSW M 16 / efConstruction 200,
load) and measures one curve per layer (:func:`milvus_toolkit.benchmark.ef_sweep.measure_point`;
``--rounds N``: the ef list N times, interleaved, median QPS and mean recall per ef):

- ``text``: real text (``--corpus``, default every source: the sample corpus, the Python
  reference and the standard library's docstrings) embedded by all-MiniLM-L6-v2, cached;
- ``random``: ``--random-rows`` pseudo-random ``deterministic`` 768-dim vectors (the stress case).

Writes ``$LOCAL_HOME/benchmarks/ef-curve-<ts>.json`` and one chart per data set
(``.text.png``, ``.random.png``), and prints a table. Every collection is dropped. Expects
``source scripts/dev-env.sh`` (and ``AIRFLOW_CONN_MILVUS_LITE`` for Milvus Lite)::

    python -m milvus_toolkit_dev.bench.ef_curve --servers milvus_default,milvus_lite
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime

from milvus_toolkit_dev.bench import results_dir


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def measure(conn_id: str, data_kind: str, args: argparse.Namespace) -> dict:
    from milvus_provider.hooks.milvus import MilvusHook
    from milvus_toolkit.benchmark.plan import BenchmarkParams
    from milvus_toolkit.benchmark.search_metrics import SearchMetrics, build_search_data
    from milvus_toolkit.benchmark.workload import Workload
    from milvus_toolkit.embeddings import get_embeddings

    random = data_kind == "random"
    params = BenchmarkParams.parse(
        {
            "operations": ["search"],
            "counts": [1],
            "layers": args.layers,
            "top_k": args.top_k,
            "ef_values": args.ef,
            "ef_seconds": args.ef_seconds,
            "search_data": data_kind,
            "search_corpus": args.corpus,
            "search_rows": args.random_rows,
            "dim": 768 if random else 384,
            "consistency_levels": ["Session"],
            "milvus_conn_id": conn_id,
        }
    )
    choice = get_embeddings("deterministic", dim=768) if random else get_embeddings("local")
    hook = MilvusHook(conn_id)
    created: list[str] = []
    stamp = datetime.now(UTC).strftime("%H%M%S")

    def new_name() -> str:
        created.append(f"bench_efcurve_{stamp}_{len(created):02d}")
        return created[-1]

    try:
        version = hook.capabilities().version
        work = Workload(params, choice.embeddings)
        data = build_search_data(work, choice=None if random else choice)
        metrics = SearchMetrics(hook, work, new_name, data=data)
        started = time.perf_counter()
        base, load = metrics.measure_load()
        curves = {}
        for layer in params.layers:
            name = base if layer != "llamaindex" else metrics._llama_collection()
            # --rounds: the whole ef list again and again (interleaved, so drift of a shared
            # machine hits every ef alike); per ef the median QPS, recall from every round
            rounds = [metrics.measure_ef(layer, name) for _ in range(args.rounds)]
            curves[layer] = [_median_point([r[n] for r in rounds]) for n in range(len(params.ef_values))]
        return {
            "server": conn_id,
            "server_version": version,
            "data": data.describe(),
            "top_k": params.top_k,
            "index": {"type": "HNSW", "M": 16, "efConstruction": 200, "metric": "COSINE"},
            "load": load,
            "note": metrics._ef_note(),
            "layers": curves,
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        for name in created:
            if hook.has_collection(name):
                hook.drop_collection(name)
        hook.close()


def _median_point(points: list[dict]) -> dict:
    import statistics

    first = dict(points[0])
    if len(points) > 1:
        first["qps"] = round(statistics.median(p["qps"] for p in points), 2)
        first["qps_rounds"] = [p["qps"] for p in points]
        first["recall_rounds"] = [p["recall"] for p in points]
        first["recall"] = round(statistics.fmean(p["recall"] for p in points), 6)
        first["latency_p50_ms"] = round(statistics.median(p["latency_p50_ms"] for p in points), 3)
    return first


def main(argv: list[str] | None = None) -> int:
    from milvus_toolkit.benchmark.chart import write_curves_chart
    from milvus_toolkit.benchmark.ef_sweep import smallest_ef_reaching
    from milvus_toolkit.benchmark.environment import load_average

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=_csv, default=["milvus_default", "milvus_lite"])
    parser.add_argument("--data", type=_csv, default=["text", "random"])
    parser.add_argument("--corpus", type=_csv, default=["sample", "python-reference", "python-docstrings"])
    parser.add_argument("--layers", type=_csv, default=["raw", "langchain", "llamaindex"])
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--ef", type=lambda v: [int(x) for x in _csv(v)], default=[10, 16, 32, 64, 128, 256, 512])
    parser.add_argument("--ef-seconds", type=float, default=2.0)
    parser.add_argument("--random-rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the ef list; median QPS per ef")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("httpx", "pymilvus", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    runs = []
    load_start = load_average()
    for kind in args.data:
        for conn_id in args.servers:
            runs.append(measure(conn_id, kind, args))
            print(f"{conn_id} {kind}: done in {runs[-1]['seconds']} s", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results_dir() / f"ef-curve-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "run_id": stamp,
        "machine": {"cpu_cores": os.cpu_count(), "platform": platform.platform()},
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "args": vars(args),
        "runs": runs,
    }
    out.write_text(json.dumps(record, indent=1))
    charts = {}
    for kind in args.data:
        mine = [r for r in runs if r["data"]["kind"] == kind]
        if not mine:
            continue
        series = {f"{r['server_version']} / {layer}": pts for r in mine for layer, pts in r["layers"].items()}
        d = mine[0]["data"]
        title = (
            f"recall@{args.top_k} vs QPS over HNSW ef (labels), M 16, efConstruction 200, "
            f"{d['rows']} rows x {d['dim']}d, {d['queries']} queries, {os.cpu_count()} cores ({stamp})\n{d['label']}"
        )
        path = out.with_suffix(f".{kind}.png")
        if write_curves_chart(series, path, title):
            charts[kind] = str(path)
    print(f"| data | server | layer | {' | '.join(f'ef {e}' for e in args.ef)} | ef for 0.95 / 0.99 |")
    print("|---|---|---|" + "---|" * (len(args.ef) + 1))
    for r in runs:
        for layer, pts in r["layers"].items():
            cells = " | ".join(f"{p['recall']:.3f} @ {p['qps']:.0f}" for p in pts)
            reach = f"{smallest_ef_reaching(pts, 0.95)} / {smallest_ef_reaching(pts, 0.99)}"
            where = f"{r['data']['kind']} ({r['data']['rows']} rows) | {r['server_version']} | {layer}"
            print(f"| {where} | {cells} | {reach} |")
    print(f"record: {out}; charts: {charts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
