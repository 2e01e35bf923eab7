"""The run figures the Milvus view charts (the provider's generic contract, docs/ui.md): the
toolkit's Asset events on ``milvus://<collection>`` carry them beside the run's own figures.

- ``rows``: rows in the collection (or the alias's serving build) after the run, Strong count;
- ``sources``: sources in it, as the run's validation saw them;
- ``added`` / ``deleted``: rows the run wrote / deleted;
- ``duration_s``: the run's duration;
- ``validation`` and ``quality.*`` are already in the figures under those names.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)


def view_figures(
    figures: dict[str, Any], validation: dict[str, Any], *, rows: int | None, started: float | None = None
) -> dict[str, Any]:
    """``figures`` plus the view's keys (an existing key is never overwritten)."""
    extra: dict[str, Any] = {}
    added = figures.get("added", figures.get("rows_written"))
    deleted = figures.get("deleted", figures.get("rows_deleted"))
    if added is not None:
        extra["added"] = added
    if deleted is not None:
        extra["deleted"] = deleted
    if "sources" in validation:
        extra["sources"] = int(validation["sources"]) + int(validation.get("other_sources_in_collection", 0))
    if rows is not None:
        extra["rows"] = rows
    if figures.get("total_seconds") is not None:
        extra["duration_s"] = figures["total_seconds"]
    elif started is not None:
        extra["duration_s"] = round(time.time() - started, 1)
    return {**extra, **figures}


def strong_count(hook, collection: str) -> int | None:
    """The collection's Strong row count, or ``None`` (the figure is left out, the run goes on)."""
    try:
        return hook.count(collection)
    except Exception as exc:  # a report never fails for a figure of the view
        log.warning("rows of '%s' for the Milvus view not counted: %s", collection, exc)
        return None
