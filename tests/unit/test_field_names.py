"""The chunk rows' field names are chunk_store's constants, everywhere (issue 18 item 4): a
CollectionSpec cannot be given other names, and no toolkit module spells them out in a Milvus
read (output fields, row keys, filters) instead of using the constants."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import (
    PRIMARY_FIELD,
    SOURCE_FIELD,
    SPARSE_FIELD,
    TEXT_FIELD,
    VECTOR_FIELD,
    CollectionSpec,
)
from milvus_toolkit.rules import TENANT_FIELD

TOOLKIT = Path(chunk_store.__file__).resolve().parent
NAMES = ("pk", "text", "vector", "source", "sparse")
# The benchmark builds its own raw pymilvus collections (it measures the client, not the toolkit's store).
OWN_LAYOUT = {"benchmark"}
# Rows that are not Milvus rows.
NOT_MILVUS = {"ingest/staging.py"}  # the staged JSONL chunks (id, text, metadata)
# A field name spelled out in a Milvus read: output_fields=[...], iter_rows(..., [...]), row["pk"], a filter.
SPELLED = re.compile(
    r"""(output_fields=\[[^\]]*["'](?:{n})["'])"""
    r"""|(iter_rows\([^)]*\[[^\]]*["'](?:{n})["'])"""
    r"""|(\b(?:row|r|hit)\[["'](?:{n})["']\])"""
    r"""|(["'](?:{n}) ==)""".format(n="|".join(NAMES))
)


def test_the_spec_reads_the_constants_and_cannot_rename_them():
    spec = CollectionSpec(name="docs", dim=8)
    assert (spec.primary_field, spec.text_field, spec.vector_field, spec.source_field) == (
        PRIMARY_FIELD,
        TEXT_FIELD,
        VECTOR_FIELD,
        SOURCE_FIELD,
    )
    assert (spec.sparse_field, spec.tenant_field) == (SPARSE_FIELD, TENANT_FIELD)
    with pytest.raises(TypeError):
        CollectionSpec(name="docs", dim=8, primary_field="id")
    with pytest.raises(AttributeError):
        spec.text_field = "body"


def test_the_store_is_told_the_constants():
    config = SimpleNamespace(client_kwargs=lambda: {"uri": "http://127.0.0.1:1"}, timeout=5)
    kwargs = chunk_store._store_kwargs(SimpleNamespace(config=config), CollectionSpec(name="docs", dim=8), None)
    assert (kwargs["primary_field"], kwargs["text_field"], kwargs["vector_field"]) == (
        PRIMARY_FIELD,
        TEXT_FIELD,
        VECTOR_FIELD,
    )


def test_no_toolkit_module_spells_a_field_name_in_a_milvus_read():
    found = []
    for path in sorted(TOOLKIT.rglob("*.py")):
        where = path.relative_to(TOOLKIT)
        if path.name == "chunk_store.py" or where.parts[0] in OWN_LAYOUT or where.as_posix() in NOT_MILVUS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if SPELLED.search(line):
                found.append(f"{path.relative_to(TOOLKIT)}:{number}: {line.strip()}")
    assert not found, "use chunk_store's field-name constants:\n" + "\n".join(found)
    assert SPELLED.search('reader.query(c, output_fields=["pk", "text"])'), "the scan recognises a spelled name"
