"""Write one staged batch into Milvus with many langchain-milvus calls in flight.

Every write is an upsert keyed by the chunk's deterministic id, so whatever is retried (a
call by tenacity, a whole task by Airflow) or runs twice at once can never duplicate rows:
- ``upsert``: ``aupsert`` replaces a row with the same id (Milvus's native upsert);
- ``add``: only the chunks whose ids are not in the collection yet (checked with Strong
  consistency before each attempt, through ``chunk_store.existing_ids``) are written, so
  present ones are never re-embedded.
  They are written with ``aupsert`` too: an insert after the check would duplicate a row
  that a concurrent run wrote in between.

Transient errors are retried with backoff. Any other error is permanent: the batch's other
calls are cancelled and ``ChunksRejected`` is raised, naming the chunks but never quoting
their text (langchain-milvus's own error log of the failing row is silenced too).
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import grpc
from langchain_core.documents import Document
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from milvus_toolkit.rules import PermanentError

log = logging.getLogger(__name__)

TRANSIENT_GRPC_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
}
TRANSIENT_WORDS = (
    "unavailable",
    "timeout",
    "timed out",
    "deadline",
    "connect",
    "rate limit",
    "not ready",
    "channel closed",
    "socket closed",
)
MIN_CALL_SIZE, MAX_CALL_SIZE = 16, 256
REASON_CHARS = 300
QUOTE_CHARS = 40  # a run of this many characters of a chunk's text in a message counts as a quote


class PermanentWriteError(PermanentError):
    """A write that no retry can fix: fail the task at once."""


class ChunksRejected(PermanentWriteError, ValueError):
    """Milvus (or the embedding) refused a call's chunks. The message names their sources,
    ids and the cleaned reason, never their text; the original error is not chained."""

    def __init__(self, chunks: Sequence[Document], reason: str, batch: str = "") -> None:
        self.sources = sorted({str(c.metadata.get("source", "?")) for c in chunks})
        self.ids = [str(c.id) for c in chunks]
        self.reason = reason
        where = f"{batch}: " if batch else ""
        super().__init__(
            f"{where}{len(self.ids)} chunks rejected; sources: {', '.join(self.sources)}; "
            f"chunk ids: {', '.join(self.ids)}; reason: {reason}"
        )


@dataclass
class WriteResult:
    batch: int
    chunks: int
    written: int
    skipped_existing: int
    calls: int
    retries: int
    seconds: float
    peak_rss_mb: float

    def to_xcom(self) -> dict:
        return asdict(self)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the server restarting or busy, timeouts, rate limits."""
    from pymilvus.exceptions import MilvusException

    for err in _chain(exc):
        if isinstance(err, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
            return True
        if isinstance(err, grpc.RpcError) and hasattr(err, "code") and err.code() in TRANSIENT_GRPC_CODES:
            return True
        if isinstance(err, MilvusException):
            if getattr(err, "is_input_error", False):
                return False
            if getattr(err, "retriable", False) or err.code in (2, 8):  # connect failure, rate limit
                return True
            if any(word in str(err).lower() for word in TRANSIENT_WORDS):
                return True
        name = type(err).__name__
        if name in {"RateLimitError", "APITimeoutError", "APIConnectionError", "InternalServerError"}:
            return True  # openai's transient errors (its client retried already)
    return False


def is_permanent(exc: BaseException) -> bool:
    """Milvus refused the input (whatever the message says), or the error is not transient."""
    from pymilvus.exceptions import DataNotMatchException, ParamError

    for err in _chain(exc):
        if isinstance(err, (ParamError, DataNotMatchException)) or getattr(err, "is_input_error", False):
            return True
    return not is_transient(exc)


def clean_reason(exc: BaseException, chunks: Sequence[Document]) -> str:
    """The error's message on one line, at most ``REASON_CHARS``, withheld entirely if it
    quotes any of ``chunks``' text (pymilvus messages can hold the row data)."""
    reason = _short(exc)
    texts = [" ".join(c.page_content.split()) for c in chunks]
    windows = [reason[i : i + QUOTE_CHARS] for i in range(max(len(reason) - QUOTE_CHARS, 0) + 1)]
    for text in texts:
        prefix = text[:QUOTE_CHARS]
        if (prefix and prefix in reason) or any(window in text for window in windows):
            return f"{type(exc).__name__} (message withheld: it quotes chunk text)"
    return reason


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_levels: dict[str, int] = {}


@contextmanager
def quiet_langchain_milvus() -> Iterator[None]:
    """Raise the ``langchain_milvus`` loggers to CRITICAL: on a failed insert or upsert they
    log the first row, chunk text included, at ERROR. Counted, so that concurrent users do
    not restore the levels while another call is still in flight."""
    global _quiet_depth
    with _quiet_lock:
        if _quiet_depth == 0:
            names = [
                "langchain_milvus",
                *(n for n in list(logging.root.manager.loggerDict) if n.startswith("langchain_milvus.")),
            ]
            for name in names:
                _quiet_levels[name] = logging.getLogger(name).level
                logging.getLogger(name).setLevel(logging.CRITICAL)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                for name, level in _quiet_levels.items():
                    logging.getLogger(name).setLevel(level)
                _quiet_levels.clear()


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


class RetryLog:
    """tenacity's ``before_sleep`` hook: counts the retries of ``what`` and logs each one."""

    def __init__(self, what: str):
        self.what = what
        self.count = 0

    def __call__(self, state: RetryCallState) -> None:
        self.count += 1
        log.warning(
            "%s: attempt %d failed with %s; retrying in %.1f s",
            self.what,
            state.attempt_number,
            _short(state.outcome.exception()),
            state.next_action.sleep,
        )


def retrying(on_retry: RetryLog, *, max_attempts: int = 6, max_wait: float = 30.0) -> AsyncRetrying:
    """Retries of transient errors with exponential backoff and jitter (1 s, 2 s, 4 s, ...
    at most ``max_wait``); anything else, or the last failure, is raised as it is."""
    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential_jitter(initial=1, max=max_wait),
        stop=stop_after_attempt(max_attempts),
        before_sleep=on_retry,
        reraise=True,
    )


def call_size_for(chunks: int, concurrency: int) -> int:
    """Chunks per call: enough calls to keep ``concurrency`` of them in flight, each large
    enough that embedding and gRPC overheads stay small."""
    return max(MIN_CALL_SIZE, min(MAX_CALL_SIZE, math.ceil(chunks / max(concurrency, 1))))


async def write_batch(
    store,
    chunks: list[Document],
    *,
    mode: str,
    concurrency: int,
    batch_index: int = 0,
    max_attempts: int = 6,
    max_wait: float = 30.0,
    present: Callable[[list[str]], Awaitable[set[str]]] | None = None,
) -> WriteResult:
    """Write ``chunks`` through a langchain-milvus store opened in this event loop.

    ``present`` (needed by ``mode="add"``): the ids among those given that the collection
    holds already, read with Strong consistency (``chunk_store.existing_ids``)."""
    if mode == "add" and present is None:
        raise ValueError("write_batch(mode='add') needs present=<the ids already in the collection>")
    started = time.perf_counter()
    size = call_size_for(len(chunks), concurrency)
    # Chunks of similar length share a call: a local model pads each forward pass to its
    # longest text, so mixed lengths cost compute for nothing (docs/ingest-benchmark.md).
    by_length = sorted(chunks, key=lambda c: len(c.page_content))
    groups = [by_length[i : i + size] for i in range(0, len(by_length), size)]
    semaphore = asyncio.Semaphore(concurrency)
    retries = RetryLog(f"batch {batch_index + 1}")
    written = 0

    async def write_group(group: list[Document]) -> None:
        nonlocal written
        async with semaphore:
            async for attempt in retrying(retries, max_attempts=max_attempts, max_wait=max_wait):
                with attempt:
                    todo = group
                    if mode == "add":
                        there = await present([c.id for c in group])
                        todo = [c for c in group if c.id not in there]
                    if todo:
                        await _upsert(store, todo, f"batch {batch_index + 1}")
                        written += len(todo)

    # A TaskGroup, unlike gather, cancels the other calls as soon as one fails for good.
    failure: BaseException | None = None
    with quiet_langchain_milvus():
        try:
            async with asyncio.TaskGroup() as calls:
                for group in groups:
                    calls.create_task(write_group(group))
        except BaseExceptionGroup as errors:
            failure = _first(errors)
    if failure is not None:
        raise failure  # raised outside the except block: no context holding other errors
    return WriteResult(
        batch=batch_index,
        chunks=len(chunks),
        written=written,
        skipped_existing=len(chunks) - written,
        calls=len(groups),
        retries=retries.count,
        seconds=round(time.perf_counter() - started, 3),
        peak_rss_mb=peak_rss_mb(),
    )


async def _upsert(store, chunks: list[Document], what: str) -> None:
    """One store call; a permanent failure becomes ``ChunksRejected`` without chunk text."""
    try:
        await store.aupsert(ids=[c.id for c in chunks], documents=chunks)
        return
    except Exception as exc:
        if not is_permanent(exc):
            raise
        rejected = ChunksRejected(chunks, clean_reason(exc, chunks), what)
    raise rejected from None  # outside the except block: the original is not even __context__


def _first(errors: BaseExceptionGroup) -> BaseException:
    """The error to report from a failed TaskGroup: a rejection if there is one."""
    leaves = []
    stack = [errors]
    while stack:
        for err in stack.pop().exceptions:
            (stack if isinstance(err, BaseExceptionGroup) else leaves).append(err)
    return next((e for e in leaves if isinstance(e, ChunksRejected)), leaves[0])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _short(exc: BaseException | None) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:REASON_CHARS] if exc else "?"
