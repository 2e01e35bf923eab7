"""One ``milvus_reindex`` run, each step in its own child process, the way an Airflow worker runs
one process per task: the same toolkit functions ``dags/milvus_reindex.py`` wires (and
``tests/integration/conftest.py``'s ``Reindex.all`` calls, in its order), the typed objects
passed between steps as their XCom dicts (``.to_xcom()`` / ``.of()``), and each child's peak
RSS (``ru_maxrss``) read in the child at its end.

Children come from a ``forkserver`` that imported the toolkit once (``PRELOAD``): starting
one costs about 0.1 s instead of 1.5-2.5 s of imports, like an Airflow task process forked
from a worker that has Airflow loaded. A child's peak includes those imports (about 150 MB).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time
import traceback
from dataclasses import dataclass, field

PRELOAD = ["milvus_toolkit.reindex", "milvus_toolkit.ingest.pipeline", "milvus_provider.hooks.milvus"]
DAG_ID = "bench_reindex"  # the staging folder's name: <staging root>/<dag>/<run>


# ---- the steps, run in the child (each builds its params and hook like a task's setup()) -----


def _setup(conf: dict):
    from milvus_provider.hooks.milvus import MilvusHook
    from milvus_toolkit.reindex import parse_reindex_params

    return parse_reindex_params(conf), MilvusHook()


def step_plan(params, hook, args: dict) -> dict:
    from milvus_toolkit import reindex

    return reindex.make_plan(params, hook, run_key=args["run_key"], stamp=args["stamp"]).to_xcom()


def step_check_inputs(params, hook, args: dict) -> dict:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.reindex import Plan

    return pipeline.check_inputs(params, hook, Plan.of(args["plan"]).target, rewrites_all=params.rewrites_all)


def step_list_sources(params, hook, args: dict) -> dict:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import run_folder

    return pipeline.list_sources(
        params, hook, run_folder(DAG_ID, args["run_id"]), deletes_unlisted=True, run_started=args["run_started"]
    ).to_xcom()


def step_split_shard(params, hook, args: dict) -> dict:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import ShardRef, SplitPlan

    return pipeline.split_shard(params, SplitPlan.of(args["listing"]), ShardRef.of(args["shard"])).to_xcom()


def step_merge_shards(params, hook, args: dict) -> dict:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import ShardResult, SplitPlan

    results = [ShardResult.of(result) for result in args["shards"]]
    return pipeline.merge_shards(params, SplitPlan.of(args["listing"]), results).to_xcom()


def step_prepare_target(params, hook, args: dict) -> list:
    from milvus_toolkit import reindex
    from milvus_toolkit.ingest.staging import SplitManifest

    return reindex.prepare_target(params, hook, reindex.Plan.of(args["plan"]), SplitManifest.of(args["manifest"]))


def step_write_batch(params, hook, args: dict) -> dict:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import BatchRef
    from milvus_toolkit.reindex import Plan

    mode = "upsert" if params.force_reembed else "add"
    target = Plan.of(args["plan"]).target
    return asyncio.run(pipeline.write_staged_batch(params, hook, BatchRef.of(args["batch"]), target, mode=mode))


def step_delete_obsolete(params, hook, args: dict) -> int:
    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import SplitManifest
    from milvus_toolkit.reindex import Plan

    return pipeline.delete_obsolete(params, hook, SplitManifest.of(args["manifest"]), Plan.of(args["plan"]).target)


def step_validate_target(params, hook, args: dict) -> dict:
    from milvus_toolkit import reindex
    from milvus_toolkit.ingest.staging import SplitManifest

    plan, manifest = reindex.Plan.of(args["plan"]), SplitManifest.of(args["manifest"])
    return reindex.validate_target(params, hook, plan, manifest).summary()


def step_swap_alias(params, hook, args: dict) -> dict:
    from milvus_toolkit import reindex

    return reindex.swap_alias(hook, reindex.Plan.of(args["plan"]), keep_builds=params.keep_builds)


STEPS = {
    "plan": step_plan,
    "check_inputs": step_check_inputs,
    "list_sources": step_list_sources,
    "split_shard": step_split_shard,
    "merge_shards": step_merge_shards,
    "prepare_target": step_prepare_target,
    "write_batch": step_write_batch,
    "delete_obsolete": step_delete_obsolete,
    "validate_target": step_validate_target,
    "swap_alias": step_swap_alias,
}
ORDER = tuple(STEPS)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(step: str, conf: dict, args: dict, env: dict, log_path: str | None, conn) -> None:
    """The task: set the environment, run the step, send back its XCom value and its peak RSS.
    Its output (logs, progress bars) goes to ``log_path``, like a task's log."""
    try:
        if log_path:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            print(f"---- {step} ----", flush=True)
        os.environ.update(env)  # the forkserver's environment is the one it started with
        started_rss = _rss_mb()
        started = time.perf_counter()
        params, hook = _setup(conf)
        try:
            value = STEPS[step](params, hook, args)
        finally:
            hook.close()
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        conn.send({"ok": True, "value": value, "seconds": seconds, "peak_mb": peak, "start_mb": started_rss})
    except BaseException:
        conn.send({"ok": False, "error": traceback.format_exc()})
    finally:
        conn.close()


class StepFailed(RuntimeError):
    pass


@dataclass
class StepResult:
    step: str
    seconds: float  # inside the step function (params, hook, the call)
    wall_s: float  # from starting the child until it exited
    peak_mb: float
    start_mb: float  # RSS when the child started (the preloaded imports)
    value: object = None

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "seconds": round(self.seconds, 2),
            "wall_s": round(self.wall_s, 2),
            "peak_mb": round(self.peak_mb, 1),
            "start_mb": round(self.start_mb, 1),
        }


class StepRunner:
    """Runs steps in fresh child processes, one at a time (``start_method``: forkserver or spawn)."""

    def __init__(self, start_method: str = "forkserver") -> None:
        self.context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self.context.set_forkserver_preload(PRELOAD)

    def run(self, step: str, conf: dict, args: dict, env: dict, log_path: str | None = None) -> StepResult:
        receive, send = self.context.Pipe(duplex=False)
        started = time.perf_counter()
        process = self.context.Process(target=_child, args=(step, conf, args, env, log_path, send), name=f"step-{step}")
        process.start()
        send.close()
        try:
            reply = receive.recv()
        except EOFError:
            reply = {"ok": False, "error": "the child exited without an answer"}
        process.join()
        wall = time.perf_counter() - started
        receive.close()
        if not reply["ok"]:
            raise StepFailed(f"step {step} failed (exit code {process.exitcode}; log: {log_path}):\n{reply['error']}")
        return StepResult(step, reply["seconds"], wall, reply["peak_mb"], reply["start_mb"], reply["value"])


@dataclass
class RunResult:
    name: str
    steps: list[StepResult] = field(default_factory=list)
    plan: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    indexed: list[dict] = field(default_factory=list)
    deleted: int = 0
    validation: dict = field(default_factory=dict)
    swap: dict = field(default_factory=dict)

    @property
    def wall_s(self) -> float:
        return sum(s.wall_s for s in self.steps)

    def peaks(self) -> dict[str, float]:
        """Step -> peak RSS (MB); for the write batches, the highest of them."""
        out: dict[str, float] = {}
        for s in self.steps:
            out[s.step] = max(out.get(s.step, 0.0), s.peak_mb)
        return out


def reindex_run(
    runner: StepRunner, conf: dict, run: RunResult, env: dict, log=print, log_path: str | None = None
) -> RunResult:
    """Every step of one reindex run, in ``the DAG's order (``dags/milvus_reindex.py``), each in its own process;
    what one step returns goes to the next as its XCom dict (kept on ``run`` as it goes, so
    that a failed run's staging folder can still be removed)."""
    from milvus_toolkit.reindex import run_stamp

    name = run.name
    base = {"run_id": name, "run_key": f"{DAG_ID}/{name}", "stamp": run_stamp(_now()), "run_started": time.time()}

    def step(step_name: str, **args):
        result = runner.run(step_name, conf, {**base, **args}, env, log_path)
        run.steps.append(result)
        log(f"    {step_name:<16} {result.wall_s:7.1f} s  peak {result.peak_mb:6.0f} MB")
        return result.value

    run.plan = step("plan")
    step("check_inputs", plan=run.plan)
    listing = step("list_sources")
    run.manifest = {"run_folder": listing["run_folder"]}  # until the merge: what the teardown removes
    shards = [step("split_shard", listing=listing, shard=shard) for shard in listing["shards"]]
    run.manifest = step("merge_shards", listing=listing, shards=shards)
    batches = step("prepare_target", plan=run.plan, manifest=run.manifest)
    run.indexed = [step("write_batch", batch=batch, plan=run.plan) for batch in batches]
    run.deleted = step("delete_obsolete", plan=run.plan, manifest=run.manifest)
    run.validation = step("validate_target", plan=run.plan, manifest=run.manifest)
    run.swap = step("swap_alias", plan=run.plan)
    return run


def _now():
    from datetime import datetime

    return datetime.now()
