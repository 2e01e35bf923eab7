"""What a reindex costs, run by run and task by task (issue 19, item 4): wall clock, files read,
chunks split and embedded, rows written and deleted, and the peak memory of every task.

Runs, back to back against the same Milvus, ``deterministic`` embeddings of ``--dim``
dimensions (the figures are about reading, splitting, the diff against Milvus and Milvus
itself, not a model):

1. full build (``strategy=full``) of a generated corpus of ``--chunks`` chunks (local files);
2. incremental, nothing changed;
3. incremental after editing 1 % of the files, deleting 0.5 % and adding 0.5 % (new files);
4. and 5. the unchanged run and the 1 % run again with the corpus (``--s3-chunks``) served by
   a local S3 server (moto, started here on 127.0.0.1, authentication on, its key pair given
   to the runs as the Airflow connection ``AIRFLOW_CONN_BENCH_S3``), after a full build of
   that corpus (reported too: the baseline of their ratios).

This runs the DAG's step functions, not Airflow's scheduler: ``plan``, ``check_inputs``,
``list_sources``, every ``split_shard``, ``merge_shards``, ``prepare_target``, every write batch,
``delete_obsolete``, ``validate_target`` and ``swap_alias`` (the functions and order
``dags/milvus_reindex.py`` wires), each in its own child process
with the XCom dicts between them (``reindex_steps``), as an Airflow worker runs one process per
task. That is the point: the peak memory of each task. ``airflow dags test`` runs every task
in one process, so its peak is the whole run's. A run's wall clock is the sum of its steps'
(child start to exit, write batches one after the other): no scheduler latency, no parallel
batches.

After every run the collection is checked exactly: per source, its rows in Milvus equal the
chunks the toolkit's reader and splitter give for that file, called directly (``counts exact``);
the bench stops at the first difference. Targets are printed as reached / not reached, never
asserted. Prints the tables, writes ``$LOCAL_HOME/benchmarks/reindex-<ts>.json`` (the tasks' logs
beside it, one file per run), drops the collections it made; staged batches go to
``$LOCAL_HOME/bench-reindex/staging`` (``MILVUS_TOOLKIT_STAGING``), removed after each run.
Expects ``source scripts/dev-env.sh`` (``make bench-reindex`` does it).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from milvus_toolkit_dev.bench import local_home, results_dir
from milvus_toolkit_dev.bench.corpus import _vocabulary, generate_file, make_corpus
from milvus_toolkit_dev.bench.reindex_changes import (
    ChangePlan,
    change_plan,
    count_mismatches,
    edited_text,
    expected_count,
    ratio,
    verdicts,
)
from milvus_toolkit_dev.bench.reindex_steps import ORDER, RunResult, StepRunner, reindex_run

S3_CONN_ID = "bench_s3"
S3_BUCKET = "bench-reindex"
S3_PREFIX = "corpus"


class CountsNotExact(RuntimeError):
    pass


def bench_home() -> Path:
    return local_home() / "bench-reindex"


def files_for(corpus, chunks: int) -> int:
    """How many of the generated corpus's first files hold about ``chunks`` chunks."""
    per_file = corpus.estimated_chunks / corpus.files
    return min(corpus.files, int(chunks / per_file) + 1)


def pristine_counts(corpus, n_files: int, settings) -> dict[str, int]:
    """The split of the generated files (cached beside them by name and size: the generator is
    deterministic, and ``make_corpus`` removes the cache with the corpus)."""
    cache_path = corpus.folder.parent / "split-counts.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    key = f"{settings.splitter}/{settings.chunk_size}/{settings.chunk_overlap}"
    known = cache.setdefault(key, {})
    out, changed = {}, False
    for i in range(n_files):
        name = f"doc-{i:05d}.md"
        path = corpus.folder / name
        size = path.stat().st_size
        if known.get(name, [None])[0] != size:
            known[name] = [size, expected_count(name, path.read_bytes(), settings)]
            changed = True
        out[name] = known[name][1]
    if changed:
        cache_path.write_text(json.dumps(cache))
    return out


def link_copy(corpus, n_files: int, folder: Path) -> list[str]:
    """A working copy of the first ``n_files`` files (hard links: edits replace a file, so the
    generated corpus is never changed)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = [f"doc-{i:05d}.md" for i in range(n_files)]
    for name in names:
        try:
            os.link(corpus.folder / name, folder / name)
        except OSError:
            shutil.copyfile(corpus.folder / name, folder / name)
    return names


def changed_files(plan: ChangePlan, read, seed: int) -> dict[str, bytes]:
    """The new bytes of every edited and added file (``read(name)``: the current bytes)."""
    vocab, weights = _vocabulary()
    out = {name: edited_text(read(name).decode("utf-8"), name).encode("utf-8") for name in plan.edited}
    for name in plan.added:
        out[name] = generate_file(seed, int(name[4:-3]), vocab, weights).encode("utf-8")
    return out


def apply_local(folder: Path, plan: ChangePlan, seed: int) -> dict[str, bytes]:
    new = changed_files(plan, lambda name: (folder / name).read_bytes(), seed)
    for name, data in new.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)  # a new file: the hard-linked original stays as generated
    for name in plan.deleted:
        (folder / name).unlink()
    return new


def apply_s3(client, plan: ChangePlan, seed: int) -> dict[str, bytes]:
    read = lambda name: client.get_object(Bucket=S3_BUCKET, Key=f"{S3_PREFIX}/{name}")["Body"].read()  # noqa: E731
    new = changed_files(plan, read, seed)
    for name, data in new.items():
        client.put_object(Bucket=S3_BUCKET, Key=f"{S3_PREFIX}/{name}", Body=data)
    for name in plan.deleted:
        client.delete_object(Bucket=S3_BUCKET, Key=f"{S3_PREFIX}/{name}")
    return new


def upload(client, corpus, names: list[str]) -> None:
    client.create_bucket(Bucket=S3_BUCKET)

    def put(name: str) -> None:
        client.put_object(Bucket=S3_BUCKET, Key=f"{S3_PREFIX}/{name}", Body=(corpus.folder / name).read_bytes())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))


def update_expected(expected: dict[str, int], plan: ChangePlan, new: dict[str, bytes], settings) -> None:
    for name, data in new.items():
        expected[name] = expected_count(name, data, settings)
    for name in plan.deleted:
        expected.pop(name)


def drop_collections(hook, alias: str) -> list[str]:
    dropped = []
    if hook.describe_alias(alias):
        hook.drop_alias(alias)
    for name in hook.list_collections():
        if name == alias or name.startswith(alias + "__"):
            hook.drop_collection(name)
            dropped.append(name)
    return dropped


def folder_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return round(total / 2**20, 1)


class Bench:
    """The runs of one corpus (local or S3), their checks and figures."""

    def __init__(self, runner: StepRunner, hook, server, env: dict, logs: str, log=print) -> None:
        self.runner, self.hook, self.server, self.env, self.logs, self.log = runner, hook, server, env, logs, log

    def run(self, label: str, conf: dict, expected: dict[str, int]) -> dict:
        from milvus_toolkit import reindex
        from milvus_toolkit.chunk_store import count_by_source
        from milvus_toolkit.ingest.staging import SplitManifest, remove_run_folder
        from milvus_toolkit_dev.bench.meter import settle

        waited = settle(self.server)
        name = f"{label}-{datetime.now().strftime('%H%M%S')}"
        self.log(f"  {label} (strategy={conf['strategy']}; Milvus idle after {waited['waited_s']} s):")
        run = RunResult(name)
        try:
            reindex_run(self.runner, conf, run, self.env, log=self.log, log_path=f"{self.logs}-{label}.log")
            staged_mb = folder_mb(Path(run.manifest["run_folder"]))
            params = reindex.parse_reindex_params(conf)
            plan, manifest = reindex.Plan.of(run.plan), SplitManifest.of(run.manifest)
            summary = reindex.summarize(params, plan, manifest, run.indexed, run.deleted, run.validation, run.swap)
            figures = summary.figures  # the report task's (reads the run's record in the staging folder)
        finally:
            if run.manifest:
                remove_run_folder(run.manifest["run_folder"])  # the DAG's staging teardown
        served = self.hook.describe_alias(conf["collection"]) or conf["collection"]
        found = count_by_source(self.hook, served)
        wrong = count_mismatches(expected, found)
        result = {
            "run": label,
            "strategy": conf["strategy"],
            "wall_s": round(run.wall_s, 1),
            "step_s": round(sum(s.seconds for s in run.steps), 1),
            "files_seen": manifest.files_seen,
            "files_read": manifest.files_loaded,
            "files_unchanged": manifest.files_unchanged,
            "chunks_split": manifest.chunks,
            "embedded": figures["embedded"],
            "rows_written": sum(r.get("written", 0) for r in run.indexed),
            "rows_refreshed": sum(r.get("refreshed", 0) for r in run.indexed),
            "rows_deleted": run.deleted,
            "batches": len(run.indexed),
            "rows_in_milvus": sum(found.values()),
            "chunks_expected": sum(expected.values()),
            "counts_exact": not wrong,
            "validation": figures["validation"],
            "peak_mb": {step: round(mb, 1) for step, mb in run.peaks().items()},
            "peak_task_mb": round(max(run.peaks().values()), 1),
            "staged_mb": staged_mb,
            "settle_before": waited,
            "steps": [s.to_json() for s in run.steps],
        }
        self.log(
            f"    = {result['wall_s']:.1f} s; read {result['files_read']:,} files, split {result['chunks_split']:,}, "
            f"embedded {result['embedded']:,}, written {result['rows_written']:,}, deleted {result['rows_deleted']:,}; "
            f"{result['rows_in_milvus']:,} rows; counts exact: {'yes' if not wrong else 'NO'}; "
            f"peak task {result['peak_task_mb']:.0f} MB"
        )
        if wrong:
            raise CountsNotExact(
                f"{label}: the collection differs from the split of its files:\n  " + "\n  ".join(wrong)
            )
        return result


def table(runs: dict[str, dict]) -> list[str]:
    lines = [
        "| run | wall clock s | files read | chunks split | embedded | rows written | rows deleted | rows "
        "| counts exact |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in runs.values():
        lines.append(
            f"| {r['run']} | {r['wall_s']:.1f} | {r['files_read']:,} | {r['chunks_split']:,} | {r['embedded']:,} | "
            f"{r['rows_written']:,} | {r['rows_deleted']:,} | {r['rows_in_milvus']:,} | "
            f"{'yes' if r['counts_exact'] else 'NO'} |"
        )
    return lines


def peak_table(runs: dict[str, dict]) -> list[str]:
    names = list(runs)
    lines = ["| peak RSS per task, MB | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for step in ORDER:
        label = f"{step} (highest)" if step in ("split_shard", "write_batch") else step
        cells = [f"{runs[n]['peak_mb'][step]:.0f}" if step in runs[n]["peak_mb"] else "-" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def earlier_peak(out: Path, chunks: int, stamp: str) -> tuple[float, int, str] | None:
    """The highest local task peak of the latest earlier result at a smaller corpus, if any."""
    best = None
    for path in sorted(glob.glob(str(out / "reindex-*.json"))):
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue
        local = data.get("local") or {}
        if data.get("when") == stamp or not local.get("chunks") or local["chunks"] >= chunks * 0.5:
            continue
        best = (local["peak_task_mb"], local["chunks"], path)
    return best


def main(argv: list[str] | None = None) -> int:
    from milvus_toolkit.ingest.params import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(
        prog="python -m milvus_toolkit_dev.bench.reindex",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--chunks", type=int, default=1_000_000, help="local corpus, chunks (about)")
    parser.add_argument("--s3-chunks", type=int, default=100_000, help="S3 corpus, chunks (about); 0: no S3 runs")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="chunks per write task")
    parser.add_argument("--dim", type=int, default=32, help="embedding_dim of the deterministic embedding")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--collection", default="bench_reindex")
    parser.add_argument("--start-method", choices=("forkserver", "spawn"), default="forkserver")
    args = parser.parse_args(argv)

    from milvus_provider.hooks.milvus import MilvusHook
    from milvus_toolkit.ingest.splitting import SplitSettings
    from milvus_toolkit.reindex import parse_reindex_params
    from milvus_toolkit_dev.bench.meter import load_average, milvus_process

    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    out = results_dir()
    out.mkdir(parents=True, exist_ok=True)
    home = bench_home()
    staging = home / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    os.environ["MILVUS_TOOLKIT_STAGING"] = str(staging)  # staged batches go where this bench looks
    env = {"MILVUS_TOOLKIT_STAGING": str(staging)}
    runner = StepRunner(args.start_method)
    hook = MilvusHook()
    health = hook.health_check()
    server = milvus_process(health["uri"])
    started = time.perf_counter()
    log = lambda text: print(text, flush=True)  # noqa: E731

    corpus = make_corpus(args.seed, max(args.chunks, args.s3_chunks))
    base_conf = {"embedding": "deterministic", "embedding_dim": args.dim, "batch_size": args.batch_size}
    settings_params = parse_reindex_params({**base_conf, "source": "-", "collection": args.collection})
    settings = SplitSettings(settings_params.splitter, settings_params.chunk_size, settings_params.chunk_overlap)
    bench = Bench(runner, hook, server, env, str(out / f"reindex-{stamp}"), log)
    local_alias, s3_alias = args.collection, f"{args.collection}_s3"
    result: dict = {
        "when": stamp,
        "cores": os.cpu_count(),
        "load_average_start": load_average(),
        "milvus": health["server_version"],
        "settings": {
            "embedding": "deterministic",
            "embedding_dim": args.dim,
            "batch_size": args.batch_size,
            "splitter": settings.splitter,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "start_method": args.start_method,
            "seed": args.seed,
        },
    }
    runs: dict[str, dict] = {}
    s3 = None
    for alias in (local_alias, s3_alias):
        drop_collections(hook, alias)  # what an interrupted bench left
    try:
        # ---- local files ------------------------------------------------------------------
        n_local = files_for(corpus, args.chunks)
        folder = home / "corpus-local"
        names = link_copy(corpus, n_local, folder)
        t = time.perf_counter()
        expected = pristine_counts(corpus, n_local, settings)
        log(
            f"local corpus: {n_local:,} files, {sum(expected.values()):,} chunks ({folder}); "
            f"independent split {time.perf_counter() - t:.1f} s"
        )
        milvus_before = folder_mb(local_home() / "milvus")
        conf = {**base_conf, "source": str(folder), "collection": local_alias}
        runs["full"] = bench.run("full", {**conf, "strategy": "full"}, expected)
        result["milvus_disk_mb_after_full"] = folder_mb(local_home() / "milvus")
        result["milvus_disk_mb_before"] = milvus_before
        runs["unchanged"] = bench.run("unchanged", {**conf, "strategy": "incremental"}, expected)
        plan = change_plan(names, seed=args.seed)
        update_expected(expected, plan, apply_local(folder, plan, args.seed), settings)
        log(f"  changed: {len(plan.edited)} files edited, {len(plan.deleted)} deleted, {len(plan.added)} added")
        runs["changed_1pct"] = bench.run("changed_1pct", {**conf, "strategy": "incremental"}, expected)
        result["local"] = {
            "files": n_local,
            "chunks": runs["full"]["chunks_split"],
            "changes": plan.to_json(),
            "peak_task_mb": max(runs[k]["peak_task_mb"] for k in ("full", "unchanged", "changed_1pct")),
        }
        drop_collections(hook, local_alias)
        shutil.rmtree(folder, ignore_errors=True)

        # ---- the same on S3 (moto) ----------------------------------------------------------
        if args.s3_chunks:
            from milvus_toolkit_dev.local_s3 import LocalS3

            s3 = LocalS3().start()
            conn_env = f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"
            os.environ[conn_env] = env[conn_env] = s3.connection_json()
            client = s3.client()
            n_s3 = files_for(corpus, args.s3_chunks)
            s3_names = [f"doc-{i:05d}.md" for i in range(n_s3)]
            t = time.perf_counter()
            upload(client, corpus, s3_names)
            s3_expected = pristine_counts(corpus, n_s3, settings)
            log(
                f"S3 corpus: {n_s3:,} objects, {sum(s3_expected.values()):,} chunks "
                f"(s3://{S3_BUCKET}/{S3_PREFIX} on {s3.endpoint_url}, uploaded in {time.perf_counter() - t:.1f} s)"
            )
            s3_conf = {
                **base_conf,
                "source": f"s3://{S3_BUCKET}/{S3_PREFIX}",
                "source_conn_id": S3_CONN_ID,
                "collection": s3_alias,
            }
            runs["s3_full"] = bench.run("s3_full", {**s3_conf, "strategy": "full"}, s3_expected)
            runs["s3_unchanged"] = bench.run("s3_unchanged", {**s3_conf, "strategy": "incremental"}, s3_expected)
            s3_plan = change_plan(s3_names, seed=args.seed)
            update_expected(s3_expected, s3_plan, apply_s3(client, s3_plan, args.seed), settings)
            log(
                f"  changed: {len(s3_plan.edited)} objects edited, {len(s3_plan.deleted)} deleted, "
                f"{len(s3_plan.added)} added"
            )
            runs["s3_changed_1pct"] = bench.run("s3_changed_1pct", {**s3_conf, "strategy": "incremental"}, s3_expected)
            result["s3"] = {
                "files": n_s3,
                "chunks": runs["s3_full"]["chunks_split"],
                "changes": s3_plan.to_json(),
                "peak_task_mb": max(runs[k]["peak_task_mb"] for k in ("s3_full", "s3_unchanged", "s3_changed_1pct")),
            }
    finally:
        for alias in (local_alias, s3_alias):
            drop_collections(hook, alias)
        if s3 is not None:
            s3.stop()
        shutil.rmtree(staging, ignore_errors=True)
        hook.close()

    # ---- ratios, targets, tables -------------------------------------------------------------
    result["runs"] = runs
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["load_average_end"] = load_average()
    lines = [
        "",
        f"Reindex benchmark, {stamp}: {os.cpu_count()} cores, Milvus {health['server_version']}, deterministic "
        f"embeddings ({args.dim} dims), batch_size {args.batch_size:,}; each task in its own process",
        "",
        *table(runs),
        "",
        *peak_table(runs),
        "",
    ]
    groups = [("local", "full", "unchanged", "changed_1pct")]
    if "s3" in result:
        groups.append(("s3", "s3_full", "s3_unchanged", "s3_changed_1pct"))
    result["ratios"], result["targets"] = {}, {}
    earlier = earlier_peak(out, result["local"]["chunks"], stamp)
    for group, full, unchanged, changed in groups:
        f, u, c = (runs[k]["wall_s"] for k in (full, unchanged, changed))
        result["ratios"][group] = {"unchanged_over_full": ratio(u, f), "changed_1pct_over_full": ratio(c, f)}
        lines.append(
            f"{group} ({result[group]['chunks']:,} chunks): unchanged / full = {u:.1f} / {f:.1f} s = {u / f:.1%}; "
            f"1 % changed / full = {c:.1f} / {f:.1f} s = {c / f:.1%}"
        )
        smaller = None
        if group == "local" and earlier:
            smaller = earlier
            lines.append(f"  (smaller corpus: {earlier[1]:,} chunks, {earlier[2]})")
        found = verdicts(
            f,
            u,
            c,
            result[group]["peak_task_mb"],
            smaller_scale_peak_mb=smaller[0] if smaller else None,
            scales=(smaller[1], result[group]["chunks"]) if smaller else None,
        )
        result["targets"][group] = [{"target": v.target, "value": v.value, "reached": v.reached} for v in found]
        lines.extend(f"  {v.line()}" for v in found)
    path = out / f"reindex-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    lines.append(f"\ntotal {result['total_s']:.0f} s; results: {path}")
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
