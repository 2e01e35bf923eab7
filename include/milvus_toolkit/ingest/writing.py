"""Write one staged batch into Milvus with many langchain-milvus calls in flight.

Every write is keyed by the chunk's deterministic id, so whatever is retried (a call by
tenacity, a whole task by Airflow) can never duplicate rows:
- ``upsert``: ``aupsert`` replaces a row with the same id (Milvus's native upsert);
- ``add``: ``aadd_documents`` inserts only the chunks whose ids are not in the collection
  yet (checked with Strong consistency before each attempt), and never re-embeds them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections.abc import Sequence
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

log = logging.getLogger(__name__)

TRANSIENT_GRPC_CODES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
}
TRANSIENT_WORDS = ("unavailable", "timeout", "timed out", "deadline", "connect", "rate limit", "not ready", "channel closed", "socket closed")
MIN_CALL_SIZE, MAX_CALL_SIZE = 16, 256


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
            self.what, state.attempt_number, _short(state.outcome.exception()), state.next_action.sleep,
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


async def existing_ids(store, ids: Sequence[str]) -> set[str]:
    """The subset of ``ids`` already in the store's collection (Strong consistency)."""
    found: set[str] = set()
    pk = store._primary_field  # langchain-milvus keeps the pk field name only privately
    for start in range(0, len(ids), 1000):
        part = list(ids[start : start + 1000])
        rows = await store.aclient.query(
            store.collection_name,
            filter=f"{pk} in {part!r}".replace("'", '"'),
            output_fields=[pk],
            consistency_level="Strong",
        )
        found.update(row[pk] for row in rows)
    return found


async def write_batch(
    store,
    chunks: list[Document],
    *,
    mode: str,
    concurrency: int,
    batch_index: int = 0,
    max_attempts: int = 6,
    max_wait: float = 30.0,
) -> WriteResult:
    """Write ``chunks`` through a langchain-milvus store opened in this event loop."""
    started = time.perf_counter()
    size = call_size_for(len(chunks), concurrency)
    groups = [chunks[i : i + size] for i in range(0, len(chunks), size)]
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
                        present = await existing_ids(store, [c.id for c in group])
                        todo = [c for c in group if c.id not in present]
                    if not todo:
                        return
                    ids = [c.id for c in todo]
                    if mode == "upsert":
                        await store.aupsert(ids=ids, documents=todo)
                    else:
                        await store.aadd_documents(todo, ids=ids)
                    written += len(todo)

    await asyncio.gather(*(write_group(g) for g in groups))
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _short(exc: BaseException | None) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300] if exc else "?"
