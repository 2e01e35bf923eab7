"""The pure parts of ``make bench-reindex`` (``milvus_toolkit_dev.bench.reindex_changes``): the
change plan of the "1 % changed" run, the edit, the exact-count check and the targets'
verdicts (no Milvus, no timing)."""

from __future__ import annotations

import pytest

from milvus_toolkit.ingest.splitting import SplitSettings
from milvus_toolkit_dev.bench.corpus import _vocabulary, generate_file
from milvus_toolkit_dev.bench.reindex_changes import (
    change_plan,
    count_mismatches,
    edited_text,
    expected_count,
    share,
    verdicts,
)

NAMES = [f"doc-{i:05d}.md" for i in range(2000)]


def test_one_percent_edited_half_a_percent_deleted_and_added():
    plan = change_plan(NAMES, seed=7)
    assert (len(plan.edited), len(plan.deleted), len(plan.added)) == (20, 10, 10)
    assert not set(plan.edited) & set(plan.deleted)
    assert set(plan.edited) | set(plan.deleted) <= set(NAMES)
    assert plan.added == [f"doc-{i:05d}.md" for i in range(2000, 2010)]  # new names after the last one
    assert plan.to_json() == {"edited": 20, "deleted": 10, "added": 10}


def test_the_change_plan_is_the_same_for_the_same_seed_and_order():
    assert change_plan(NAMES, seed=7) == change_plan(list(reversed(NAMES)), seed=7)
    assert change_plan(NAMES, seed=7).edited != change_plan(NAMES, seed=8).edited


def test_a_small_corpus_still_changes_one_file_of_each_kind():
    assert [share(p, 418) for p in (1.0, 0.5)] == [4, 2]
    assert [share(p, 50) for p in (1.0, 0.5)] == [1, 1]
    assert share(1.0, 0) == 0
    plan = change_plan(NAMES[:50], seed=1)
    assert (len(plan.edited), len(plan.deleted), plan.added) == (1, 1, ["doc-00050.md"])


def test_only_generated_names_are_planned():
    with pytest.raises(ValueError, match="not a generated corpus file"):
        change_plan(["doc-00001.md", "notes.txt"], seed=1)
    with pytest.raises(ValueError, match="too few"):
        change_plan(NAMES[:1], seed=1)


def test_an_edit_changes_some_chunks_and_keeps_most():
    """The edit lands in one section: most chunk ids of the file stay, so the incremental run
    embeds only a few chunks of an edited file."""
    from milvus_toolkit.ingest.documents import read_document
    from milvus_toolkit.ingest.splitting import split_document

    settings = SplitSettings("auto", 1000, 150)
    vocab, weights = _vocabulary()
    text = generate_file(7, 3, vocab, weights)
    name = "doc-00003.md"
    after = edited_text(text, name)
    assert after != text and after.count("\n## ") == text.count("\n## ")
    assert "Edited: the forecast for doc-00003.md" in after
    before_ids = {c.id for c in split_document(read_document(name, text.encode()), settings)}
    after_ids = {c.id for c in split_document(read_document(name, after.encode()), settings)}
    assert 0 < len(after_ids - before_ids) <= 3
    assert len(before_ids & after_ids) >= len(before_ids) - 3
    assert expected_count(name, after.encode(), settings) == len(after_ids)


def test_counts_are_exact_only_when_every_source_matches():
    expected = {"a.md": 3, "b.md": 2, "empty.md": 0}
    assert count_mismatches(expected, {"a.md": 3, "b.md": 2}) == []
    assert count_mismatches(expected, {"a.md": 3, "b.md": 1}) == ["b.md: 1 rows, split gives 2"]
    assert count_mismatches(expected, {"a.md": 3, "b.md": 2, "gone.md": 4}) == ["gone.md: 4 rows, split gives 0"]
    assert count_mismatches(expected, {"a.md": 3}) == ["b.md: 0 rows, split gives 2"]
    many = count_mismatches({f"{i}.md": 1 for i in range(15)}, {}, limit=10)
    assert len(many) == 11 and many[-1] == "... 5 more"


def test_targets_reached_and_not_reached():
    found = verdicts(1000.0, 40.0, 120.0, 900.0, smaller_scale_peak_mb=850.0, scales=(100_000, 1_000_000))
    assert [(v.value, v.reached) for v in found] == [
        ("4.0%", True),
        ("12.0%", False),
        ("900 MB", True),
        ("900 MB vs 850 MB", True),  # within 10 %
    ]
    assert found[1].line() == "1 % changed <= 10% of full: 12.0% -> NOT reached"
    worse = verdicts(100.0, 6.0, 10.0, 1100.0, smaller_scale_peak_mb=900.0, scales=(100_000, 1_000_000))
    assert [v.reached for v in worse] == [False, True, False, False]
    # Printed as the ratio line prints it (15.8 / 138.0 = 0.11449...), not from a rounded ratio.
    assert verdicts(138.0, 15.8, 27.7, 358.0)[0].value == f"{15.8 / 138.0:.1%}" == "11.4%"


def test_the_scale_target_needs_a_smaller_corpus():
    same = verdicts(100.0, 1.0, 2.0, 300.0, smaller_scale_peak_mb=300.0, scales=(100_000, 100_000))
    assert same[-1].reached is None and same[-1].line().endswith("not measured")
    assert verdicts(100.0, 1.0, 2.0, 300.0)[-1].reached is None
