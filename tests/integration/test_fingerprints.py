"""Skip what did not change, before reading it (issue 19, item 2), against the session's Milvus.

The files a run reads and splits are counted where it happens (``documents._read_local`` and
the pipeline's ``split_document``), not taken from the run's own report; the collection is
compared with an independent split after every run. Files get an mtime in the past, as a corpus
that was not just written has (a file modified less than ``RACY_SECONDS`` before it is looked at
is always read again: its mtime cannot be trusted yet)."""

from __future__ import annotations

import os
import time

import pytest

from milvus_toolkit import fingerprints
from milvus_toolkit.chunk_store import count_by_source
from milvus_toolkit.ingest import documents, pipeline
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from tests.integration.conftest import Reindex, ids_in

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("private_staging")]
DAY = 86_400 * 10**9


@pytest.fixture
def counted(monkeypatch):
    """Counts the files each run reads (their bytes) and splits."""
    seen = {"read": [], "split": []}
    read, split = documents._read_local, pipeline.split_document

    def counting_read(path):
        seen["read"].append(path.name)
        return read(path)

    def counting_split(doc, settings):
        seen["split"].append(doc.source)
        return split(doc, settings)

    monkeypatch.setattr(documents, "_read_local", counting_read)
    monkeypatch.setattr(pipeline, "split_document", counting_split)

    def take():
        taken = {key: sorted(value) for key, value in seen.items()}
        for value in seen.values():
            value.clear()
        return taken

    return take


def age(folder, days: int = 1) -> None:
    """Give every file of ``folder`` an mtime ``days`` ago (each its own nanosecond)."""
    base = time.time_ns() - days * DAY
    for i, path in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
        os.utime(path, ns=(base + i, base + i))


def split_all(folder, chunk_size: int = 1000, overlap: int = 150) -> dict[str, set[str]]:
    """Source -> chunk ids, split independently of ``load`` (and not counted as a run's reads)."""
    corpus = documents.discover(str(folder))
    docs = [documents.read_document(corpus.relative(path), path.read_bytes()) for path in corpus.files]
    settings = SplitSettings("auto", chunk_size, overlap)
    return {doc.source: {c.id for c in split_document(doc, settings)} for doc in docs}


def run(hook, alias, corpus, name, **conf) -> Reindex:
    reindex = Reindex(hook, {"source": str(corpus), "collection": alias, **conf}, name)
    reindex.all()
    return reindex


def holds(hook, alias, expected: dict[str, set[str]]) -> None:
    assert ids_in(hook, alias) == sorted(set().union(*expected.values()))
    assert count_by_source(hook, alias) == {source: len(ids) for source, ids in expected.items()}


def test_an_unchanged_corpus_is_not_read_and_an_edit_reads_that_one_file(hook, corpus, alias, counted):
    age(corpus)
    files = sorted(p.name for p in corpus.rglob("*") if p.is_file())
    run(hook, alias, corpus, "first")
    assert counted()["read"] == files, "the first run reads everything"

    nightly = run(hook, alias, corpus, "nightly")
    assert counted() == {"read": [], "split": []}, "an unchanged corpus is neither read nor split"
    holds(hook, alias, split_all(corpus))
    assert nightly.validation["success"] and nightly.validation["kept_unchanged_sources"] == len(files)
    assert nightly.validation["expected_chunks"] == nightly.validation["rows_for_these_sources"] == hook.count(alias)
    assert f"unchanged: {len(files)} source(s)" in nightly.summary.text
    assert nightly.summary.figures["embedded"] == 0 and nightly.deleted == 0

    guide = corpus / "maintenance-guide.md"
    guide.write_text(guide.read_text() + "\n\nA new paragraph about greasing the bearings every spring.\n")
    os.utime(guide, ns=(time.time_ns() - 60 * 10**9,) * 2)
    edited = run(hook, alias, corpus, "edited")
    assert counted() == {"read": ["maintenance-guide.md"], "split": ["maintenance-guide.md"]}
    holds(hook, alias, split_all(corpus))
    assert "read 1: changed (size, mtime or version)" in edited.summary.text


def test_a_deleted_and_an_added_file_are_handled_without_reading_the_rest(hook, corpus, alias, counted):
    age(corpus)
    run(hook, alias, corpus, "first")
    counted()
    (corpus / "grower-faq.txt").unlink()
    (corpus / "new-notes.md").write_text("# Notes\n\nStrawberries were planted in raised beds this spring.\n")
    age(corpus / "new-notes.md")
    second = run(hook, alias, corpus, "second", max_delete_percent=50)
    assert counted()["read"] == ["new-notes.md"]
    assert second.deleted > 0
    holds(hook, alias, split_all(corpus))


def test_new_split_settings_read_every_file(hook, corpus, alias, counted):
    age(corpus)
    run(hook, alias, corpus, "first")
    files = counted()["read"]
    run(hook, alias, corpus, "smaller", chunk_size=500, chunk_overlap=50, max_delete_percent=100)
    assert counted()["split"] == sorted(files), "another chunk size invalidates every fingerprint"
    holds(hook, alias, split_all(corpus, 500, 50))


def test_an_edit_that_keeps_size_and_mtime_is_caught_by_verify_content(hook, corpus, alias, counted):
    age(corpus)
    run(hook, alias, corpus, "first")
    counted()
    guide = corpus / "maintenance-guide.md"
    before, text = guide.stat(), guide.read_text()
    assert "field technicians" in text
    guide.write_text(text.replace("field technicians", "field technicianZ", 1))
    os.utime(guide, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert guide.stat().st_size == before.st_size and guide.stat().st_mtime_ns == before.st_mtime_ns

    run(hook, alias, corpus, "nightly")
    assert counted()["read"] == [], "size and mtime say unchanged: not read (the documented limit)"
    verified = run(hook, alias, corpus, "weekly", verify_content=True)
    taken = counted()
    assert len(taken["read"]) == len(split_all(corpus)), "verify_content reads every source"
    assert taken["split"] == ["maintenance-guide.md"], "only the one whose bytes changed is split"
    holds(hook, alias, split_all(corpus))
    assert verified.manifest["files_verified"] == len(taken["read"]) - 1


def test_a_touch_reads_the_file_once_refreshes_its_rows_without_embedding(hook, corpus, alias, counted):
    age(corpus)
    run(hook, alias, corpus, "first")
    counted()
    guide = corpus / "maintenance-guide.md"
    os.utime(guide, ns=(time.time_ns() - 60 * 10**9,) * 2)
    touched = run(hook, alias, corpus, "touched")
    assert counted()["read"] == ["maintenance-guide.md"]
    assert touched.summary.figures["embedded"] == 0
    run(hook, alias, corpus, "after")
    assert counted()["read"] == [], "the refreshed fingerprint records the new mtime"
    holds(hook, alias, split_all(corpus))


def test_rows_that_disagree_or_are_missing_are_read_again(hook, corpus, alias, counted):
    """As after a run that stopped half way: one row of a source with another fingerprint, one
    source with a row missing. Both are read again, and the collection is complete."""
    age(corpus)
    run(hook, alias, corpus, "first")
    counted()
    serving = hook.describe_alias(alias) or alias
    rows = {
        s: sorted(r["pk"] for b in hook.iter_rows(serving, ["pk"], filter=f'source == "{s}"') for r in b)
        for s in ("maintenance-guide.md", "release-notes.md")
    }
    mixed = hook.get(serving, rows["maintenance-guide.md"][:1], output_fields=["*"])[0]
    mixed[fingerprints.FINGERPRINT] = mixed[fingerprints.FINGERPRINT].replace("|", "|0", 1)
    hook.upsert(serving, [mixed])
    hook.delete(serving, rows["release-notes.md"][:1])

    again = run(hook, alias, corpus, "again")
    assert counted()["read"] == ["maintenance-guide.md", "release-notes.md"]
    assert "read 1: its rows disagree" in again.summary.text
    holds(hook, alias, split_all(corpus))
    run(hook, alias, corpus, "then")
    assert counted()["read"] == []


def test_full_rebuilds_and_force_reembed_never_skip(hook, corpus, alias, counted):
    age(corpus)
    run(hook, alias, corpus, "first")
    files = counted()["read"]
    run(hook, alias, corpus, "full", strategy="full")
    assert counted()["read"] == files
    run(hook, alias, corpus, "forced", force_reembed=True)
    assert counted()["read"] == files
    holds(hook, alias, split_all(corpus))


def test_each_row_read_back_carries_its_own_dynamic_fields(lite_hook, corpus, alias):
    """Regression: pymilvus fills a result's dynamic fields lazily by position, and ``iter_rows``
    sorted its pages first: on Milvus Lite rows came back with another row's ``doc_hash``,
    ``source_fp`` (and ``run_stamp``), which made every source look half written."""
    age(corpus)
    Reindex(lite_hook, {"source": str(corpus), "collection": alias, "milvus_conn_id": "milvus_lite"}, "lite").all()
    serving = lite_hook.describe_alias(alias) or alias
    corpus_files = documents.discover(str(corpus))
    hashes = {
        corpus_files.relative(path): documents.hashlib.sha256(path.read_bytes()).hexdigest()
        for path in corpus_files.files
    }
    rows = [
        row for batch in lite_hook.iter_rows(serving, ["source", "doc_hash", fingerprints.FINGERPRINT]) for row in batch
    ]
    assert rows and all(row["doc_hash"] == hashes[row["source"]] for row in rows)
    assert all(row[fingerprints.FINGERPRINT].split("|")[2] == row["doc_hash"] for row in rows)
    lite_hook.drop_alias(alias)
    lite_hook.drop_collection(serving)
