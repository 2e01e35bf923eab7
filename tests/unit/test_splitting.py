"""Splitting, chunk metadata and deterministic ids."""

from __future__ import annotations

import uuid

import pytest

from milvus_toolkit.chunk_store import CollectionSpec
from milvus_toolkit.ingest.documents import discover, load, read_document
from milvus_toolkit.ingest.params import SAMPLE_CORPUS
from milvus_toolkit.ingest.splitting import SplitSettings, split_document

SETTINGS = SplitSettings("auto", 300, 0)
MD = (
    "# Guide\n\nIntro paragraph about robots.\n\n## Charging\n\nPlug the robot into the dock.\n\n"
    "## Storage\n\nKeep it dry.\n"
)


def chunks_of(name: str, text: str, settings=SETTINGS):
    return split_document(read_document(name, text.encode()), settings)


def test_every_chunk_has_the_metadata_and_a_uuid_id():
    chunks = chunks_of("docs/guide.md", MD)
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert {"source", "chunk_index", "content_hash", "doc_hash"} <= set(chunk.metadata)
        assert chunk.metadata["source"] == "docs/guide.md"
        uuid.UUID(chunk.id)


def test_markdown_header_path_is_kept():
    chunks = chunks_of("guide.md", MD, SplitSettings("auto", 60, 0))
    charging = next(c for c in chunks if "dock" in c.page_content)
    assert charging.metadata["h1"] == "Guide" and charging.metadata["h2"] == "Charging"


def test_html_sections_keep_headers_and_join_their_paragraphs():
    html = (
        "<html><body><h1>Manual</h1><p>Intro.</p><h2>Battery</h2><p>Charge nightly.</p><p>Store cool.</p></body></html>"
    )
    chunks = chunks_of("manual.html", html, SplitSettings("auto", 500, 0))
    battery = next(c for c in chunks if "Charge nightly" in c.page_content)
    assert "Store cool." in battery.page_content, "paragraphs of one section form one piece"
    assert battery.metadata["h1"] == "Manual" and battery.metadata["h2"] == "Battery"


def test_ids_are_deterministic_and_follow_content_not_position():
    first = chunks_of("guide.md", MD, SplitSettings("markdown", 60, 0))
    again = chunks_of("guide.md", MD, SplitSettings("markdown", 60, 0))
    assert [c.id for c in first] == [c.id for c in again]
    edited = chunks_of(
        "guide.md",
        MD.replace("Intro paragraph about robots.", "A brand new introduction."),
        SplitSettings("markdown", 60, 0),
    )
    unchanged = {c.id for c in first} & {c.id for c in edited}
    assert len(unchanged) == len(first) - 1, "only the edited chunk gets a new id"
    elsewhere = chunks_of("other.md", MD, SplitSettings("markdown", 60, 0))
    assert not {c.id for c in first} & {c.id for c in elsewhere}, "ids include the source"


def test_identical_chunks_in_one_file_get_distinct_ids():
    text = "Disclaimer: wear gloves.\n\n" * 3
    chunks = chunks_of("notes.txt", text, SplitSettings("recursive", 30, 0))
    assert len(chunks) == 3 and len({c.id for c in chunks}) == 3


def test_pdf_pages_code_and_rst_are_split_with_their_structure():
    docs = {d.source: d for d in load(discover(str(SAMPLE_CORPUS)))}
    pdf_chunks = split_document(docs["field-safety-policy.pdf"], SplitSettings("auto", 500, 50))
    assert {c.metadata["page"] for c in pdf_chunks} == {1, 2, 3}
    code_chunks = split_document(docs["battery-range.py"], SplitSettings("auto", 400, 0))
    assert any(c.page_content.lstrip().startswith("def ") for c in code_chunks), "code splits at definitions"
    assert split_document(docs["charging-dock-design.rst"], SETTINGS)


def test_token_splitter_counts_model_tokens():
    chunks = chunks_of("long.txt", "robot " * 400, SplitSettings("token", 64, 0))
    assert len(chunks) >= 6


MILVUS_TEXT_BYTES = CollectionSpec.max_text_length  # VARCHAR limit of the text field


@pytest.mark.parametrize(
    ("splitter", "chunk_size", "run"),
    [
        # A 100,000-character run is one [UNK] token to the tokenizer: a "chunk" of 64 tokens.
        ("token", 64, "x" * 100_000),
        ("token", 64, "é" * 100_000),  # 2 bytes per character
        # A chunk_size above the run: the splitter keeps the run whole, with its neighbours.
        ("recursive", 200_000, "x" * 100_000),
        ("recursive", 200_000, "漢" * 100_000),  # 3 bytes per character
    ],
)
def test_no_chunk_is_larger_than_the_milvus_text_field(splitter, chunk_size, run):
    text = f"A base64 blob follows. {run} That was the blob."
    settings = SplitSettings(splitter, chunk_size, 0)
    chunks = chunks_of("run.txt", text, settings)
    assert max(len(c.page_content.encode("utf-8")) for c in chunks) <= MILVUS_TEXT_BYTES
    assert "".join(c.page_content for c in chunks).replace(" ", "") == text.replace(" ", ""), "nothing lost or doubled"
    assert [c.metadata["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert all(c.metadata["source"] == "run.txt" and c.metadata["doc_hash"] for c in chunks)
    assert [c.id for c in chunks] == [c.id for c in chunks_of("run.txt", text, settings)]
    assert len({c.id for c in chunks}) == len(chunks)
