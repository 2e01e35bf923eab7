"""
### milvus_reindex: keep a Milvus collection equal to its corpus

**incremental**: unchanged chunks are not embedded again; chunks of changed or deleted files
are deleted after every batch succeeded (never those of unreadable files, at most
`max_delete_percent`). **full**: blue/green rebuild, validated before the alias moves (with
`evaluation`, also gated on retrieval quality against what the alias serves: docs/quality.md).
**rollback**: the alias goes back. Run by hand with `source` and `collection`; each index in
`include/indexes.yaml` gets a scheduled `milvus_reindex__<name>` with a fixed identity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from airflow.sdk import AssetAlias, dag, get_current_context, task

from milvus_toolkit import reindex
from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import (
    fail_fast,
    log_report,
    materialize,
    milvus_asset,
    params_and_hook,
    refuse_declared,
    run_started,
    split_in_shards,
    staging_teardown,
)
from milvus_toolkit.declared import load_declarations
from milvus_toolkit.forms import declared_reindex_form, reindex_form
from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.staging import BatchRef, SplitManifest, run_folder
from milvus_toolkit.view_figures import strong_count, view_figures

REINDEXED = AssetAlias("milvus-reindex")  # resolves at run time to Asset("milvus://<collection>")


def reindex_dag(dag_id: str, *, schedule: str | None, form: dict, fixed: dict | None = None, doc: str = __doc__):
    """One reindex pipeline; ``fixed``: a declared index's identity, which a run's conf cannot override."""
    setup = partial(params_and_hook, reindex.parse_reindex_params, fixed)

    @dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["milvus", "reindex"],
        doc_md=doc,
        params=form,
    )
    def pipeline_dag():
        @task.short_circuit
        def plan() -> dict:
            (params, hook), run = setup(), get_current_context()["dag_run"]
            with fail_fast():
                refuse_declared(params.collection, dag_id)
                if params.strategy == "rollback":
                    log_report(str(reindex.rollback(hook, params.collection)))
                    return {}  # falsy: the rest is skipped
                plan = reindex.make_plan(
                    params, hook, run_key=f"{dag_id}/{run.run_id}", stamp=reindex.run_stamp(run.run_after)
                )
                pipeline.check_inputs(params, hook, plan.target, rewrites_all=params.rewrites_all)
                return plan.to_xcom()

        @task(multiple_outputs=False)
        def list_sources(_plan: dict) -> dict:
            (params, hook), ctx = setup(), get_current_context()
            with fail_fast():
                return pipeline.list_sources(
                    params, hook, run_folder(dag_id, ctx["run_id"]), deletes_unlisted=True, run_started=run_started()
                ).to_xcom()

        @task
        def prepare_target(run_plan: dict, manifest: dict) -> list:
            """Plan the deletes (within the budget), create the target (a marked build) or check it."""
            with fail_fast():
                return reindex.prepare_target(*setup(), reindex.Plan.of(run_plan), SplitManifest.of(manifest))

        @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
        async def index_batch(batch: dict, run_plan: dict) -> dict:
            staged, target = BatchRef.of(batch), reindex.Plan.of(run_plan).target
            get_current_context()["batch_label"] = staged.label
            params, hook = setup()
            with fail_fast():
                return await pipeline.write_staged_batch(
                    params, hook, staged, target, mode="upsert" if params.force_reembed else "add"
                )

        @task
        def delete_obsolete(run_plan: dict, manifest: dict, _indexed: list) -> int:
            return pipeline.delete_obsolete(*setup(), SplitManifest.of(manifest), reindex.Plan.of(run_plan).target)

        @task(multiple_outputs=False)
        def validate(run_plan: dict, manifest: dict, _deleted: int) -> dict:
            """Counts, then (with `evaluation`) retrieval quality; a build the quality gate refuses fails here."""
            with fail_fast():
                return reindex.validate_target(
                    *setup(), reindex.Plan.of(run_plan), SplitManifest.of(manifest)
                ).summary()

        @task(multiple_outputs=False)
        def swap_alias(run_plan: dict, _validation: dict) -> dict:  # only after validation
            params, hook = setup()
            with fail_fast():  # a build over the deletion budget is refused, not retried
                return reindex.swap_alias(hook, reindex.Plan.of(run_plan), keep_builds=params.keep_builds)

        @task(outlets=[REINDEXED], multiple_outputs=False)
        def report(run_plan: dict, manifest: dict, indexed: list, deleted: int, validation: dict, swap: dict) -> dict:
            params, hook = setup()
            typed = reindex.Plan.of(run_plan), SplitManifest.of(manifest)
            summary = reindex.summarize(params, *typed, materialize(indexed), deleted, validation, swap)
            log_report(summary.text)
            extra = view_figures(
                summary.figures, validation, rows=strong_count(hook, params.collection), started=run_started()
            )
            get_current_context()["outlet_events"][REINDEXED].add(milvus_asset(params.collection), extra=extra)
            return summary.figures

        run_plan = plan()
        listing = list_sources(run_plan)
        manifest = split_in_shards(setup, listing)
        indexed = index_batch.partial(run_plan=run_plan).expand(batch=prepare_target(run_plan, manifest))
        deleted = delete_obsolete(run_plan, manifest, indexed)
        validation = validate(run_plan, manifest, deleted)
        report(run_plan, manifest, indexed, deleted, validation, swap_alias(run_plan, validation)) >> staging_teardown(
            listing
        )

    return pipeline_dag()


reindex_dag("milvus_reindex", schedule=None, form=reindex_form())
for index in load_declarations():  # a broken declaration file is an import error naming file, index and field
    reindex_dag(
        index.dag_id,
        schedule=index.schedule,
        fixed=index.identity(),
        form=declared_reindex_form(index),
        doc=index.doc() + __doc__,
    )
