"""
### milvus_reindex: keep a Milvus collection equal to its corpus

**incremental** (default): the collection itself says what changed. Unchanged chunks are
skipped without being embedded (their metadata is refreshed if it moved), new chunks are
written, and once every batch succeeded the chunks of changed or deleted files are deleted:
never those of a file that could not be read, never more than `max_delete_percent`.

**full**: a blue/green rebuild into a new collection marked as this alias's build, validated
with the same suite; only then does the alias move. The collection it left is kept for
rollback; only this alias's own older builds are dropped. **rollback** points the alias back.

`milvus_reindex` is run by hand with an explicit `source` and `collection`. Each index
declared in `include/indexes.yaml` (`MILVUS_TOOLKIT_INDEXES`) gets its own scheduled DAG
`milvus_reindex__<name>`, whose source and collection are fixed by the declaration.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import AssetAlias, Param, dag, get_current_context, task
from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import current_params, fail_fast, hook_for, log_report, materialize, milvus_asset, refuse_declared, safety_params, source_and_split_params
from milvus_toolkit.declared import load_declarations
from milvus_toolkit.ingest import params as p
from milvus_toolkit.ingest import pipeline
from milvus_toolkit import reindex

REINDEXED = AssetAlias("milvus-reindex")  # resolves at run time to Asset("milvus://<collection>")


def operational_params(keep_builds: int = 1) -> dict:
    return {
        "strategy": Param("incremental", enum=["incremental", "full", "rollback"], title="Strategy",
                          description="incremental: write only what changed, delete what is gone. full: rebuild into a new collection, swap the alias after validation. rollback: point the alias back at the collection it left."),
        "force_reembed": Param(False, type="boolean", title="Force re-embedding", description="Re-embed and rewrite every chunk (after changing the embedding model)."),
        "build_collection": Param(None, type=["null", "string"], pattern="^[A-Za-z_][A-Za-z0-9_]*$", title="Build collection (full)",
                                  description="Name of the new collection of a full rebuild (must not exist); default <collection>__<timestamp>."),
        "keep_builds": Param(keep_builds, type="integer", minimum=1, maximum=20, title="Builds kept for rollback",
                             description="Earlier builds of this alias kept after a full rebuild (only builds this toolkit marked are ever dropped)."),
        "batch_size": Param(p.DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=100000, title="Batch size", description="Chunks per mapped indexing task."),
    }


def reindex_dag(dag_id: str, *, schedule: str | None, form: dict, fixed: dict | None = None, doc: str = __doc__):
    """One reindex pipeline. ``fixed``: a declared index's identity (source, collection,
    embedding, splitter), which a run's conf cannot override."""

    def run_params() -> reindex.ReindexParams:
        return current_params(reindex.parse_reindex_params, fixed)

    @dag(dag_id=dag_id, schedule=schedule, start_date=datetime(2026, 1, 1, tzinfo=UTC),
         catchup=False,  # a missed night is not replayed: the next run reindexes everything anyway
         max_active_runs=1,  # two reindexes of one corpus never interleave
         default_args=DEFAULT_ARGS, tags=["milvus", "reindex"], doc_md=doc, params=form)
    def pipeline_dag():
        @task.short_circuit
        def plan() -> dict:
            """Resolve the serving name and the collection to write; a rollback ends here."""
            params, ctx = run_params(), get_current_context()
            hook = hook_for(params)
            with fail_fast():
                refuse_declared(params.collection, dag_id)
                if params.strategy == "rollback":
                    log_report(str(reindex.rollback(hook, params.collection)))
                    return {}  # falsy: nothing else to do
                run = ctx["dag_run"]
                plan = reindex.make_plan(params, hook, run_key=f"{dag_id}/{run.run_id}", stamp=reindex.run_stamp(run.run_after))
                pipeline.check_inputs(params, hook, plan.target, rewrites_all=params.rewrites_all)
                return plan.to_xcom()

        @task(multiple_outputs=True)
        def split_corpus(run_plan: dict) -> dict:
            from milvus_toolkit.ingest.staging import run_folder

            params, ctx = run_params(), get_current_context()
            with fail_fast():
                folder = run_folder(ctx["dag"].dag_id, ctx["run_id"])
                return pipeline.split_corpus(params, hook_for(params), folder, deletes_unlisted=True).to_xcom()

        @task
        def plan_deletes(run_plan: dict, manifest: dict) -> list[str]:
            params = run_params()
            with fail_fast():
                return pipeline.plan_deletes(params, hook_for(params), manifest, run_plan["target"])

        @task
        def prepare_target(run_plan: dict, manifest: dict, _planned: list) -> list:
            """Create the collection to write (a marked build) or check it; pass the batches on."""
            params = run_params()
            with fail_fast():
                pipeline.ensure_collection(params, hook_for(params), manifest, run_plan["target"], marks_to_set=reindex.build_marks(run_plan))
            return manifest["batches"]

        @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
        async def index_batch(batch: dict, run_plan: dict) -> dict:
            get_current_context()["batch_label"] = batch["label"]
            params = run_params()
            with fail_fast():
                return await pipeline.write_staged_batch(params, hook_for(params), batch, run_plan["target"],
                                                         mode="upsert" if params.force_reembed else "add")

        @task
        def delete_obsolete(run_plan: dict, manifest: dict, planned: list[str], _indexed: list) -> int:
            params = run_params()
            return pipeline.delete_obsolete(params, hook_for(params), manifest, planned, run_plan["target"])

        @task(multiple_outputs=False)
        def validate(run_plan: dict, manifest: dict, _deleted: int) -> dict:
            params = run_params()
            hook = hook_for(params)
            with fail_fast():
                reindex.check_unreadable_kept(hook, run_plan, manifest["scope"]["failed"])
                return pipeline.validate_collection(params, hook, manifest, collection=run_plan["target"], strict=True).summary()

        @task(multiple_outputs=False)
        def swap_alias(run_plan: dict, _validation: dict) -> dict:
            """Only after validation: point the serving name at the new build (full runs)."""
            params = run_params()
            return reindex.swap_alias(hook_for(params), run_plan, keep_builds=params.keep_builds)

        @task(outlets=[REINDEXED], multiple_outputs=False)
        def report(run_plan: dict, manifest: dict, indexed: list, deleted: int, validation: dict, swap: dict) -> dict:
            params = run_params()
            summary = reindex.summarize(params, run_plan, manifest, materialize(indexed), deleted, validation, swap)
            log_report(summary.text)
            get_current_context()["outlet_events"][REINDEXED].add(milvus_asset(params.collection), extra=summary.figures)
            return summary.figures

        @task
        def remove_staging(manifest: dict) -> None:
            """Staged chunk text never outlives the run, whether it succeeded or failed."""
            from milvus_toolkit.ingest.staging import remove_run_folder

            remove_run_folder(manifest["run_folder"])

        run_plan = plan()
        manifest = split_corpus(run_plan)
        planned = plan_deletes(run_plan, manifest)
        indexed = index_batch.partial(run_plan=run_plan).expand(batch=prepare_target(run_plan, manifest, planned))
        deleted = delete_obsolete(run_plan, manifest, planned, indexed)
        validation = validate(run_plan, manifest, deleted)
        swapped = swap_alias(run_plan, validation)
        reported = report(run_plan, manifest, indexed, deleted, validation, swapped)
        reported >> remove_staging(manifest).as_teardown(setups=manifest)

    return pipeline_dag()


reindex_dag("milvus_reindex", schedule=None,
            form={**source_and_split_params("The serving name: an alias (created on the first full run) or a plain collection."), **operational_params()})

for index in load_declarations():  # a broken declaration file is an import error naming file, index and field
    reindex_dag(index.dag_id, schedule=index.schedule, fixed=index.identity(),
                form={**operational_params(index.keep_builds), **safety_params(index.max_delete_percent)},
                doc=f"### {index.dag_id}\n\nKeeps `{index.collection}` equal to `{index.source}` (declared index `{index.name}`).\n\n" + __doc__)
