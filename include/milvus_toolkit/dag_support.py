"""Small helpers the DAG files share (Airflow is imported lazily: the rest of the package
stays importable without it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def permanent_errors() -> tuple[type[BaseException], ...]:
    """Errors a retry cannot heal: bad params or input, a collection of the wrong shape,
    a failed validation."""
    from milvus_provider.hooks.milvus import DimensionMismatchError, SchemaMismatchError, UnsupportedFeatureError
    from milvus_toolkit.rules import PermanentError

    return (PermanentError, DimensionMismatchError, SchemaMismatchError, UnsupportedFeatureError)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn permanent errors into ``AirflowFailException``: the task fails at once instead
    of waiting out its retries (which stay for transient errors)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except permanent_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def current_params(parse: Callable[[dict], T], fixed: dict | None = None) -> T:
    """The run's params (from the trigger form, ``-c`` or a triggering Asset event),
    validated by ``parse``. ``fixed`` (a declared index) wins over anything the run says."""
    from airflow.sdk import get_current_context

    with fail_fast():
        raw = {**dict(get_current_context()["params"]), **triggering_event_params(), **(fixed or {})}
        return parse(raw)


def hook_for(params):
    from milvus_provider.hooks.milvus import MilvusHook

    return MilvusHook(params.milvus_conn_id)


def milvus_asset(collection: str):
    from airflow.sdk import Asset

    return Asset(f"milvus://{collection}")


def materialize(lazy_sequence) -> list:
    """Read a mapped task's lazy XCom sequence once, item by item (iterating it reads one
    past the end and logs a spurious 'XCom not found')."""
    return [lazy_sequence[i] for i in range(len(lazy_sequence))]


def log_report(text: str, logger: str = "milvus_toolkit.report") -> None:
    """Log a multi-line report, one record per line. Printed text reaches the task log
    through stdout, which Airflow reads apart from log records, so it can land after the
    task's end, in the log view's collapsed "Post Execute" group; log records keep their
    place in the main log."""
    log = logging.getLogger(logger)
    for line in text.splitlines():
        log.info("%s", line)


def refuse_declared(collection: str, dag_id: str) -> None:
    """A declared index's collection is written only by its own DAG (one writer, one run at
    a time): a generic run into it could delete or mix what the index keeps."""
    from milvus_toolkit.declared import owner_of
    from milvus_toolkit.ingest.params import ParamsError

    owner = owner_of(collection)
    if owner is not None and owner.dag_id != dag_id:
        raise ParamsError(
            f"param 'collection': '{collection}' is kept by the declared index '{owner.name}'; run its DAG "
            f"{owner.dag_id} (or declare another collection). Nothing was changed."
        )


def triggering_event_params() -> dict:
    """What an Asset event that triggered this run names: the asset URI (or the event's
    ``extra["source"]``) is the source; ``extra`` may also carry ``collection`` and other
    params. Empty for runs not triggered by an Asset."""
    import os

    from airflow.sdk import get_current_context

    events = get_current_context().get("triggering_asset_events") or {}
    for asset, asset_events in events.items():
        for event in list(asset_events)[-1:]:
            extra = dict(getattr(event, "extra", None) or {})
            named = {"source": extra.pop("source", getattr(asset, "uri", None) or str(asset))}
            if os.environ.get("MILVUS_INGEST_TRIGGER_COLLECTION"):
                named["collection"] = os.environ["MILVUS_INGEST_TRIGGER_COLLECTION"]
            return {**named, **{k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool))}}
    return {}


def staging_teardown(listing):
    """The teardown task of a pipeline whose ``listing`` task made the run's staging folder:
    removes it whether the run succeeded or failed (call it inside the DAG)."""
    from airflow.sdk import task

    @task(task_id="remove_staging")
    def remove_staging(listing: dict) -> None:
        """Staged chunk text never outlives the run, whether it succeeded or failed."""
        from milvus_toolkit.ingest.staging import SplitPlan, remove_run_folder

        remove_run_folder(SplitPlan.of(listing).run_folder)

    return remove_staging(listing).as_teardown(setups=listing)


def split_in_shards(setup, listing):
    """The tasks between the listing and the writes, the same in every pipeline: ``split_shard``
    mapped over the listing's shards (load and split, one task per shard), then
    ``merge_shards``, whose result (the run's manifest) is returned. ``setup``: the DAG's
    params-and-hook function; ``listing``: its ``list_sources`` task's result."""
    from airflow.sdk import get_current_context, task

    from milvus_toolkit.ingest import pipeline
    from milvus_toolkit.ingest.staging import ShardRef, ShardResult, SplitPlan

    @task(map_index_template="{{ shard_label }}", max_active_tis_per_dagrun=4, multiple_outputs=False)
    def split_shard(shard: dict, listing: dict) -> dict:
        staged = ShardRef.of(shard)
        get_current_context()["shard_label"] = staged.label
        params, _hook = setup()
        with fail_fast():
            return pipeline.split_shard(params, SplitPlan.of(listing), staged).to_xcom()

    @task(multiple_outputs=True)
    def merge_shards(listing: dict, shards: list) -> dict:
        params, _hook = setup()
        with fail_fast():
            results = [ShardResult.of(result) for result in materialize(shards)]
            return pipeline.merge_shards(params, SplitPlan.of(listing), results).to_xcom()

    @task(multiple_outputs=False)
    def shards(listing: dict) -> list:
        """The listing's shards, as a list to map over (Airflow maps over a task's whole result only)."""
        return listing["shards"]

    return merge_shards(listing, split_shard.partial(listing=listing).expand(shard=shards(listing)))


def run_started() -> float:
    """When this DAG run started, on the scheduler's clock (the metadata database's
    ``start_date``): the one clock that orders runs, whatever the worker's clock says."""
    from airflow.sdk import get_current_context

    run = get_current_context()["dag_run"]
    return (run.start_date or run.run_after).timestamp()


def params_and_hook(parse: Callable[[dict], T], fixed: dict | None = None):
    """A task's validated params and a ``MilvusHook`` on their connection."""
    params = current_params(parse, fixed)
    return params, hook_for(params)
