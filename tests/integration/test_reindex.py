"""milvus_reindex against the session's Milvus: one incremental run through real Airflow
(`airflow dags test`; the DAG's full-rebuild and rollback paths run through Airflow in
test_data_safety.py and test_readme_commands.py), every other run in this process with the
DAG's steps in its order (``Reindex`` in conftest.py): what they test is the reindex logic,
not Airflow."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time

import pytest
from langchain_core.documents import Document

from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import CollectionSpec, count_by_source
from milvus_toolkit.embeddings import get_embeddings
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.rules import PermanentError
from tests.integration.conftest import Reindex, Run, ids_in, split_ids

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]
CHANGES = re.compile(
    r"changes  : (\d+) added, (\d+) updated, (\d+) skipped, (\d+) deleted\b.*?\n.*?embedded : (\d+) texts"
)


def reindex(env: dict, conf: dict, *, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["airflow", "dags", "test", "milvus_reindex", "-c", json.dumps({"embedding": "deterministic", **conf})],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result.output = result.stdout + result.stderr  # type: ignore[attr-defined]
    if check:
        assert result.returncode == 0, result.output[-6000:]
    return result


def reindexed(hook, conf: dict, name: str) -> Reindex:
    """One milvus_reindex run in this process (its report in ``.summary``)."""
    run = Reindex(hook, conf, name)
    run.all()
    return run


def changes(result) -> dict[str, int]:
    """The "changes" line of a run's report: an Airflow run's log or an in-process run's summary."""
    text = result.summary.text if isinstance(result, Reindex) else result.output
    added, updated, skipped, deleted, embedded = map(int, CHANGES.search(text).groups())
    return {"added": added, "updated": updated, "skipped": skipped, "deleted": deleted, "embedded": embedded}


@pytest.mark.airflow
def test_incremental_run_after_edit_delete_add_then_a_run_that_does_nothing(airflow_env, hook, corpus, alias):
    first = reindexed(hook, {"source": str(corpus), "collection": alias}, "first")
    before = split_ids(corpus)
    total_before = sum(len(v) for v in before.values())
    assert changes(first) == {"added": total_before, "updated": 0, "skipped": 0, "deleted": 0, "embedded": total_before}
    assert hook.describe_alias(alias), "the first run builds a collection behind the alias"

    guide = corpus / "maintenance-guide.md"
    guide.write_text(guide.read_text().replace("field technicians", "service engineers", 1))
    (corpus / "grower-faq.txt").unlink()
    (corpus / "new-crop-notes.md").write_text("# Crop notes\n\nStrawberries were planted in raised beds this spring.\n")
    after = split_ids(corpus)
    old_ids = set().union(*before.values())
    new_ids = set().union(*after.values())

    second = reindex(airflow_env, {"source": str(corpus), "collection": alias, "max_delete_percent": 50})
    got = changes(second)
    guide_kept = before["maintenance-guide.md"] & after["maintenance-guide.md"]
    assert got == {
        "added": len(new_ids - old_ids),
        # the edited file's unchanged chunks get fresh metadata (its doc_hash), not new vectors
        "updated": len(guide_kept),
        "skipped": len(new_ids & old_ids) - len(guide_kept),
        "deleted": len(old_ids - new_ids),
        "embedded": len(new_ids - old_ids),  # unchanged chunks were not embedded again
    }
    assert 0 < got["added"] < 5 and got["deleted"] > len(before["grower-faq.txt"])
    assert count_by_source(hook, alias) == {source: len(ids) for source, ids in after.items()}
    assert "grower-faq.txt" not in count_by_source(hook, alias)
    assert ids_in(hook, alias) == sorted(new_ids), "exactly the current chunks, nothing duplicated"

    third = reindexed(hook, {"source": str(corpus), "collection": alias}, "third")
    assert changes(third) == {"added": 0, "updated": 0, "skipped": len(new_ids), "deleted": 0, "embedded": 0}


def test_force_reembed_rewrites_everything_without_duplicates(hook, corpus, alias):
    reindexed(hook, {"source": str(corpus / "release-notes.md"), "collection": alias}, "first")
    rows = hook.count(alias)
    forced = reindexed(
        hook, {"source": str(corpus / "release-notes.md"), "collection": alias, "force_reembed": True}, "forced"
    )
    assert changes(forced) == {"added": 0, "updated": rows, "skipped": 0, "deleted": 0, "embedded": rows}
    assert hook.count(alias) == rows


def test_full_rebuild_swaps_the_alias_keeps_one_rollback_and_drops_older(hook, corpus, alias):
    first = reindexed(hook, {"source": str(corpus), "collection": alias, "build_collection": f"{alias}__b1"}, "b1")
    assert hook.describe_alias(alias) == f"{alias}__b1"
    reindexed(
        hook,
        {"source": str(corpus), "collection": alias, "strategy": "full", "build_collection": f"{alias}__b2"},
        "b2",
    )
    assert hook.describe_alias(alias) == f"{alias}__b2"
    reindexed(
        hook,
        {"source": str(corpus), "collection": alias, "strategy": "full", "build_collection": f"{alias}__b3"},
        "b3",
    )
    assert hook.describe_alias(alias) == f"{alias}__b3"
    builds = sorted(n for n in hook.list_collections() if n.startswith(alias + "__"))
    assert builds == [f"{alias}__b2", f"{alias}__b3"], "previous kept for rollback, older dropped"
    assert hook.count(alias) == changes(first)["added"]


def test_a_build_collection_that_already_exists_is_refused_and_left_untouched(hook, corpus, alias):
    reindexed(hook, {"source": str(corpus), "collection": alias, "build_collection": f"{alias}__good"}, "good")
    served_ids = ids_in(hook, alias)
    # A user's collection happens to have the name asked for the build: it is not ours.
    theirs = f"{alias}__theirs"
    store = chunk_store.vector_store(
        hook, CollectionSpec(name=theirs, dim=384), get_embeddings("deterministic").embeddings
    )
    store.add_documents([Document("their row", metadata={"source": "release-notes.md"})], ids=["theirs-1"])

    # A permanent error: the DAG fails the task at once (fail_fast), no retries.
    with pytest.raises(PermanentError, match=f"collection '{theirs}' already exists and is not a build this run made"):
        reindexed(
            hook, {"source": str(corpus), "collection": alias, "strategy": "full", "build_collection": theirs}, "theirs"
        )
    assert hook.describe_alias(alias) == f"{alias}__good"
    assert ids_in(hook, alias) == served_ids
    assert ids_in(hook, theirs) == ["theirs-1"]


def test_a_plain_collection_migrates_to_the_alias_scheme_without_losing_data(hook, corpus, alias):
    # milvus_ingest's steps make the plain collection
    Run(hook, parse_params({"source": str(corpus), "collection": alias, "embedding": "deterministic"}), "plain").all()
    rows = hook.count(alias)
    result = reindexed(
        hook,
        {"source": str(corpus), "collection": alias, "strategy": "full", "build_collection": f"{alias}__v2"},
        "v2",
    )
    assert f"rollback copy: '{alias}__legacy_v2'" in result.summary.text
    assert hook.describe_alias(alias) == f"{alias}__v2"
    assert hook.count(alias) == rows and hook.count(f"{alias}__legacy_v2") == rows


def test_search_through_the_alias_answers_during_a_full_rebuild(hook, corpus, alias):
    from milvus_provider.hooks.milvus import MilvusHook

    reindexed(hook, {"source": str(corpus), "collection": alias, "build_collection": f"{alias}__blue"}, "blue")
    query = get_embeddings("deterministic").embeddings.embed_query("battery charging dock")
    conf = {"source": str(corpus), "collection": alias, "strategy": "full", "build_collection": f"{alias}__green"}
    failed: list[BaseException] = []

    def rebuild_green() -> None:  # the rebuild's steps in a thread of their own, with a hook of their own
        own = MilvusHook()
        try:
            reindexed(own, conf, "green")
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failed.append(exc)
        finally:
            own.close()

    rebuild = threading.Thread(target=rebuild_green, name="rebuild")
    answered, served = 0, set()
    client = hook.get_conn()
    rebuild.start()
    try:
        while rebuild.is_alive():
            hits = client.search(alias, data=[query], limit=3, output_fields=["source"], consistency_level="Bounded")
            assert len(hits[0]) == 3, "every search during the rebuild answers"
            answered += 1
            served.add(hook.describe_alias(alias))
            time.sleep(0.2)
    finally:
        rebuild.join(timeout=600)
    assert not failed, failed
    # How many searches fit into the rebuild depends on how fast this machine rebuilds: not
    # checked. What is: searches ran while it ran, and every one of them answered (above).
    assert answered >= 1, "no search happened during the rebuild"
    assert served <= {f"{alias}__blue", f"{alias}__green"}
    assert hook.describe_alias(alias) == f"{alias}__green"
    assert len(client.search(alias, data=[query], limit=3)[0]) == 3
