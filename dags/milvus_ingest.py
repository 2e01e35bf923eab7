"""
### milvus_ingest: split documents, index them into Milvus, prove the counts

1. **check_inputs**: params, a complete listing of the source, embedding, Milvus health, and
   an existing collection's dimension and embedding model.
2. **split_corpus**: load every file, split with langchain-text-splitters, stage the chunks in
   batch files (XCom carries only manifests). Unreadable files are listed and keep their rows.
3. **plan_deletes**: the chunks of re-read sources that their text no longer splits into,
   within the deletion budget (`max_delete_percent`), decided from the collection itself.
4. **prepare_collection**: create the collection (explicit schema) or check it.
5. **write_batch** (mapped, native async): embed and write with many `aupsert` /
   `aadd_documents` calls in flight. Chunk ids are deterministic: re-runs never duplicate.
6. **delete_obsolete**: once every batch is written, delete the planned chunks still obsolete.
7. **validate**: great-expectations checks that Milvus holds exactly what was split.
8. **report**: a summary, and the Asset `milvus://<collection>` marked updated.

`source` and `collection` are required: a run acts only on what it is given. With
`MILVUS_INGEST_TRIGGER_ASSET`, an Asset event triggers a run on the source it names.
"""

from __future__ import annotations

import os
import time

from airflow.sdk import Asset, AssetAlias, Param, dag, get_current_context, task
from milvus_toolkit.dag_defaults import DEFAULT_ARGS
from milvus_toolkit.dag_support import current_params, fail_fast, hook_for, log_report, materialize, milvus_asset, refuse_declared, source_and_split_params
from milvus_toolkit.ingest import params as p
from milvus_toolkit.ingest import pipeline

INGESTED = AssetAlias("milvus-ingest")  # resolves at run time to Asset("milvus://<collection>")
TRIGGER_ASSET = os.environ.get("MILVUS_INGEST_TRIGGER_ASSET")  # e.g. s3://bucket/docs/


def run_params() -> p.IngestParams:
    return current_params(p.parse_params)


@dag(
    dag_id="milvus_ingest",
    schedule=[Asset(TRIGGER_ASSET)] if TRIGGER_ASSET else None,
    catchup=False,
    max_active_runs=1,  # one run at a time; concurrent runs on one collection are safe anyway (milvus_toolkit.sync)
    default_args=DEFAULT_ARGS,
    tags=["milvus", "ingest", "langchain"],
    doc_md=__doc__,
    params={
        **source_and_split_params(),
        "mode": Param("upsert", enum=list(p.MODES), title="Write mode",
                      description="upsert: embed and rewrite every chunk. add: embed only chunks not yet in the collection (others get fresh metadata)."),
        "batch_size": Param(p.DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=100000, title="Batch size", description="Chunks per mapped write task."),
        "concurrency": Param(p.DEFAULT_CONCURRENCY, type="integer", minimum=1, maximum=256, title="Concurrency", description="Async write calls in flight per task."),
    },
)
def milvus_ingest():
    @task(multiple_outputs=False)
    def check_inputs() -> dict:
        params = run_params()
        with fail_fast():
            refuse_declared(params.collection, "milvus_ingest")
            return {**pipeline.check_inputs(params, hook_for(params)), "started": time.time()}

    @task(multiple_outputs=True)
    def split_corpus() -> dict:
        from milvus_toolkit.ingest.staging import run_folder

        params, ctx = run_params(), get_current_context()
        with fail_fast():
            return pipeline.split_corpus(params, hook_for(params), run_folder(ctx["dag"].dag_id, ctx["run_id"])).to_xcom()

    @task
    def plan_deletes(manifest: dict) -> list[str]:
        params = run_params()
        with fail_fast():
            return pipeline.plan_deletes(params, hook_for(params), manifest)

    @task
    def prepare_collection(manifest: dict, _planned: list) -> list:
        """Create or check the collection once, before the fan-out; pass the batches on."""
        params = run_params()
        with fail_fast():
            pipeline.ensure_collection(params, hook_for(params), manifest)
        return manifest["batches"]

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
    async def write_batch(batch: dict) -> dict:
        get_current_context()["batch_label"] = batch["label"]
        params = run_params()
        with fail_fast():
            return await pipeline.write_staged_batch(params, hook_for(params), batch)

    @task
    def delete_obsolete(manifest: dict, planned: list[str], _written: list) -> int:
        params = run_params()
        return pipeline.delete_obsolete(params, hook_for(params), manifest, planned)

    @task(multiple_outputs=False)
    def validate(manifest: dict, _deleted: int) -> dict:
        params = run_params()
        with fail_fast():
            return pipeline.validate_collection(params, hook_for(params), manifest).summary()

    @task(outlets=[INGESTED], multiple_outputs=False)
    def report(manifest: dict, written: list, deleted: int, validation: dict, checked: dict) -> dict:
        params = run_params()
        summary = pipeline.summarize(params, manifest, materialize(written), deleted, validation, time.time() - checked["started"])
        log_report(summary.text)
        get_current_context()["outlet_events"][INGESTED].add(milvus_asset(params.collection), extra=summary.figures)
        return summary.figures

    @task
    def remove_staging(manifest: dict) -> None:
        """Staged chunk text never outlives the run, whether it succeeded or failed."""
        from milvus_toolkit.ingest.staging import remove_run_folder

        remove_run_folder(manifest["run_folder"])

    checked = check_inputs()
    manifest = split_corpus()
    checked >> manifest
    planned = plan_deletes(manifest)
    written = write_batch.expand(batch=prepare_collection(manifest, planned))
    deleted = delete_obsolete(manifest, planned, written)
    validated = validate(manifest, deleted)
    reported = report(manifest, written, deleted, validated, checked)
    reported >> remove_staging(manifest).as_teardown(setups=manifest)


milvus_ingest()
