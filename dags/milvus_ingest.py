"""
### milvus_ingest: split documents, index them into Milvus, prove the counts

check_inputs → list_sources → split_shard (mapped: load and split one shard of sources) →
merge_shards → prepare_collection (plans deletes within the budget) → write_batch (mapped, async)
→ delete_obsolete → validate → report (+ remove_staging, a teardown). Re-ingesting a source
replaces its chunk set; unreadable files keep their rows; at most `max_delete_percent` of the
collection is deleted. With `evaluation`, validate also scores retrieval quality (docs/quality.md).
`source` and `collection` are required. With
`MILVUS_INGEST_TRIGGER_ASSET`, an Asset event triggers a run on the source it names.
"""

from __future__ import annotations

import os
import time
from functools import partial

from airflow.sdk import Asset, AssetAlias, dag, get_current_context, task

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
from milvus_toolkit.forms import ingest_form
from milvus_toolkit.ingest import params as p
from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.staging import BatchRef, SplitManifest, run_folder
from milvus_toolkit.view_figures import strong_count, view_figures

INGESTED = AssetAlias("milvus-ingest")  # resolves at run time to Asset("milvus://<collection>")
TRIGGER_ASSET = os.environ.get("MILVUS_INGEST_TRIGGER_ASSET")  # e.g. s3://bucket/docs/


setup = partial(params_and_hook, p.parse_params)


@dag(
    dag_id="milvus_ingest",
    schedule=[Asset(TRIGGER_ASSET)] if TRIGGER_ASSET else None,
    catchup=False,
    max_active_runs=1,  # one run at a time; concurrent runs on one collection are safe anyway (milvus_toolkit.sync)
    default_args=DEFAULT_ARGS,
    tags=["milvus", "ingest", "langchain"],
    doc_md=__doc__,
    params=ingest_form(),
)
def milvus_ingest():
    @task(multiple_outputs=False)
    def check_inputs() -> dict:
        params, hook = setup()
        with fail_fast():
            refuse_declared(params.collection, "milvus_ingest")
            return {**pipeline.check_inputs(params, hook), "started": time.time()}

    @task(multiple_outputs=False)
    def list_sources() -> dict:
        (params, hook), ctx = setup(), get_current_context()
        with fail_fast():
            return pipeline.list_sources(
                params, hook, run_folder(ctx["dag"].dag_id, ctx["run_id"]), run_started=run_started()
            ).to_xcom()

    @task
    def prepare_collection(manifest: dict) -> list:
        """Plan the deletes (within the budget), create or check the collection; hand out the batches."""
        with fail_fast():
            return pipeline.prepare(*setup(), SplitManifest.of(manifest))

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
    async def write_batch(batch: dict) -> dict:
        staged = BatchRef.of(batch)
        get_current_context()["batch_label"] = staged.label
        with fail_fast():
            return await pipeline.write_staged_batch(*setup(), staged)

    @task
    def delete_obsolete(manifest: dict, _written: list) -> int:
        return pipeline.delete_obsolete(*setup(), SplitManifest.of(manifest))

    @task(multiple_outputs=False)
    def validate(manifest: dict, _deleted: int) -> dict:
        with fail_fast():
            return pipeline.validate_collection(*setup(), SplitManifest.of(manifest)).summary()

    @task(outlets=[INGESTED], multiple_outputs=False)
    def report(manifest: dict, written: list, deleted: int, validation: dict, checked: dict) -> dict:
        params, hook = setup()
        summary = pipeline.summarize(
            params,
            SplitManifest.of(manifest),
            materialize(written),
            deleted,
            validation,
            time.time() - checked["started"],
        )
        log_report(summary.text)
        extra = view_figures(summary.figures, validation, rows=strong_count(hook, params.collection))
        get_current_context()["outlet_events"][INGESTED].add(milvus_asset(params.collection), extra=extra)
        return summary.figures

    checked = check_inputs()
    listing = list_sources()
    checked >> listing
    manifest = split_in_shards(setup, listing)
    written = write_batch.expand(batch=prepare_collection(manifest))
    deleted = delete_obsolete(manifest, written)
    reported = report(manifest, written, deleted, validate(manifest, deleted), checked)
    reported >> staging_teardown(listing)


milvus_ingest()
