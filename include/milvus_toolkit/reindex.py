"""Nightly reindexing: incremental by default, blue/green full rebuilds behind a Milvus alias.

Incremental: the serving collection itself says what changed (``milvus_toolkit.sync``): a
chunk whose id is already there is not embedded again (only its metadata is refreshed when
that moved); new chunks are written; once every batch succeeded, the rows of sources that
were read and no longer split into them, and of sources no longer listed, are deleted.
Unreadable sources keep their rows; a deletion budget caps what one run may delete.

Full: build a new collection marked as a build of the alias, with the same fan-out, validate
it with the same suite, and only then point the alias at it. The collection the alias left
is recorded on the new build (the rollback target); only this alias's own marked builds
beyond the retention count are dropped. ``rollback`` points the alias back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from milvus_toolkit import chunk_store, marks, sync
from milvus_toolkit.ingest.params import (
    COLLECTION_SCHEMA,
    DEFAULT_MAX_DELETE_PERCENT,
    IngestParams,
    ParamsError,
    parse_model,
)
from milvus_toolkit.ingest.staging import SplitManifest

if TYPE_CHECKING:
    from milvus_toolkit.ingest.pipeline import Summary

log = logging.getLogger(__name__)
BUILD_SEPARATOR = "__"


class ReindexParams(IngestParams):
    """The ingest params (without ``mode``: reindexing decides what to write) plus the
    reindex strategy."""

    collection: str = Field(
        title="Collection",
        description="The serving name: an alias (created on the first full run) or a plain collection.",
        json_schema_extra=COLLECTION_SCHEMA,
    )
    strategy: Literal["incremental", "full", "rollback"] = Field(
        "incremental",
        title="Strategy",
        description="incremental: write only what changed, delete what is gone. full: rebuild into a new "
        "collection, swap the alias after validation. rollback: point the alias back at the collection it left.",
    )
    force_reembed: bool = Field(
        False,
        title="Force re-embedding",
        description="Re-embed and rewrite every chunk (after changing the embedding model).",
    )
    build_collection: str | None = Field(
        None,
        title="Build collection (full)",
        description="Name of the new collection of a full rebuild (must not exist); default <collection>__<timestamp>.",
        json_schema_extra=COLLECTION_SCHEMA,
    )
    keep_builds: int = Field(
        1,
        ge=1,
        le=20,
        title="Builds kept for rollback",
        description="Earlier builds of this alias kept after a full rebuild (only builds this toolkit marked are "
        "ever dropped).",
    )

    @model_validator(mode="after")
    def _tenant_runs_are_incremental(self) -> ReindexParams:
        # A full rebuild or a re-embed rewrites the whole collection (one alias, one model),
        # which holds other tenants' rows too: refused rather than done for one tenant.
        if self.tenant and (self.strategy == "full" or self.force_reembed):
            what = "strategy=full" if self.strategy == "full" else "force_reembed=true"
            raise ValueError(
                f"{what} rebuilds the whole collection, but tenant={self.tenant!r} answers only for its own rows "
                f"(the collection holds other tenants too). Use strategy=incremental, or rebuild without tenant."
            )
        return self

    @property
    def rewrites_all(self) -> bool:
        """Every kept row is embedded again by this run (a model change is allowed)."""
        return self.strategy == "full" or self.force_reembed


def parse_reindex_params(raw: dict) -> ReindexParams:
    if raw.get("strategy") == "rollback":  # a rollback needs only the serving name
        raw = {**raw, "source": raw.get("source") or "-"}
    return parse_model(ReindexParams, {k: v for k, v in raw.items() if k != "mode"}, "reindex")


@dataclass
class Plan:
    """What this run works on (small, JSON-safe: goes through XCom)."""

    alias: str
    strategy: str
    target: str  # physical collection written and validated
    serving: str | None  # what the serving name pointed to when the run started
    build: bool  # writing into a new collection (full, or first run)
    run_key: str  # marks this run's build, so a retry recognises it
    # A build may leave out at most this share of the rows served now (as a delete would).
    max_delete_percent: float = DEFAULT_MAX_DELETE_PERCENT

    @classmethod
    def of(cls, value: Plan | dict) -> Plan:
        """Back from XCom (a dict) to the typed plan."""
        return (
            value if isinstance(value, cls) else cls(**{f.name: value[f.name] for f in fields(cls) if f.name in value})
        )

    def to_xcom(self) -> dict:
        return asdict(self)


def make_plan(params: ReindexParams, hook, run_key: str, stamp: str) -> Plan:
    """Resolve the serving name and choose the physical collection to write."""
    alias = params.collection
    pointed = hook.describe_alias(alias)
    current = pointed or (alias if hook.has_collection(alias) else None)
    build = params.strategy == "full" or current is None
    target = (params.build_collection or f"{alias}{BUILD_SEPARATOR}{stamp}") if build else current
    if build and current is not None and hook.collection_layout(current)["partition_key_field"]:
        raise ParamsError(
            f"'{alias}' holds tenants (collection '{current}' has a partition key): a full rebuild from one "
            f"source would leave every other tenant's rows behind the alias. Nothing was changed; reindex each "
            f"tenant incrementally (tenant=<name>)."
        )
    if build:
        if target in (current, alias):
            raise ParamsError(f"param 'build_collection': {target!r} is the collection being served; choose a new name")
        if hook.has_collection(target) and not is_build_of(hook.collection_properties(target), alias, run_key):
            raise ParamsError(
                f"param 'build_collection': collection {target!r} already exists and is not a build this run "
                f"made; it was left untouched. Choose a new name (or leave build_collection empty)."
            )
    plan = Plan(alias, params.strategy, target, current, build, run_key, params.max_delete_percent)
    log.info(
        "Reindex '%s' (%s): writing '%s'%s; serving '%s' until then",
        alias,
        "full rebuild" if build else "incremental",
        target,
        " (new collection)" if build else "",
        current or "nothing yet",
    )
    return plan


def is_build_of(props: dict, alias: str, run_key: str | None = None) -> bool:
    return props.get(marks.BUILD_OF) == alias and (run_key is None or props.get(marks.BUILD_RUN) == run_key)


def build_marks(plan: Plan) -> dict | None:
    return {marks.BUILD_OF: plan.alias, marks.BUILD_RUN: plan.run_key} if plan.build else None


def check_build_budget(hook, plan: Plan, serving: str | None, kept_sources) -> None:
    """A full rebuild replaces what the alias serves: the sources it leaves out count against
    ``max_delete_percent`` like the deletes of an incremental run. Checked before the build
    is created (against the sources read) and again just before the alias moves (against the
    build's own rows and what the alias serves at that moment)."""
    if not (plan.build and serving and hook.has_collection(serving)):
        return
    served = chunk_store.count_by_source(hook, serving)
    kept = set(kept_sources)
    left_out = {source: rows for source, rows in served.items() if source not in kept}
    sync.check_budget(
        serving,
        sum(left_out.values()),
        sum(served.values()),
        plan.max_delete_percent,
        build=plan.target,
        sources=left_out,
    )


def prepare_target(params: ReindexParams, hook, plan: Plan, manifest: SplitManifest) -> list[dict]:
    """Before anything is written: a build within the budget, then the planned deletes and the
    target (a marked build, or the serving collection checked). Returns the batches."""
    from milvus_toolkit.ingest import pipeline

    scope = manifest.scope
    check_build_budget(hook, plan, plan.serving, scope.loaded)
    return pipeline.prepare(params, hook, manifest, plan.target, marks_to_set=build_marks(plan))


def check_unreadable_kept(hook, plan: Plan, manifest: SplitManifest) -> None:
    """A new build holds only what was read: refuse to serve it while the collection it
    replaces still holds rows of sources that could not be read this time."""
    serving, failed_sources = plan.serving, manifest.scope.failed
    if not (plan.build and serving and failed_sources):
        return
    from milvus_toolkit.ingest.validation import ValidationFailed

    counts = chunk_store.count_by_source(hook, serving)
    lost = {source: counts[source] for source in failed_sources if counts.get(source)}
    if lost:
        listed = ", ".join(f"{source} ({rows} rows)" for source, rows in sorted(lost.items())[:20])
        raise ValidationFailed(
            f"the new build '{plan.target}' lacks {len(lost)} source(s) that could not be read this run but are "
            f"served now: {listed}. The alias was not moved (their rows would stop being served). Fix or remove "
            f"those files, then run again."
        )


def validate_target(params: ReindexParams, hook, plan: Plan, manifest: SplitManifest):
    """The strict count suite on the collection this run wrote. A build must also not drop
    unreadable sources that are served now; a ``force_reembed`` run records its model once
    the collection is proven complete. With an evaluation set, a build must also pass the
    quality gate against what the alias serves (else the run fails here, before the swap)."""
    from milvus_toolkit.ingest.pipeline import record_rewritten_model, validate_collection

    check_unreadable_kept(hook, plan, manifest)
    serving = (hook.describe_alias(plan.alias) or plan.serving) if plan.build else None
    report = validate_collection(
        params, hook, manifest, collection=plan.target, strict=True, build=plan.build, serving=serving
    )
    if params.force_reembed:
        record_rewritten_model(params, hook, manifest, plan.target)
    return report


def swap_alias(hook, plan: Plan, keep_builds: int = 1) -> dict:
    """Point the serving name at the validated build. Safe to retry at any step: the state
    is read back from Milvus each time.

    The collection the alias really left is recorded on the new build (the rollback target).
    A plain collection carrying the serving name is first marked and renamed to
    ``<name>__legacy_<stamp>``; if the alias cannot be created then, the rename is undone."""
    alias, target = plan.alias, plan.target
    if not plan.build:
        return {"alias": alias, "serving": target, "swapped": False, "previous": plan.serving, "dropped": []}
    current = hook.describe_alias(alias)
    if current != target:  # what the alias serves now, against what the build really holds
        check_build_budget(
            hook,
            plan,
            current or (alias if hook.has_collection(alias) else None),
            chunk_store.count_by_source(hook, target),
        )
    if current == target:  # a retry after the alias moved
        previous = hook.collection_properties(target).get(marks.PREVIOUS)
    elif current is not None:
        previous = current
        hook.set_collection_properties(target, {marks.PREVIOUS: previous})
        hook.alter_alias(alias, target)
    else:
        previous = _retire_plain_collection(hook, alias, target)
        if previous:
            hook.set_collection_properties(target, {marks.PREVIOUS: previous})
        try:
            hook.create_alias(alias, target)
        except Exception:
            if previous and not hook.has_collection(alias):
                hook.rename_collection(previous, alias)  # serve the old data under its name again
                log.error("Creating alias '%s' failed; renamed '%s' back to '%s'", alias, previous, alias)
            raise
    log.info("Alias '%s' now serves '%s' (rollback copy: '%s')", alias, target, previous)
    dropped = drop_old_builds(hook, alias, serving=target, previous=previous, keep_builds=keep_builds)
    return {"alias": alias, "serving": target, "swapped": True, "previous": previous, "dropped": dropped}


def _retire_plain_collection(hook, alias: str, target: str) -> str | None:
    """Free the serving name for the alias: rename a plain collection of that name (marked
    first, so a retry after the rename finds it). Returns its new name, if any."""
    if hook.has_collection(alias):
        legacy = f"{alias}{BUILD_SEPARATOR}legacy_{target.rsplit(BUILD_SEPARATOR, 1)[-1]}"
        hook.set_collection_properties(alias, {marks.LEGACY_OF: alias})
        hook.rename_collection(alias, legacy)
        log.info("Renamed plain collection '%s' to '%s' (kept for rollback, never dropped)", alias, legacy)
        return legacy
    legacies = marks.legacy_copies(hook, alias)
    return legacies[-1] if legacies else None


def drop_old_builds(hook, alias: str, *, serving: str, previous: str | None, keep_builds: int) -> list[str]:
    """Drop this alias's own builds (marked ``build_of``) beyond the ``keep_builds`` rollback
    copies (the previous collection first, then the newest). Unmarked collections and
    legacy copies are never dropped."""
    builds = []
    for name in hook.list_collections():
        if name in (serving, previous):
            continue
        info = hook.describe_collection(name)
        if is_build_of(dict(info.get("properties") or {}), alias):
            builds.append((info.get("created_timestamp", 0), name))
    spare = keep_builds - (1 if previous else 0)
    dropped = [name for _, name in sorted(builds, reverse=True)[max(spare, 0) :]]
    for name in dropped:
        hook.drop_collection(name)
        log.info("Dropped old build '%s' of '%s'", name, alias)
    return dropped


def rollback(hook, alias: str) -> dict:
    """Point the alias back at the collection it left when it last moved."""
    current = hook.describe_alias(alias)
    if current is None:
        raise ParamsError(f"param 'collection': {alias!r} is not an alias; there is nothing to roll back")
    previous = hook.collection_properties(current).get(marks.PREVIOUS)
    if not previous or not hook.has_collection(previous):
        raise ParamsError(
            f"'{alias}' serves '{current}', which records no earlier collection that still exists; nothing was changed"
        )
    props = hook.collection_properties(previous)
    if not (is_build_of(props, alias) or props.get(marks.LEGACY_OF) == alias):
        raise ParamsError(f"'{previous}' is not a build of '{alias}'; nothing was changed")
    hook.set_collection_properties(previous, {marks.PREVIOUS: current})
    hook.alter_alias(alias, previous)
    log.info("Rolled back: alias '%s' now serves '%s' again (was '%s')", alias, previous, current)
    return {"alias": alias, "serving": previous, "rolled_back_from": current}


def run_stamp(when: datetime) -> str:
    return re.sub(r"[^0-9T]", "", when.strftime("%Y%m%dT%H%M%S"))


def summarize(
    params: ReindexParams,
    plan: Plan,
    manifest: SplitManifest,
    indexed: list[dict],
    deleted: int,
    validation: dict,
    swap: dict,
) -> Summary:
    """What the run did, for people (text) and for the Asset event (figures): the ingest's
    ``Summary`` type."""
    from milvus_toolkit.ingest.pipeline import Summary, unchanged_lines

    total = {
        key: sum(r.get(key, 0) for r in indexed) for key in ("new", "rewritten", "refreshed", "unchanged", "written")
    }
    bad = manifest.record().bad_files
    figures = {
        "collection": params.collection,
        "strategy": "full" if plan.build else "incremental",
        "target": plan.target,
        "serving": swap.get("serving", plan.target),
        "files": manifest.files_loaded,
        "files_skipped": manifest.bad_files,
        "files_unchanged": manifest.files_unchanged,
        "files_verified": manifest.files_verified,
        "chunks": manifest.chunks,
        "added": total["new"],
        "updated": total["rewritten"] + total["refreshed"],
        "skipped": total["unchanged"] + manifest.chunks_unchanged,  # unchanged sources' rows too
        "deleted": deleted,
        "embedded": total["written"],
        "validation": "passed" if validation.get("success") else "FAILED",
        "dropped": swap.get("dropped", []),
    }
    lines = [
        f"Reindex of '{params.collection}' ({figures['strategy']}) into '{plan.target}'",
        f"  corpus   : {figures['files']} files ({figures['files_skipped']} skipped), {figures['chunks']} chunks",
        *(f"             skipped {b['source']} (its rows are kept): {b['reason']}" for b in bad[:20]),
        *unchanged_lines(manifest),
        f"  changes  : {figures['added']} added, {figures['updated']} updated, {figures['skipped']} skipped, "
        f"{deleted} deleted",
        f"  embedded : {figures['embedded']} texts",
        f"  validate : {figures['validation']} ({validation.get('rows_for_these_sources', '?')} rows, "
        f"{validation.get('sources', '?')} sources)",
    ]
    if validation.get("quality"):  # scores, the gate and a force_swap override (milvus_toolkit.evaluation)
        from milvus_toolkit.ingest.pipeline import quality_figures, quality_line

        lines.append(quality_line(validation["quality"]))
        figures.update(quality_figures(validation["quality"]))
    if swap.get("swapped"):
        lines.append(
            f"  alias    : '{params.collection}' -> '{swap['serving']}' (rollback copy: '{swap.get('previous')}'; "
            f"dropped {swap['dropped'] or 'none'})"
        )
    else:
        lines.append(f"  serving  : '{figures['serving']}'")
    return Summary("\n".join(lines), figures)
