"""Batch staging, write retries and id-keyed idempotence (our own logic; a fake store)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import grpc
import pytest
from langchain_core.documents import Document
from pymilvus.exceptions import DataNotMatchException, MilvusException, ParamError
from upath import UPath

from milvus_toolkit.ingest.staging import BatchWriter, read_batch_file, remove_run_folder
from milvus_toolkit.ingest.validation import smoke_search
from milvus_toolkit.ingest.writing import ChunksRejected, call_size_for, is_transient, write_batch


def doc(i: int, source: str = "a.md") -> Document:
    return Document(page_content=f"text {i}", metadata={"source": source, "chunk_index": i}, id=f"id-{i}")


def test_batch_writer_streams_batches_and_counts_per_source(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path))  # only staged folders can be removed
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
        (TimeoutError(), True),
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

    def __init__(self, fail_after_write: int = 0, fail_before_write: int = 0):
        self.rows: dict[str, str] = {}
        self.copies: Counter[str] = Counter()  # rows per id, as Milvus would hold them
        self.fail_after_write = fail_after_write
        self.fail_before_write = fail_before_write

    async def present(self, ids):
        """Stands in for ``chunk_store.existing_ids`` (a Strong read of these ids)."""
        found = {pk for pk in ids if pk in self.rows}
        await asyncio.sleep(0)  # the answer travels back: other calls go on meanwhile
        return found

    async def _write(self, ids, documents, replace):
        if self.fail_before_write:
            self.fail_before_write -= 1
            raise MilvusException(code=2, message="Fail connecting to server")
        for i, d in zip(ids, documents, strict=True):
            self.copies[i] = 1 if replace else self.copies[i] + 1  # an insert never checks ids
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
    result = asyncio.run(write_batch(store, chunks, mode=mode, concurrency=4, max_wait=0.01, present=store.present))
    assert set(store.rows) == {c.id for c in chunks}
    assert result.retries == 3
    assert set(store.copies.values()) == {1}, "one row per id"


def test_concurrent_add_runs_never_duplicate():
    """Two runs (say a retried task and its zombie) both find an id missing, both write it."""
    store = FlakyStore()
    chunks = [doc(i) for i in range(40)]

    async def two_runs():
        await asyncio.gather(
            *(write_batch(store, chunks, mode="add", concurrency=4, present=store.present) for _ in range(2))
        )

    asyncio.run(two_runs())
    assert set(store.copies.values()) == {1}, "one row per id"


def test_add_mode_skips_ids_already_present():
    store = FlakyStore()
    store.rows = {"id-0": "old text 0", "id-1": "old text 1"}
    result = asyncio.run(
        write_batch(store, [doc(i) for i in range(5)], mode="add", concurrency=2, present=store.present)
    )
    assert (result.written, result.skipped_existing) == (3, 2)
    assert store.rows["id-0"] == "old text 0", "add never overwrites"


class Rejecting(FlakyStore):
    """Refuses any call holding ``bad_id`` with ``error(documents)``, as langchain-milvus does:
    its error log quotes the first row, text included."""

    def __init__(self, error, bad_id: str = "id-3"):
        super().__init__()
        self.error, self.bad_id, self.calls = error, bad_id, 0

    async def _write(self, ids, documents, replace):
        self.calls += 1
        if self.bad_id in ids:
            logging.getLogger("langchain_milvus.vectorstores.milvus").error(
                "First entity data: %s", documents[0].page_content
            )
            raise self.error(documents)
        await super()._write(ids, documents, replace)


SECRET = "SECRET-MARKER"


def secret_doc(i: int) -> Document:
    return Document(page_content=f"{SECRET} {i} " + "words " * 50, metadata={"source": f"dir/{i}.md"}, id=f"id-{i}")


def chain_messages(exc: BaseException) -> str:
    messages, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        messages.append(f"{exc!r} {exc}")
        exc = exc.__cause__ or exc.__context__
    return " | ".join(messages)


@pytest.mark.parametrize(
    "error",
    [
        lambda docs: MilvusException(
            code=1100, message=f"invalid input, row {docs[0].page_content!r}", is_input_error=True
        ),
        lambda docs: ParamError(message=f"length of varchar exceeds max length, row {docs[0].page_content}"),
        lambda docs: DataNotMatchException(message=f"timeout field not match; row: {docs[-1].page_content[20:]}"),
        lambda docs: ValueError(f"unexpected: {[d.page_content for d in docs]}"),
    ],
    ids=["input-error", "param-error", "data-not-match", "any-non-transient"],
)
def test_rejected_chunks_are_named_without_their_text(error, caplog):
    store = Rejecting(error)
    chunks = [secret_doc(i) for i in range(6)]
    with caplog.at_level(logging.DEBUG), pytest.raises(ChunksRejected) as raised:
        asyncio.run(write_batch(store, chunks, mode="upsert", concurrency=1, max_attempts=3, max_wait=0.01))

    message = str(raised.value)
    assert "dir/3.md" in message and "id-3" in message
    assert SECRET not in chain_messages(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert SECRET not in caplog.text
    assert store.calls == 1, "no retry"
    assert isinstance(raised.value, ValueError)


def test_rejection_keeps_a_short_reason_when_it_quotes_no_text():
    store = Rejecting(
        lambda docs: MilvusException(code=1100, message="field source too long " + "x" * 1000, is_input_error=True)
    )
    with pytest.raises(ChunksRejected, match="field source too long") as raised:
        asyncio.run(write_batch(store, [secret_doc(3)], mode="upsert", concurrency=1))
    assert raised.value.sources == ["dir/3.md"] and raised.value.ids == ["id-3"]
    assert len(raised.value.reason) <= 300


def test_one_rejected_call_cancels_the_batchs_other_calls():
    events: list[str] = []

    class SlowOrRejecting(FlakyStore):
        async def aupsert(self, ids, documents):
            if "id-0" in ids:
                await asyncio.sleep(0.05)
                raise MilvusException(code=1100, message="bad input", is_input_error=True)
            try:
                await asyncio.sleep(5)
                events.append("completed")
            except asyncio.CancelledError:
                events.append("cancelled")
                raise

    async def run():
        with pytest.raises(Exception):  # noqa: B017 - what it is, is tested above
            await write_batch(SlowOrRejecting(), [doc(i) for i in range(64)], mode="upsert", concurrency=4)
        return list(events)  # at the moment the failure arrives

    assert asyncio.run(run()) == ["cancelled"] * 3


def test_langchain_milvus_loggers_are_restored_after_a_write():
    store = Rejecting(lambda docs: ValueError("bad"))
    with pytest.raises(ChunksRejected):
        asyncio.run(write_batch(store, [secret_doc(3)], mode="upsert", concurrency=1))
    assert logging.getLogger("langchain_milvus").level == logging.NOTSET
    assert logging.getLogger("langchain_milvus.vectorstores.milvus").level == logging.NOTSET


def test_transient_errors_are_still_raised_as_they_are_once_retries_run_out():
    store = FlakyStore(fail_before_write=5)
    with pytest.raises(MilvusException, match="Fail connecting"):
        asyncio.run(write_batch(store, [doc(1)], mode="upsert", concurrency=1, max_attempts=2, max_wait=0.01))


class SearchStore:
    def __init__(self, hits: list[Document]):
        self.hits = hits

    def similarity_search(self, text, k, consistency_level):
        return self.hits[:k]


def hit(pk: str, text: str) -> Document:
    return Document(page_content=text, metadata={"pk": pk})


def test_smoke_search_finds_the_chunk_by_id():
    assert smoke_search(SearchStore([hit("x", "other"), hit("me", "mine")]), "me", "mine") == (True, ["x", "me"])


def test_smoke_search_accepts_an_identical_chunk_when_boilerplate_ties():
    hits = [hit(f"copy-{i}", "Copyright notice") for i in range(5)] + [hit("me", "Copyright notice")]
    assert smoke_search(SearchStore(hits), "me", "Copyright notice") == (True, ["copy-0", "copy-1", "copy-2"])


def test_smoke_search_fails_when_neither_id_nor_text_is_found():
    hits = [hit("a", "Copyright notice!"), hit("b", "copyright notice")]
    assert smoke_search(SearchStore(hits), "me", "Copyright notice") == (False, ["a", "b"])
