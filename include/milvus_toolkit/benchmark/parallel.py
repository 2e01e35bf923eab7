"""Blocking Milvus calls (DDL, inserts, counts) run over a few threads: preparing,
verifying and dropping many collections mostly waits on the server."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PREPARE_WORKERS = 16  # DDL waits (create, index, load) overlap well on the server


def parallel(fn: Callable[[Any], None], items: list[Any]) -> None:
    """Run ``fn`` over ``items`` on a few threads; the first error is raised after all
    started calls finished (so nothing is half-registered)."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(PREPARE_WORKERS, len(items))) as pool:
        futures = [pool.submit(fn, item) for item in items]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
