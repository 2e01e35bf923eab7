"""The decision to skip a source unread (milvus_toolkit.fingerprints): only when every row of the
source agrees on one fingerprint, as many rows as it records, with this run's split identity and
the same trustworthy cheap facts. Anything else reads it."""

from __future__ import annotations

import pytest

from milvus_toolkit import fingerprints as fp
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.ingest.pipeline import skips_unchanged
from milvus_toolkit.reindex import parse_reindex_params

SPLIT = fp.split_identity("auto", 1000, 150, "local-384/384", None)
NOW = 10**18


def rows(source: str, text: str | None, n: int) -> list[dict]:
    return [{"source": source, fp.FINGERPRINT: text} for _ in range(n)]


def known(*groups: list[dict]) -> dict[str, fp.Recorded]:
    return fp.recorded([row for group in groups for row in group])


def test_unchanged_source_is_skipped_with_its_recorded_rows_and_content_hash():
    text = fp.Fingerprint(SPLIT, "10:5", "abc", 3).text()
    decision = fp.decide(known(rows("a.md", text, 3))["a.md"], SPLIT, "10:5")
    assert decision == fp.Decision(True, "unchanged", 3, "abc")


@pytest.mark.parametrize(
    ("stored", "facts", "reason"),
    [
        ([], "10:5", "new"),
        (rows("a.md", None, 3), "10:5", "no fingerprint"),
        (rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 3).text(), 2), "10:5", "2 rows, 3 recorded"),
        (rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 3).text(), 3), "10:6", "changed"),
        (rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 3).text(), 3), "11:5", "changed"),
        (rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 3).text(), 3), fp.UNTRUSTED, "cannot be trusted"),
        (rows("a.md", fp.Fingerprint(SPLIT, fp.UNTRUSTED, "abc", 3).text(), 3), "10:5", "cannot be trusted"),
        (rows("a.md", fp.Fingerprint("other", "10:5", "abc", 3).text(), 3), "10:5", "split settings or model"),
        (
            rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 2).text(), 1)
            + rows("a.md", fp.Fingerprint(SPLIT, "10:4", "abd", 2).text(), 1),
            "10:5",
            "disagree",
        ),
        (
            rows("a.md", fp.Fingerprint(SPLIT, "10:5", "abc", 3).text(), 2) + rows("a.md", None, 1),
            "10:5",
            "disagree",
        ),
    ],
)
def test_anything_else_is_read(stored, facts, reason):
    decision = fp.decide(known(stored).get("a.md"), SPLIT, facts)
    assert not decision.skip and reason in decision.reason


def test_everything_that_changes_the_split_changes_the_identity():
    base = ("auto", 1000, 150, "local-384/384", None)
    variants = [
        ("markdown", 1000, 150, "local-384/384", None),
        ("auto", 999, 150, "local-384/384", None),
        ("auto", 1000, 100, "local-384/384", None),
        ("auto", 1000, 150, "openai/1536", None),
        ("auto", 1000, 150, "local-384/384", "acme"),
    ]
    assert len({fp.split_identity(*v) for v in [base, *variants]}) == 1 + len(variants)


def test_a_file_modified_just_before_it_is_looked_at_has_no_trusted_facts():
    assert fp.local_facts(10, NOW - 10**9, NOW) == fp.UNTRUSTED
    assert fp.local_facts(10, NOW - 3 * 10**9, NOW) == f"10:{NOW - 3 * 10**9}"


def test_an_object_without_a_version_has_no_trusted_facts():
    keys = ("ETag", "generation")
    assert fp.remote_facts({"size": 3, "ETag": '"x"'}, keys) == '3:"x"'
    assert fp.remote_facts({"size": 3}, keys) == fp.UNTRUSTED


def test_one_entry_per_source_not_per_row():
    text = fp.Fingerprint(SPLIT, "1:1", "c", 1000).text()
    found = known(rows("a.md", text, 1000), rows("b.md", text, 5))
    assert set(found) == {"a.md", "b.md"} and found["a.md"].rows == 1000


@pytest.mark.parametrize(
    ("params", "skips"),
    [
        (parse_reindex_params({"source": "/x", "collection": "c"}), True),
        (parse_reindex_params({"source": "/x", "collection": "c", "strategy": "full"}), False),
        (parse_reindex_params({"source": "/x", "collection": "c", "force_reembed": True}), False),
        (parse_params({"source": "/x", "collection": "c", "mode": "add"}), True),
        (parse_params({"source": "/x", "collection": "c"}), False),  # upsert rewrites every chunk
    ],
)
def test_which_runs_skip(params, skips):
    assert skips_unchanged(params) is skips
