"""
### milvus_reindex: keep a Milvus collection equal to its corpus, every night

**incremental** (default): LangChain's indexing API with a SQL record manager. Unchanged
chunks are skipped without being embedded; new and changed chunks are written; chunks of
changed or deleted files are deleted, once every batch has succeeded.

**full**: a blue/green rebuild. A new collection `<collection>__<timestamp>` is built with the
same fan-out and validated with the same great-expectations suite; only then does the alias
`<collection>` move to it. The previous collection stays for one rollback; older builds are
dropped. A plain collection named `<collection>` is migrated to the alias scheme (renamed to
`<collection>__legacy_<timestamp>`, kept as the rollback copy).

Either way the run ends with the count suite (per source and total) against the corpus as
it is now, and marks the Asset `milvus://<collection>` as updated.

Schedule: `MILVUS_REINDEX_SCHEDULE` (cron, default `0 2 * * *`); `none` turns it off.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from airflow.sdk import AssetAlias, Param, dag, get_current_context, task
from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import (
    current_params,
    fail_fast,
    hook_for,
    log_report,
    materialize,
    milvus_asset,
    source_and_split_params,
)
from milvus_toolkit.ingest import params as p
from milvus_toolkit.reindex import DEFAULT_SCHEDULE, parse_reindex_params

REINDEXED = AssetAlias("milvus-reindex")  # resolves at run time to Asset("milvus://<collection>")
SCHEDULE = os.environ.get("MILVUS_REINDEX_SCHEDULE", DEFAULT_SCHEDULE)


@dag(
    dag_id="milvus_reindex",
    schedule=None if SCHEDULE.lower() in ("", "none") else SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,  # a missed night is not replayed: the next run reindexes everything anyway
    max_active_runs=1,  # two reindexes of one corpus must never interleave
    default_args=DEFAULT_ARGS,
    tags=["milvus", "reindex", "langchain"],
    doc_md=__doc__,
    params={
        **source_and_split_params("The serving name: an alias (created on the first full run) or a plain collection."),
        "strategy": Param("incremental", enum=["incremental", "full"], title="Strategy",
                          description="incremental: write only what changed, delete what is gone. full: rebuild into a new collection, swap the alias after validation."),
        "force_reembed": Param(False, type="boolean", title="Force re-embedding",
                               description="Re-embed and rewrite every chunk (after changing the embedding model)."),
        "build_collection": Param(None, type=["null", "string"], pattern="^[A-Za-z_][A-Za-z0-9_]*$", title="Build collection (full)",
                                  description="Name of the new collection of a full rebuild; default <collection>__<timestamp>."),
        "batch_size": Param(p.DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=100000, title="Batch size",
                            description="Chunks per mapped indexing task."),
    },
)
def milvus_reindex():
    # multiple_outputs=False: TaskFlow infers True from "-> dict" and would store each key
    # again as its own XCom row.
    @task(multiple_outputs=False)
    def plan() -> dict:
        """Check the inputs, resolve the serving name, pick the collection to write."""
        from milvus_toolkit.ingest.pipeline import check_inputs
        from milvus_toolkit.reindex import make_plan, run_stamp

        params = current_params(parse_reindex_params)
        hook = hook_for(params)
        with fail_fast():
            check_inputs(params, hook)
            stamp = run_stamp(get_current_context()["dag_run"].run_after)
            return asyncio.run(make_plan(params, hook, stamp)).to_xcom()

    @task(multiple_outputs=True)
    def split_corpus() -> dict:
        from milvus_toolkit.ingest.pipeline import split_corpus as split
        from milvus_toolkit.ingest.staging import run_folder

        params = current_params(parse_reindex_params)
        ctx = get_current_context()
        with fail_fast():
            return split(params, run_folder(ctx["dag"].dag_id, ctx["run_id"])).to_xcom()

    @task
    def prepare_target(run_plan: dict, batches: list) -> list:
        """Create the collection to write (a build) or check it; pass the batches on."""
        from milvus_toolkit.ingest.pipeline import ensure_collection

        params = current_params(parse_reindex_params)
        with fail_fast():
            ensure_collection(params, hook_for(params), run_plan["target"])
        return batches

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
    async def index_batch(batch: dict, run_plan: dict) -> dict:
        from milvus_toolkit.reindex import index_batch as index

        get_current_context()["batch_label"] = batch["label"]
        params = current_params(parse_reindex_params)
        return await index(params, hook_for(params), run_plan, batch)

    @task
    async def cleanup(run_plan: dict, _indexed: list) -> int:
        """Runs only when every batch succeeded: what no batch refreshed is stale."""
        from milvus_toolkit.reindex import cleanup_stale

        params = current_params(parse_reindex_params)
        return await cleanup_stale(params, hook_for(params), run_plan)

    @task(multiple_outputs=False)
    def validate(run_plan: dict, manifest: dict, _deleted: int) -> dict:
        from milvus_toolkit.ingest.pipeline import validate_collection

        params = current_params(parse_reindex_params)
        with fail_fast():
            return validate_collection(params, hook_for(params), manifest, collection=run_plan["target"], strict=True).summary()

    @task(multiple_outputs=False)
    def swap_alias(run_plan: dict, _validation: dict) -> dict:
        """Only after validation: point the serving name at the new build (full runs)."""
        from milvus_toolkit.reindex import drop_namespaces, swap_alias as swap

        params = current_params(parse_reindex_params)
        hook = hook_for(params)
        result = swap(hook, run_plan)
        asyncio.run(drop_namespaces(result["dropped"], hook.config.db_name))
        return result

    @task(outlets=[REINDEXED], multiple_outputs=False)
    def report(run_plan: dict, manifest: dict, indexed: list, deleted: int, validation: dict, swap: dict) -> dict:
        from milvus_toolkit.ingest.staging import remove_run_folder
        from milvus_toolkit.reindex import summarize

        params = current_params(parse_reindex_params)
        summary = summarize(params, run_plan, manifest, materialize(indexed), deleted, validation, swap)
        log_report(summary.text)
        get_current_context()["outlet_events"][REINDEXED].add(milvus_asset(params.collection), extra=summary.figures)
        remove_run_folder(manifest["run_folder"])
        return summary.figures

    run_plan = plan()
    manifest = split_corpus()
    run_plan >> manifest
    indexed = index_batch.partial(run_plan=run_plan).expand(batch=prepare_target(run_plan, manifest["batches"]))
    deleted = cleanup(run_plan, indexed)
    validation = validate(run_plan, manifest, deleted)
    swapped = swap_alias(run_plan, validation)
    report(run_plan, manifest, indexed, deleted, validation, swapped)


milvus_reindex()
