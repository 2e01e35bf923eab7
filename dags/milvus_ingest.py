"""
### milvus_ingest: split documents, index them into Milvus, prove the counts

1. **check_inputs**: params, source, embedding, Milvus health, dimension of an existing collection.
2. **split_corpus**: load every file (text, Markdown, HTML, reStructuredText, PDF, code), split
   with langchain-text-splitters, stage the chunks in batch files (XCom carries only manifests).
3. **prepare_collection**: create the collection with its explicit schema, or check it.
4. **write_batch** (mapped, one per batch, native async): embed and write with many
   `aupsert` / `aadd_documents` calls in flight. Chunk ids are deterministic: re-runs and
   retries never duplicate a row.
5. **validate**: great-expectations checks that Milvus holds exactly what was split
   (per source, total, unique ids, non-empty text, vector dimension) plus a smoke search.
6. **report**: a summary for people, and the Asset `milvus://<collection>` marked updated.

Trigger it from the UI (params form), the REST API, or `airflow dags test milvus_ingest -c '{...}'`.
"""

from __future__ import annotations

import os
import time

from airflow.sdk import Asset, AssetAlias, Param, dag, get_current_context, task
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

INGESTED = AssetAlias("milvus-ingest")  # resolves at run time to Asset("milvus://<collection>")
# Optional data-aware trigger: e.g. MILVUS_INGEST_TRIGGER_ASSET=s3://bucket/docs/
TRIGGER_ASSET = os.environ.get("MILVUS_INGEST_TRIGGER_ASSET")


@dag(
    dag_id="milvus_ingest",
    schedule=[Asset(TRIGGER_ASSET)] if TRIGGER_ASSET else None,
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["milvus", "ingest", "langchain"],
    doc_md=__doc__,
    params={
        **source_and_split_params(),
        "mode": Param("upsert", enum=list(p.MODES), title="Write mode",
                      description="upsert: write every chunk, replacing rows with the same id. add: insert only chunks not yet in the collection."),
        "batch_size": Param(p.DEFAULT_BATCH_SIZE, type="integer", minimum=1, maximum=100000, title="Batch size",
                            description="Chunks per mapped write task."),
        "concurrency": Param(p.DEFAULT_CONCURRENCY, type="integer", minimum=1, maximum=256, title="Concurrency",
                             description="Async write calls in flight per task."),
        "on_bad_file": Param("skip", enum=["skip", "fail"], title="On a bad file",
                             description="skip: list empty, binary or undecodable files and go on. fail: stop before writing anything."),
    },
)
def milvus_ingest():
    # multiple_outputs=False: TaskFlow infers True from "-> dict" and would store each key
    # again as its own XCom row.
    @task(multiple_outputs=False)
    def check_inputs() -> dict:
        from milvus_toolkit.ingest.pipeline import check_inputs as check

        params = current_params(p.parse_params)
        with fail_fast():
            return {**check(params, hook_for(params)), "started": time.time()}

    @task(multiple_outputs=True)
    def split_corpus() -> dict:
        from milvus_toolkit.ingest.pipeline import split_corpus as split
        from milvus_toolkit.ingest.staging import run_folder

        params = current_params(p.parse_params)
        ctx = get_current_context()
        with fail_fast():
            return split(params, run_folder(ctx["dag"].dag_id, ctx["run_id"])).to_xcom()

    @task
    def prepare_collection(batches: list) -> list:
        """Create or check the collection once, before the fan-out; pass the batches on."""
        from milvus_toolkit.ingest.pipeline import ensure_collection

        params = current_params(p.parse_params)
        with fail_fast():
            ensure_collection(params, hook_for(params))
        return batches

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
    async def write_batch(batch: dict) -> dict:
        from milvus_toolkit.ingest.pipeline import write_staged_batch

        get_current_context()["batch_label"] = batch["label"]
        params = current_params(p.parse_params)
        return (await write_staged_batch(params, hook_for(params), batch)).to_xcom()

    @task(multiple_outputs=False)
    def validate(manifest: dict, _written: list) -> dict:
        from milvus_toolkit.ingest.pipeline import validate_collection

        params = current_params(p.parse_params)
        with fail_fast():
            return validate_collection(params, hook_for(params), manifest).summary()

    @task(outlets=[INGESTED], multiple_outputs=False)
    def report(manifest: dict, written: list, validation: dict, checked: dict) -> dict:
        from milvus_toolkit.ingest.pipeline import summarize
        from milvus_toolkit.ingest.staging import remove_run_folder

        params = current_params(p.parse_params)
        results = materialize(written)
        summary = summarize(params, manifest, results, validation, time.time() - checked["started"])
        log_report(summary.text)
        ctx = get_current_context()
        ctx["outlet_events"][INGESTED].add(milvus_asset(params.collection), extra=summary.figures)
        remove_run_folder(manifest["run_folder"])  # staged batches are no longer needed
        return summary.figures

    checked = check_inputs()
    manifest = split_corpus()
    checked >> manifest
    written = write_batch.expand(batch=prepare_collection(manifest["batches"]))
    validated = validate(manifest, written)
    report(manifest, written, validated, checked)


milvus_ingest()
