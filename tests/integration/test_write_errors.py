"""A chunk Milvus refuses (text over the VARCHAR limit) fails the batch at once, named by
source and id, and its text reaches neither the error nor the log."""

from __future__ import annotations

import asyncio
import logging

import pytest
from langchain_core.documents import Document

from milvus_toolkit import chunk_store
from milvus_toolkit.chunk_store import CollectionSpec
from milvus_toolkit.embeddings import get_embeddings
from milvus_toolkit.ingest import writing
from milvus_toolkit.ingest.writing import ChunksRejected, write_batch

pytestmark = [pytest.mark.integration]

MARKER = "UNIQUE-MARKER-7f3c"


def chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and all(exc is not s for s in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def test_an_oversized_chunk_is_rejected_by_name_without_its_text(hook, collection_name, caplog, monkeypatch):
    retry_logs: list[writing.RetryLog] = []

    class CountedRetryLog(writing.RetryLog):
        def __init__(self, what: str) -> None:
            super().__init__(what)
            retry_logs.append(self)

    monkeypatch.setattr(writing, "RetryLog", CountedRetryLog)
    big = Document(
        page_content=("lorem ipsum " * 3000)[:35_000] + MARKER + ("dolor sit " * 4000)[: 70_000 - 35_000 - len(MARKER)],
        metadata={"source": "docs/too-big.md"},
        id="too-big-0",
    )
    assert len(big.page_content) == 70_000
    chunks = [
        Document(page_content=f"small chunk {i}", metadata={"source": "docs/ok.md"}, id=f"ok-{i}") for i in range(20)
    ]
    chunks.insert(0, big)  # first in its call: langchain-milvus logs the first row of a failed call

    async def write() -> None:
        spec = CollectionSpec(name=collection_name, dim=8)
        async with chunk_store.open_store(hook, spec, get_embeddings("deterministic", dim=8).embeddings) as store:
            await write_batch(store, chunks, mode="upsert", concurrency=4, max_attempts=6, max_wait=5)

    with caplog.at_level(logging.DEBUG), pytest.raises(ChunksRejected) as raised:
        asyncio.run(write())

    message = str(raised.value)
    assert "docs/too-big.md" in message and "too-big-0" in message
    for err in chain(raised.value):
        assert MARKER not in f"{err!r} {err}"
    assert MARKER not in caplog.text
    assert all(MARKER not in r.getMessage() for r in caplog.records)
    assert [log.count for log in retry_logs] == [0], "failed at the first attempt, without retries"
