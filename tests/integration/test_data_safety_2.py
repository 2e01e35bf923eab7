"""Data safety, round two (issue 21): each test reproduced a way to lose or corrupt data on the
toolkit as it was before, against the real Milvus of the test session. The pipeline steps run
in this process in the DAGs' order (``Run`` for ingest, ``Reindex`` for reindex)."""

from __future__ import annotations

import pytest

from milvus_toolkit import marks
from milvus_toolkit.chunk_store import count_by_source
from milvus_toolkit.sync import DeletionBudgetExceeded
from tests.integration.conftest import Reindex, Run, ids_in, split_ids
from tests.integration.test_data_safety import params_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def served_by_source(hook, alias) -> dict[str, int]:
    return count_by_source(hook, hook.describe_alias(alias) or alias)


# ---- 1. a full rebuild answers to the deletion budget too --------------------------------------


def test_a_full_rebuild_that_would_drop_most_sources_is_stopped_and_no_copy_is_lost(hook, alias, corpus):
    """Before: 9 of 10 files vanished; an incremental run stopped, but strategy=full succeeded
    with one source, and a second full run dropped the last copy of the other nine."""
    Reindex(hook, {"source": str(corpus), "collection": alias, "strategy": "full"}, "b1").all()
    served = served_by_source(hook, alias)
    first_build = hook.describe_alias(alias)
    for path in sorted(corpus.iterdir())[1:]:
        path.unlink()

    for attempt in ("b2", "b3"):
        with pytest.raises(DeletionBudgetExceeded, match="would leave out .* rows .*max_delete_percent=10"):
            Reindex(hook, {"source": str(corpus), "collection": alias, "strategy": "full"}, attempt).all()
        assert hook.describe_alias(alias) == first_build and served_by_source(hook, alias) == served
        assert not hook.has_collection(f"{alias}__{attempt}"), "refused before the build was created"

    allowed = Reindex(
        hook, {"source": str(corpus), "collection": alias, "strategy": "full", "max_delete_percent": 100}, "b4"
    )
    swapped = allowed.all()
    assert swapped["previous"] == first_build and hook.has_collection(first_build), "the full copy is the rollback copy"
    assert set(served_by_source(hook, alias)) == set(split_ids(corpus))


def test_the_swap_rechecks_the_budget_against_what_the_alias_serves_then(hook, alias, corpus, monkeypatch):
    """The alias may have moved while a build ran: the build is compared with what it would
    really replace, just before the alias moves."""
    from milvus_toolkit import reindex

    Reindex(hook, {"source": str(corpus / "release-notes.md"), "collection": alias, "strategy": "full"}, "small").all()
    big = f"{alias}__big"  # a build of this alias with every file, served since the run started
    Run(hook, params_for(corpus, big), "big").all()
    hook.set_collection_properties(big, {marks.BUILD_OF: alias})
    real_swap = reindex.swap_alias

    def swap_after_the_alias_moved(h, plan, **kw):
        h.alter_alias(alias, big)
        return real_swap(h, plan, **kw)

    monkeypatch.setattr(reindex, "swap_alias", swap_after_the_alias_moved)
    with pytest.raises(DeletionBudgetExceeded, match="would leave out"):
        Reindex(
            hook, {"source": str(corpus / "release-notes.md"), "collection": alias, "strategy": "full"}, "next"
        ).all()
    assert hook.describe_alias(alias) == big


# ---- 5. every read that decides a write, a delete or a validation is Strong ------------------


def test_rows_written_a_moment_ago_are_seen_by_the_reads_that_decide_deletes(server_hook, collection_name):
    """Before: `iter_rows` (pymilvus's query_iterator) could not get an MVCC timestamp from
    2.3.5 and used the client's clock: 100 rows inserted gave count(*) 100 but iter_rows 0."""
    hook = server_hook
    hook.create_collection(collection_name, dimension=4, primary_field="pk", varchar_fields={"source": 64})
    for start in range(0, 6000, 1500):  # several inserts: several segments
        hook.insert(
            collection_name,
            [
                {"pk": f"id-{i:05d}", "vector": [0.1, 0.2, 0.3, float(i)], "source": f"s{i % 7}"}
                for i in range(start, start + 1500)
            ],
        )
        rows = [r for batch in hook.iter_rows(collection_name, ["pk", "source"], batch_size=1000) for r in batch]
        assert len(rows) == start + 1500 == len({r["pk"] for r in rows}), "every row exactly once, at once"
    assert count_by_source(hook, collection_name) == {f"s{k}": len(range(k, 6000, 7)) for k in range(7)}
    filtered = [r for b in hook.iter_rows(collection_name, ["pk"], filter='source == "s3"', batch_size=100) for r in b]
    assert sorted(r["pk"] for r in filtered) == [f"id-{i:05d}" for i in range(3, 6000, 7)]


# ---- 6. run order comes from one clock, not from each worker's ----------------------------------


def test_a_worker_clock_ahead_does_not_keep_an_edited_files_old_chunks(
    lite_hook, collection_name, tmp_path, monkeypatch, caplog
):
    """Before: a run on a worker 1 h ahead stamped its rows 1 h in the future; an edit
    reindexed on a correct worker then kept the old chunk beside the new one (two versions
    served), and validation failed until wall time passed the stamp."""
    import time as real_time

    from milvus_toolkit import sync

    hook, folder = lite_hook, tmp_path / "docs"
    folder.mkdir()
    for n in range(12):  # one edited chunk stays within the deletion budget
        (folder / f"f{n}.md").write_text(f"# F{n}\n\nField note number {n}.\n")
    (folder / "a.md").write_text("# A\n\nThe pump runs at night.\n")
    params = params_for(folder, collection_name, milvus_conn_id="milvus_lite", mode="add")
    scheduler = real_time.time()
    ahead = real_time.time() + 3600
    monkeypatch.setattr(sync.time, "time", lambda: ahead)  # the worker's clock, one hour ahead
    Run(hook, params, "ahead", run_started=scheduler).all()
    monkeypatch.undo()

    (folder / "a.md").write_text("# A\n\nThe pump runs in the morning.\n")
    Run(hook, params, "later", run_started=scheduler + 60).all()  # validates: one version only
    assert ids_in(hook, collection_name) == sorted(i for ids in split_ids(folder).values() for i in ids)


def test_a_worker_clock_behind_the_scheduler_and_future_stamps_are_reported(
    lite_hook, collection_name, tmp_path, caplog
):
    from milvus_toolkit import sync

    hook, folder = lite_hook, tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nText.\n")
    params = params_for(folder, collection_name, milvus_conn_id="milvus_lite")
    future = sync.time.time() + 7200
    with caplog.at_level("WARNING", logger="milvus_toolkit.sync"):
        Run(hook, params, "skewed", run_started=future).all()  # this worker is 2 h behind the scheduler
        assert "This worker's clock is" in caplog.text and "behind the scheduler's" in caplog.text
        Run(hook, params, "now", run_started=sync.time.time()).all()
    assert "carry a run stamp in the future" in caplog.text and "strategy=full" in caplog.text


# ---- relative sources resolve once, and are recorded absolute ----------------------------------


def test_a_relative_source_reindexes_and_is_recorded_absolute(lite_hook, collection_name, tmp_path, monkeypatch):
    """Before: the README's own `{"source": "include/sample_corpus", ...}` failed every
    milvus_reindex run with "'include/sample_corpus' is not in the subpath of '/…'"."""
    from milvus_toolkit.ingest.params import parse_params

    (tmp_path / "docs").mkdir()
    for n in range(3):
        (tmp_path / "docs" / f"n{n}.md").write_text(f"# N{n}\n\nNote {n}.\n")
    monkeypatch.chdir(tmp_path)
    conf = {"source": "docs", "collection": collection_name, "milvus_conn_id": "milvus_lite"}
    assert parse_params({**conf, "source_root": "."}).source_root == str(tmp_path)
    Reindex(lite_hook, conf, "rel").all()
    Reindex(lite_hook, conf, "rel-again").all()  # incremental, by the alias now
    assert lite_hook.collection_properties(lite_hook.describe_alias(collection_name))[marks.SOURCE_ROOT] == str(
        tmp_path / "docs"
    )
    assert set(served_by_source(lite_hook, collection_name)) == {"n0.md", "n1.md", "n2.md"}


# ---- 4. renames: a glob reindex removes what is gone; ingest says what it no longer lists --------


def test_renames_are_removed_by_a_glob_reindex_and_reported_by_ingest(lite_hook, collection_name, tmp_path, caplog):
    """Before: ingest, rename, ingest stored both names without a word (search returned the
    content twice), and a reindex of a glob never removed a renamed or deleted file."""
    from milvus_toolkit.ingest.pipeline import summarize

    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(12):
        (folder / f"n{n}.md").write_text(f"# N{n}\n\nNote {n} about the greenhouse.\n")
    (folder / "keep.txt").write_text("not matched by the glob\n")
    ingest = params_for(folder, collection_name, milvus_conn_id="milvus_lite")
    Run(hook := lite_hook, ingest, "first").all()
    (folder / "n0.md").rename(folder / "renamed.md")

    with caplog.at_level("WARNING", logger="milvus_toolkit.sync"):
        again = Run(hook, ingest, "again")
        results, deleted = again.all()
    assert "no longer listed under this run's source" in caplog.text and "n0.md" in caplog.text
    summary = summarize(ingest, again.staged, results, deleted, {"success": True}, 1.0)
    assert (
        summary.figures["sources_no_longer_listed"] == 1
        and "n0.md" in summary.text
        and "milvus_reindex" in summary.text
    )
    assert "n0.md" in count_by_source(hook, collection_name), "ingest never deletes"

    glob = {
        "source": f"{folder}/*.md",
        "collection": collection_name,
        "milvus_conn_id": "milvus_lite",
        "source_root": str(folder),
    }
    Reindex(hook, glob, "glob").all()
    served = served_by_source(hook, collection_name)
    assert "n0.md" not in served and "renamed.md" in served and "keep.txt" in served


# ---- found by the lifecycle machine: a renamed collection must still answer -------------------


def test_a_renamed_collection_keeps_answering_so_a_rollback_to_the_legacy_copy_serves(server_hook, collection_name):
    """Found by tests/integration/test_lifecycle.py: Milvus Lite hands a renamed collection back
    released, so the legacy copy (a plain collection renamed when its name became an alias)
    could not be read once a rollback pointed the alias at it."""
    hook, legacy = server_hook, f"{collection_name}__legacy_x"
    hook.create_collection(collection_name, dimension=4, primary_field="pk")
    hook.insert(collection_name, [{"pk": "a", "vector": [0.1, 0.2, 0.3, 0.4]}])
    try:
        hook.rename_collection(collection_name, legacy)
        assert hook.count(legacy) == 1
        assert [r["pk"] for b in hook.iter_rows(legacy, ["pk"]) for r in b] == ["a"]
    finally:
        if hook.has_collection(legacy):
            hook.drop_collection(legacy)


# ---- suspected in issue 21: a crash between the legacy rename and create_alias ------------------


def test_an_ingest_into_a_name_caught_mid_move_behind_an_alias_is_refused(lite_hook, collection_name, tmp_path):
    """The worker dies after the plain collection was renamed to its legacy name and before the
    alias exists: the serving name then points at nothing. An ingest into that name created a
    new, nearly empty plain collection that searches served instead of the data; a retried swap
    then could not rename it (the legacy name is taken). Now the ingest is refused, and the
    retried swap completes."""
    from milvus_toolkit import reindex
    from milvus_toolkit.ingest.pipeline import CorpusError

    hook, folder = lite_hook, tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nThe first note.\n")
    params = params_for(folder, collection_name, milvus_conn_id="milvus_lite")
    Run(hook, params, "plain").all()
    target = f"{collection_name}__v2"
    Run(hook, params_for(folder, target, milvus_conn_id="milvus_lite"), "build").all()
    hook.set_collection_properties(target, {marks.BUILD_OF: collection_name})
    plan = reindex.Plan(
        alias=collection_name, strategy="full", target=target, serving=collection_name, build=True, run_key="k"
    )

    class WorkerDied(BaseException):
        pass

    real_create = hook.create_alias
    hook.create_alias = lambda alias, collection: (_ for _ in ()).throw(WorkerDied())
    with pytest.raises(WorkerDied):
        reindex.swap_alias(hook, plan)
    hook.create_alias = real_create
    assert not hook.has_collection(collection_name) and not hook.describe_alias(collection_name)

    with pytest.raises(CorpusError, match="being moved behind an alias"):
        Run(hook, params, "in-between")
    assert not hook.has_collection(collection_name), "nothing was created under the serving name"
    swapped = reindex.swap_alias(hook, plan)
    assert hook.describe_alias(collection_name) == target and swapped["previous"] == f"{collection_name}__legacy_v2"
