"""Prove that what Milvus holds equals what was split, with great-expectations.

The data is gathered at run time from Milvus (Strong consistency) into small pandas frames;
a great-expectations suite runs on each. Any failed expectation fails the run, and the
report shows a readable table of what differed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from milvus_toolkit.chunk_store import (
    PRIMARY_FIELD,
    SOURCE_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    VECTOR_FIELD,
    count_of_sources,
    rows_of_sources,
    source_groups,
)
from milvus_toolkit.rules import PermanentError

log = logging.getLogger(__name__)
SAMPLE_ROWS = 1000


class MilvusReader(Protocol):
    """What validation needs from Milvus (``MilvusHook`` provides it)."""

    def iter_rows(
        self, name: str, output_fields: list[str], *, filter: str = "", batch_size: int = 16_384, filter_params=None
    ): ...
    def count(self, name: str, filter: str = "", *, filter_params=None) -> int: ...
    def collection_dim(self, name: str, vector_field: str = VECTOR_FIELD) -> int | None: ...
    def query(
        self, name: str, filter: str = "", *, output_fields: list[str] | None = None, limit: int | None = None
    ): ...


class ValidationFailed(PermanentError, AssertionError):
    """What Milvus holds differs from what was split."""


@dataclass
class ValidationReport:
    success: bool
    expectations: int
    failed: list[str] = field(default_factory=list)
    differences: pd.DataFrame | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        lines = [
            f"{'PASSED' if self.success else 'FAILED'}: "
            f"{self.expectations - len(self.failed)}/{self.expectations} expectations met"
        ]
        for key, value in self.facts.items():
            lines.append(f"  {key}: {value}")
        if self.failed:
            lines.append("Failed expectations:")
            lines.extend(f"  - {name}" for name in self.failed)
        if self.differences is not None and not self.differences.empty:
            lines.append("Sources whose row counts differ (expected = chunks split, actual = rows in Milvus):")
            lines.append(self.differences.to_markdown(index=False))
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        """Small and JSON-safe (for XCom)."""
        return {"success": self.success, "expectations": self.expectations, "failed": self.failed, **self.facts}


def gather(
    reader: MilvusReader,
    collection: str,
    expected: dict[str, int],
    *,
    dim: int,
    kept: Iterable[str] = (),
    gone: Iterable[str] = (),
    others: int | None = None,
    others_rows: int | None = None,
    filter: str = "",
) -> dict[str, pd.DataFrame]:
    """Read what Milvus holds into frames: per-source counts, duplicate ids, a sample of rows
    (text and vector), and collection-level facts. What is read costs what the run changed:

    - the sources the run read (``expected`` less ``kept``) and ``gone`` (the run answers for
      them although it split nothing from them: a reindex's listing no longer has them; they
      must hold no rows): their rows' ids are read, a group of sources at a time;
    - ``kept`` (sources not read because their fingerprint says they did not change; their
      ``expected`` count is what it records): counted by Milvus, a group at a time, and one
      by one only in a group whose total differs.

    ``others``: how many other sources the collection holds (reported), ``others_rows``: their
    rows when the run started (``None``: unknown). ``filter``: only these rows count (one
    tenant's)."""
    kept = set(kept)
    read = [source for source in expected if source not in kept]
    answers = set(gone) - set(expected)
    counts: Counter[str] = Counter()
    duplicates = 0
    for group in source_groups([*read, *answers]):  # a group's rows at a time: memory stays flat
        ids: set[str] = set()
        for batch in rows_of_sources(reader, collection, group, [PRIMARY_FIELD, SOURCE_FIELD], filter=filter):
            for row in batch:
                counts[row[SOURCE_FIELD]] += 1
                duplicates += row[PRIMARY_FIELD] in ids
                ids.add(row[PRIMARY_FIELD])
    kept_expected = sum(expected[source] for source in kept)
    kept_total, kept_checked = kept_expected, []
    read_total = sum(counts[s] for s in read)
    # One count of the whole collection settles the kept sources when it is exactly what every
    # source should hold now (the others as the census found them); otherwise (another run
    # wrote meanwhile, or rows went missing) they are counted by group, and one by one in a
    # group whose total differs.
    if kept and (others_rows is None or reader.count(collection, filter) != read_total + kept_expected + others_rows):
        kept_total = 0
        for group in source_groups(kept):
            rows = count_of_sources(reader, collection, group, filter=filter)
            kept_total += rows
            if rows != sum(expected[source] for source in group):
                for source in group:
                    counts[source] = count_of_sources(reader, collection, [source], filter=filter)
                    kept_checked.append(source)
    sources = sorted({*read, *answers, *kept_checked})
    per_source = pd.DataFrame(
        {
            "source": sources,
            "expected": [expected.get(s, 0) for s in sources],
            "actual": [counts.get(s, 0) for s in sources],
        }
    )
    fields = [PRIMARY_FIELD, TEXT_FIELD, VECTOR_FIELD]
    sample_rows = reader.query(collection, filter, output_fields=fields, limit=SAMPLE_ROWS)  # Strong
    # The frames' column names ("pk", "text_length", ...) are the report's, not Milvus fields.
    sample = pd.DataFrame(
        {
            "pk": [r[PRIMARY_FIELD] for r in sample_rows],
            "text_length": [len((r.get(TEXT_FIELD) or "").strip()) for r in sample_rows],
            "vector_dim": [len(r.get(VECTOR_FIELD) or []) for r in sample_rows],
        }
    )
    facts = pd.DataFrame(
        [
            {
                "expected_total": sum(expected.values()),
                "actual_total_for_run_sources": read_total + kept_total,
                "duplicate_ids": duplicates,
                "rows_with_empty_text": reader.count(collection, filter=_and(f'{TEXT_FIELD} == ""', filter)),
                "schema_dim": reader.collection_dim(collection),
                "embedding_dim": dim,
                "sources_read": len(read),
                "sources_kept": len(kept),
                "other_sources": others,
            }
        ]
    )
    return {"per_source": per_source, "sample": sample, "facts": facts}


def validate(frames: dict[str, pd.DataFrame], *, strict: bool = False) -> ValidationReport:
    """Run the suite over the sources the run answers for. ``strict`` (reindex) also allows
    a source with no chunks now (it must then hold no rows); ingest requires chunks."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    per_source = frames["per_source"]
    checked = per_source
    dim = int(frames["facts"]["embedding_dim"].iloc[0])
    suites = {
        "per_source": (
            checked.reset_index(drop=True),
            [
                gxe.ExpectColumnPairValuesToBeEqual(column_A="expected", column_B="actual"),
                gxe.ExpectColumnValuesToBeBetween(column="expected", min_value=1 if not strict else 0),
            ],
        ),
        "sample": (
            frames["sample"],
            [
                gxe.ExpectColumnValuesToBeBetween(column="text_length", min_value=1),
                gxe.ExpectColumnValuesToBeBetween(column="vector_dim", min_value=dim, max_value=dim),
            ],
        ),
        "facts": (
            frames["facts"],
            [
                gxe.ExpectColumnPairValuesToBeEqual(column_A="expected_total", column_B="actual_total_for_run_sources"),
                gxe.ExpectColumnValuesToBeBetween(column="duplicate_ids", min_value=0, max_value=0),
                gxe.ExpectColumnValuesToBeBetween(column="rows_with_empty_text", min_value=0, max_value=0),
                gxe.ExpectColumnPairValuesToBeEqual(column_A="schema_dim", column_B="embedding_dim"),
            ],
        ),
    }
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("milvus_validation")
    failed: list[str] = []
    total = 0
    for name, (frame, expectations) in suites.items():
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        result = batch.validate(gx.ExpectationSuite(name=f"milvus_{name}", expectations=expectations))
        for res in result.results:
            total += 1
            if not res.success:
                failed.append(f"{name}: {_describe(res.expectation_config)} (unexpected: {_unexpected(res)})")

    differences = checked[checked["expected"] != checked["actual"]][["source", "expected", "actual"]]
    facts = frames["facts"].iloc[0].to_dict()
    report_facts = {
        "sources": int(facts["sources_read"] + facts["sources_kept"]),
        "sources_read_and_counted": int(facts["sources_read"]),
        "sources_kept_counted_in_groups": int(facts["sources_kept"]),
        "expected_chunks": int(facts["expected_total"]),
        "rows_for_these_sources": int(facts["actual_total_for_run_sources"]),
        "duplicate_ids": int(facts["duplicate_ids"]),
        "rows_with_empty_text": int(facts["rows_with_empty_text"]),
        "vector_dim": int(facts["schema_dim"]) if pd.notna(facts["schema_dim"]) else None,
        "sampled_rows": int(len(frames["sample"])),
    }
    if not strict and pd.notna(facts["other_sources"]) and facts["other_sources"]:
        report_facts["other_sources_in_collection"] = int(facts["other_sources"])
    return ValidationReport(
        success=not failed,
        expectations=total,
        failed=failed,
        differences=differences.reset_index(drop=True),
        facts={k: (int(v) if hasattr(v, "item") else v) for k, v in report_facts.items()},
    )


def _describe(config) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def _unexpected(result) -> str:
    info = result.result or {}
    return str(info.get("unexpected_count", info.get("observed_value", "?")))


def _and(condition: str, scope: str) -> str:
    return f"({condition}) and ({scope})" if scope else condition


def smoke_search(store, chunk_id: str, text: str, k: int = 3, expr: str = "") -> tuple[bool, list[str]]:
    """Does a chunk's own text find that chunk among the top ``k``? (sync store; ``expr``
    scopes the search, e.g. to one tenant; a hybrid store searches dense and BM25 together)

    A chunk with the very same text counts too: boilerplate repeated in several files gives
    identical vectors, and which of the tied rows comes first is up to Milvus."""
    scope = {"expr": expr} if expr else {}
    hits = store.similarity_search(text, k=k, consistency_level="Strong", **scope)  # see other clients' writes
    ids = [doc.metadata.get(PRIMARY_FIELD) for doc in hits]
    return chunk_id in ids or any(doc.page_content == text for doc in hits), ids


def keyword_search(hook, spec, chunk_id: str, text: str, k: int = 3) -> tuple[bool, list[str]]:
    """Does a BM25 keyword search for a chunk's own text find it among the top ``k``?"""
    hits = hook.search(
        spec.name,
        [text],
        anns_field=SPARSE_FIELD,
        limit=k,
        filter=spec.scope_filter,
        output_fields=[PRIMARY_FIELD, TEXT_FIELD],
        consistency_level="Strong",
    )[0]
    ids = [hit.get(PRIMARY_FIELD) for hit in hits]
    return chunk_id in ids or any(hit.get(TEXT_FIELD) == text for hit in hits), ids
