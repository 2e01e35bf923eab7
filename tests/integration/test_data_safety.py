"""The toolkit's promises about a user's data (README, "What the toolkit promises about your
data"), each reproduced against the real Milvus of the test session, through real Airflow
where the scenario is about how a run is started or ends (no conf, a declared index, the
teardown of a failed run, the rollback's short circuit); the other runs take the DAGs' steps
in this process (``Run``, ``Reindex`` in conftest.py).

Every test here failed on the toolkit as it was before these promises were kept (issue 10).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from langchain_core.documents import Document

from milvus_toolkit import chunk_store, marks
from milvus_toolkit import reindex as reindexing
from milvus_toolkit.chunk_store import CollectionSpec, count_by_source
from milvus_toolkit.embeddings import get_embeddings
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.ingest.pipeline import check_inputs
from tests.integration.conftest import Run, ids_in, split_ids
from tests.integration.test_reindex import changes, reindex, reindexed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]


def params_for(source, collection, **extra):
    return parse_params({"source": str(source), "collection": collection, "embedding": "deterministic", **extra})


def dags_test(env, dag_id, conf=None, timeout=600):
    command = ["airflow", "dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf is not None else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    result.output = result.stdout + result.stderr  # type: ignore[attr-defined]
    return result


# ---- a run acts only on what it is given ------------------------------------------------------


@pytest.mark.airflow
def test_runs_without_conf_fail_before_touching_anything(airflow_env, hook, collection_name, tmp_path):
    """Before: an unpaused milvus_reindex reindexed the sample corpus into `documents` at 02:00
    and deleted every row of the user's own corpus there."""
    user = tmp_path / "user-docs"
    user.mkdir()
    (user / "mine.md").write_text("# Mine\n\nThe user's own document about greenhouse sensors.\n")
    Run(hook, params_for(user, collection_name), "user").all()
    before = ids_in(hook, collection_name)

    for dag_id in ("milvus_reindex", "milvus_ingest"):
        result = dags_test(airflow_env, dag_id)  # as the scheduler starts it: no conf
        assert result.returncode != 0, dag_id
        assert "param 'source': is required" in result.output and "param 'collection': is required" in result.output
    assert ids_in(hook, collection_name) == before


@pytest.mark.airflow
def test_a_declared_index_dag_runs_its_declaration_and_nothing_else(airflow_env, hook, alias, corpus, tmp_path):
    collection_name = alias
    declarations = tmp_path / "indexes.yaml"
    declarations.write_text(
        "indexes:\n"
        f"  - name: field_docs\n    source: {corpus}\n    collection: {collection_name}\n"
        "    embedding: deterministic\n    schedule: '0 3 * * *'\n"
    )
    env = {**airflow_env, "MILVUS_TOOLKIT_INDEXES": str(declarations)}
    # A run's conf cannot point a declared index at another corpus or collection: the run does
    # its declaration, as a scheduled run (no conf) does. (A declared DAG's run without conf is
    # run through Airflow by test_readme_commands.py: the README's `milvus_reindex__sample_corpus`.)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.md").write_text("# Other\n\nSomething else entirely.\n")
    overridden = dags_test(env, "milvus_reindex__field_docs", {"source": str(elsewhere), "collection": "other_docs"})
    assert overridden.returncode == 0, overridden.output[-4000:]
    expected = {source: len(ids) for source, ids in split_ids(corpus).items()}
    assert count_by_source(hook, collection_name) == expected and not hook.has_collection("other_docs")

    # And the generic DAGs do not write into a declared index's collection.
    generic = dags_test(
        env, "milvus_ingest", {"source": str(elsewhere), "collection": collection_name, "embedding": "deterministic"}
    )
    assert generic.returncode != 0 and "is kept by the declared index 'field_docs'" in generic.output
    assert count_by_source(hook, collection_name) == expected


# ---- never delete what could not be read; a budget on deletes --------------------------------


def test_files_that_cannot_be_read_this_time_keep_their_rows(hook, corpus, alias):
    """Before: a file being rewritten (0 bytes) or undecodable was skipped and its chunks
    were deleted from the serving collection."""
    reindexed(hook, {"source": str(corpus), "collection": alias}, "first")
    before = count_by_source(hook, alias)
    (corpus / "grower-faq.txt").write_bytes(b"")
    (corpus / "release-notes.md").write_bytes(bytes(range(128, 256)) * 40)

    result = reindexed(hook, {"source": str(corpus), "collection": alias}, "second")
    assert changes(result)["deleted"] == 0
    assert "skipped grower-faq.txt (its rows are kept): empty file" in result.summary.text
    assert "skipped release-notes.md (its rows are kept)" in result.summary.text
    assert count_by_source(hook, alias) == before


@pytest.mark.airflow
def test_the_deletion_budget_stops_a_run_before_it_writes_or_deletes(airflow_env, hook, corpus, alias):
    reindexed(hook, {"source": str(corpus), "collection": alias}, "first")
    before = ids_in(hook, alias)
    for name in ("grower-faq.txt", "operations-handbook.md", "release-notes.md"):
        (corpus / name).unlink()
    (corpus / "new.md").write_text("# New\n\nA new page about frost protection.\n")

    stopped = reindex(airflow_env, {"source": str(corpus), "collection": alias}, check=False)  # and its teardown
    assert stopped.returncode != 0 and "DeletionBudgetExceeded" in stopped.output
    assert "more than max_delete_percent=10 allows. Nothing was written or deleted" in stopped.output
    assert ids_in(hook, alias) == before, "not even the new file was written"
    staged = list(Path(airflow_env["MILVUS_TOOLKIT_STAGING"]).glob("milvus_reindex-*/*/*"))
    assert staged == [], f"the failed run's staged chunk text was removed by the teardown: {staged}"

    allowed = reindexed(hook, {"source": str(corpus), "collection": alias, "max_delete_percent": 100}, "allowed")
    assert changes(allowed)["deleted"] > 0
    assert set(count_by_source(hook, alias)) == set(split_ids(corpus))


def test_a_dropped_and_recreated_collection_starts_clean(hook, collection_name, corpus):
    """Before: records outlived the collection, so its chunks were "skipped" and never written."""
    params = params_for(corpus, collection_name, mode="add")
    Run(hook, params, "first").all()
    total = hook.count(collection_name)
    hook.drop_collection(collection_name)
    results, _ = Run(hook, params, "again").all()
    assert sum(r["written"] for r in results) == total == hook.count(collection_name)


# ---- blue/green touches only its own builds ---------------------------------------------------


@pytest.mark.airflow
def test_full_rebuilds_drop_only_their_own_marked_builds_and_rollback_returns(airflow_env, hook, corpus, alias):
    """Before: the swap dropped every `<alias>__*` collection, a user's archive included."""
    archive = f"{alias}__archive"
    store = chunk_store.vector_store(
        hook, CollectionSpec(name=archive, dim=384), get_embeddings("deterministic").embeddings
    )
    store.add_documents([Document("archived", metadata={"source": "old.md"})], ids=["archived-1"])
    source = str(corpus / "release-notes.md")
    for build in ("b1", "b2", "b3"):
        reindexed(
            hook,
            {"source": source, "collection": alias, "strategy": "full", "build_collection": f"{alias}__{build}"},
            build,
        )
    assert hook.describe_alias(alias) == f"{alias}__b3"
    assert not hook.has_collection(f"{alias}__b1"), "its own old build is dropped"
    assert ids_in(hook, archive) == ["archived-1"], "a collection it did not build is never dropped"

    rolled = reindex(airflow_env, {"collection": alias, "strategy": "rollback"})  # the DAG's short circuit
    assert "rolled_back_from" in rolled.output
    assert hook.describe_alias(alias) == f"{alias}__b2"


def test_a_failed_alias_creation_undoes_the_legacy_rename_and_a_retry_completes(hook, collection_name, corpus):
    """Before: the plain collection was renamed, create_alias failed, and the serving name
    pointed at nothing on every retry."""
    Run(hook, params_for(corpus / "release-notes.md", collection_name), "plain").all()
    rows = hook.count(collection_name)
    target = f"{collection_name}__v2"
    Run(hook, params_for(corpus / "release-notes.md", target), "build").all()
    plan = reindexing.Plan(
        alias=collection_name, strategy="full", target=target, serving=collection_name, build=True, run_key="k"
    )

    real_create = hook.create_alias
    hook.create_alias = lambda alias, collection: (_ for _ in ()).throw(RuntimeError("create_alias refused"))
    with pytest.raises(RuntimeError, match="create_alias refused"):
        reindexing.swap_alias(hook, plan)
    assert hook.describe_alias(collection_name) is None and hook.count(collection_name) == rows, "served as before"

    hook.create_alias = real_create
    swapped = reindexing.swap_alias(hook, plan)
    assert hook.describe_alias(collection_name) == target
    assert swapped["previous"] == f"{collection_name}__legacy_v2" and hook.count(swapped["previous"]) == rows
    assert reindexing.swap_alias(hook, plan)["previous"] == swapped["previous"], (
        "a retry after the move changes nothing"
    )
    for name in (collection_name, target, swapped["previous"]):
        if hook.describe_alias(name):
            hook.drop_alias(name)
        if hook.has_collection(name):
            hook.drop_collection(name)


def test_the_rollback_copy_is_what_the_alias_really_left(hook, collection_name, corpus):
    alias = collection_name
    source = corpus / "release-notes.md"
    for name in ("blue", "green", "next"):
        Run(hook, params_for(source, f"{alias}__{name}"), name).all()
        hook.set_collection_properties(f"{alias}__{name}", {marks.BUILD_OF: alias})
    hook.create_alias(alias, f"{alias}__blue")
    plan = reindexing.Plan(
        alias=alias, strategy="full", target=f"{alias}__next", serving=f"{alias}__blue", build=True, run_key="k"
    )
    hook.alter_alias(alias, f"{alias}__green")  # someone moved it while the build ran
    try:
        swapped = reindexing.swap_alias(hook, plan, keep_builds=1)
        assert swapped["previous"] == f"{alias}__green"
        assert hook.collection_properties(f"{alias}__next")[marks.PREVIOUS] == f"{alias}__green"
        assert swapped["dropped"] == [f"{alias}__blue"]
    finally:
        hook.drop_alias(alias)
        for name in ("blue", "green", "next"):
            if hook.has_collection(f"{alias}__{name}"):
                hook.drop_collection(f"{alias}__{name}")


# ---- ingest replaces each source's chunk set ------------------------------------------------


def test_reingesting_an_edited_or_resplit_file_leaves_no_stale_chunks(hook, collection_name, corpus):
    """Before: shrinking a file or changing chunk_size and re-ingesting left the old chunks."""
    Run(hook, params_for(corpus, collection_name), "v1").all()
    other_sources = {s: n for s, n in count_by_source(hook, collection_name).items() if s != "maintenance-guide.md"}
    guide = corpus / "maintenance-guide.md"
    guide.write_text(guide.read_text()[:1500])
    Run(hook, params_for(guide, collection_name, source_root=str(corpus), max_delete_percent=100), "shrunk").all()
    assert ids_in(hook, collection_name) == sorted(set().union(*split_ids(corpus).values())), (
        "exactly the current chunks of every file"
    )

    resplit = params_for(corpus, collection_name, chunk_size=400, chunk_overlap=50, max_delete_percent=100)
    Run(hook, resplit, "resplit").all()
    counts = count_by_source(hook, collection_name)
    assert set(counts) == set(other_sources) | {"maintenance-guide.md"}
    assert hook.count(collection_name) == sum(counts.values()) > sum(other_sources.values())


def test_a_subfolder_keeps_the_names_of_the_root_it_was_first_ingested_under(hook, collection_name, tmp_path):
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / "guide" / "intro.md").write_text("# Intro\n\nHow to start the harvest robot.\n")
    (root / "faq.md").write_text("# FAQ\n\nQuestions growers ask.\n")
    Run(hook, params_for(root, collection_name), "root").all()
    before = ids_in(hook, collection_name)

    Run(hook, params_for(root / "guide", collection_name), "sub").all()  # no source_root given
    assert set(count_by_source(hook, collection_name)) == {"guide/intro.md", "faq.md"}
    assert ids_in(hook, collection_name) == before, "the same file never gets a second set of rows"

    outside = tmp_path / "other"
    outside.mkdir()
    (outside / "x.md").write_text("# X\n\nElsewhere.\n")
    with pytest.raises(Exception, match="names its sources relative to"):
        check_inputs(params_for(outside, collection_name), hook)


def test_two_interleaved_runs_never_delete_each_others_rows_or_duplicate(hook, collection_name, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    page = folder / "page.md"
    page.write_text("# Page\n\nVersion one of the page.\n\nA paragraph both versions share.\n")
    older = Run(
        hook, params_for(folder, collection_name, chunk_size=60, chunk_overlap=0, max_delete_percent=100), "older"
    )
    page.write_text("# Page\n\nVersion two of the page.\n\nA paragraph both versions share.\n")
    newer = Run(
        hook, params_for(folder, collection_name, chunk_size=60, chunk_overlap=0, max_delete_percent=100), "newer"
    )
    newer.all(validate=False)
    newer_ids = set(ids_in(hook, collection_name))

    older.plan()  # the older run finishes last
    older.write()
    older.delete()
    ids = ids_in(hook, collection_name)
    assert len(ids) == len(set(ids)), "no duplicates"
    assert newer_ids <= set(ids), "the run that started later keeps every row it wrote"


# ---- one model per collection; fresh metadata without re-embedding ---------------------------


def test_another_embedding_model_is_refused_before_anything_is_written(hook, collection_name, corpus, monkeypatch):
    Run(hook, params_for(corpus / "release-notes.md", collection_name), "deterministic").all()
    before = ids_in(hook, collection_name)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")  # the refusal comes before any API call
    other = parse_params(
        {
            "source": str(corpus / "release-notes.md"),
            "collection": collection_name,
            "embedding": "openai",
            "embedding_dim": 384,
        }
    )
    with pytest.raises(marks.EmbeddingMismatchError, match="holds vectors of 'deterministic-384/384'"):
        check_inputs(other, hook)
    assert ids_in(hook, collection_name) == before


def test_unchanged_chunks_get_fresh_metadata_without_being_embedded_again(hook, collection_name, tmp_path):
    """Before: an unchanged chunk kept its old h1-h3 / page after an incremental run."""
    folder = tmp_path / "docs"
    folder.mkdir()
    page = folder / "page.md"
    page.write_text("# Manual\n\nWhat this manual covers.\n\n## Tyres\n\nCheck the tyre pressure every morning.\n")
    add = {"mode": "add", "max_delete_percent": 100}
    Run(hook, params_for(folder, collection_name, **add), "first").all()
    page.write_text("# Handbook\n\nWhat this manual covers.\n\n## Tyres\n\nCheck the tyre pressure every morning.\n")
    results, deleted = Run(hook, params_for(folder, collection_name, **add), "second").all()
    # The first section's text changed (new chunk, old one deleted); the Tyres chunk's text
    # did not, only its h1: it is rewritten with its stored vector, not embedded again.
    assert (sum(r["written"] for r in results), sum(r["refreshed"] for r in results), deleted) == (1, 1, 1)
    rows = hook.get_conn().query(
        collection_name, filter='h2 == "Tyres"', output_fields=["h1"], consistency_level="Strong"
    )
    assert [row["h1"] for row in rows] == ["Handbook"]


def test_a_repeated_first_chunk_does_not_fail_the_smoke_search(hook, collection_name, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (folder / name).write_text("Confidential: internal use only.")
    (folder / "e.txt").write_text("The only page with real content about irrigation valves.")
    Run(hook, params_for(folder, collection_name), "boilerplate").all()  # validates, smoke search included
    assert hook.count(collection_name) == 5


def test_a_force_reembed_with_another_model_records_that_model_once_validated(hook, alias, corpus):
    """Before: the collection kept recording the old model after force_reembed rewrote every
    vector, so the next nightly run with the new model was refused."""
    source = str(corpus / "release-notes.md")
    reindexed(hook, {"source": source, "collection": alias}, "first")  # deterministic-384
    target = hook.describe_alias(alias)
    assert hook.collection_properties(target)[marks.EMBEDDING] == "deterministic-384/384"

    with pytest.raises(marks.EmbeddingMismatchError):
        reindexed(hook, {"source": source, "collection": alias, "embedding": "local"}, "refused")
    rewritten = reindexed(
        hook, {"source": source, "collection": alias, "embedding": "local", "force_reembed": True}, "rewritten"
    )
    assert changes(rewritten)["embedded"] == hook.count(alias)
    assert hook.collection_properties(target)[marks.EMBEDDING] == "all-MiniLM-L6-v2/384"
    nightly = reindexed(hook, {"source": source, "collection": alias, "embedding": "local"}, "nightly")
    assert changes(nightly)["embedded"] == 0
