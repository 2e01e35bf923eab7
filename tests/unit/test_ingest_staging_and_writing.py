"""Batch staging, write retries and id-keyed idempotence (our own logic; a fake store)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from langchain_core.documents import Document
from milvus_toolkit.ingest.staging import BatchWriter, read_batch_file, remove_run_folder
from milvus_toolkit.ingest.writing import call_size_for, is_transient, write_batch
from pymilvus.exceptions import MilvusException
from upath import UPath


def doc(i: int, source: str = "a.md") -> Document:
    return Document(page_content=f"text {i}", metadata={"source": source, "chunk_index": i}, id=f"id-{i}")


def test_batch_writer_streams_batches_and_counts_per_source(tmp_path):
    writer = BatchWriter(UPath(tmp_path / "run"), batch_size=4)
    for i in range(10):
        writer.add(doc(i, "a.md" if i < 6 else "b.md"))
    writer.flush()
    assert [b.chunks for b in writer.batches] == [4, 4, 2]
    assert dict(writer.counts) == {"a.md": 6, "b.md": 4}
    assert writer.batches[1].label == "batch 2: 4 chunks (a.md .. b.md)"
    back = read_batch_file(writer.batches[0].path)
    assert [d.id for d in back] == ["id-0", "id-1", "id-2", "id-3"] and back[0].metadata["source"] == "a.md"
    remove_run_folder(tmp_path / "run")
    assert not (tmp_path / "run").exists()


class _Unavailable(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (MilvusException(code=2, message="Fail connecting to server"), True),
        (MilvusException(code=1, message="proxy not ready"), True),
        (MilvusException(code=1100, message="invalid parameter", is_input_error=True), False),
        (MilvusException(code=65535, message="dimension mismatch"), False),
        (_Unavailable(), True),
        (asyncio.TimeoutError(), True),
        (ValueError("bad"), False),
    ],
)
def test_transient_errors_are_told_apart(exc, transient):
    assert is_transient(exc) is transient


def test_transient_error_found_behind_a_wrapper():
    try:
        try:
            raise MilvusException(code=2, message="Fail connecting")
        except MilvusException as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_call_size_keeps_calls_in_flight():
    assert call_size_for(500, 8) == 63
    assert call_size_for(10, 8) == 16
    assert call_size_for(100_000, 4) == 256


class FlakyStore:
    """Stands in for langchain-milvus: keeps rows by id; the first ``fail_after_write``
    calls store their rows and *then* fail (the ambiguous case: written, not acknowledged)."""

    collection_name = "c"
    _primary_field = "pk"

    def __init__(self, fail_after_write: int = 0, fail_before_write: int = 0):
        self.rows: dict[str, str] = {}
        self.inserted: list[str] = []
        self.fail_after_write = fail_after_write
        self.fail_before_write = fail_before_write
        self.aclient = self

    async def query(self, collection, filter, output_fields, consistency_level):
        wanted = [s.strip().strip('"') for s in filter.split(" in ")[1].strip("[]").split(",")]
        return [{"pk": pk} for pk in wanted if pk in self.rows]

    async def _write(self, ids, documents, replace):
        if self.fail_before_write:
            self.fail_before_write -= 1
            raise MilvusException(code=2, message="Fail connecting to server")
        for i, d in zip(ids, documents):
            if not replace:
                self.inserted.append(i)  # an insert never checks ids: duplicates possible
            self.rows[i] = d.page_content
        if self.fail_after_write:
            self.fail_after_write -= 1
            raise MilvusException(code=1, message="deadline exceeded")

    async def aadd_documents(self, documents, ids):
        await self._write(ids, documents, replace=False)

    async def aupsert(self, ids, documents):
        await self._write(ids, documents, replace=True)


@pytest.mark.parametrize("mode", ["add", "upsert"])
def test_retries_after_ambiguous_failures_never_duplicate(mode):
    store = FlakyStore(fail_after_write=2, fail_before_write=1)
    chunks = [doc(i) for i in range(40)]
    result = asyncio.run(write_batch(store, chunks, mode=mode, concurrency=4, max_wait=0.01))
    assert set(store.rows) == {c.id for c in chunks}
    assert result.retries == 3
    if mode == "add":
        assert sorted(store.inserted) == sorted(c.id for c in chunks), "each id inserted exactly once"


def test_add_mode_skips_ids_already_present():
    store = FlakyStore()
    store.rows = {"id-0": "old text 0", "id-1": "old text 1"}
    result = asyncio.run(write_batch(store, [doc(i) for i in range(5)], mode="add", concurrency=2))
    assert (result.written, result.skipped_existing) == (3, 2)
    assert store.rows["id-0"] == "old text 0", "add never overwrites"


def test_non_transient_errors_fail_at_once():
    class Broken(FlakyStore):
        async def aupsert(self, ids, documents):
            raise MilvusException(code=1100, message="field source too long", is_input_error=True)

    with pytest.raises(MilvusException, match="too long"):
        asyncio.run(write_batch(Broken(), [doc(1)], mode="upsert", concurrency=1, max_wait=0.01))
