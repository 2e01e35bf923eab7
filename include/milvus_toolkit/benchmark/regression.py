"""The regression check: each run is compared with the newest earlier run on the same server
(same URI and database) with the same embedding, dimension, ``top_k`` and ``search_rows``; a
cell whose batch time grew by more than ``regression_threshold`` (default 20%) is flagged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def comparable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same server and the same conditions the figures depend on."""
    ea, eb = a["environment"], b["environment"]
    pa, pb = a.get("params", {}), b.get("params", {})
    return (
        ea.get("milvus_uri") == eb.get("milvus_uri")
        and ea.get("milvus_database") == eb.get("milvus_database")
        and ea.get("embedding_model") == eb.get("embedding_model")
        and ea.get("dim") == eb.get("dim")
        and pa.get("top_k") == pb.get("top_k")
        and pa.get("search_rows") == pb.get("search_rows")
    )


def find_previous_run(folder: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The newest earlier run in ``folder`` that is comparable with ``record``."""
    runs = Path(folder) / "runs"
    if not runs.is_dir():
        return None
    for path in sorted(runs.glob("*.json"), reverse=True):
        try:
            other = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if other.get("run_id") == record["run_id"] or other.get("started_at", "") >= record["started_at"]:
            continue
        if comparable(record, other):
            return other
    return None


def find_regressions(
    current: dict[str, Any], previous: dict[str, Any] | None, threshold: float = 0.2
) -> list[dict[str, Any]]:
    """Cells whose median batch time grew by more than ``threshold`` (0.2 = 20%) since
    ``previous``, slowest first. Only cells present in both runs are compared."""
    if not previous:
        return []
    before = {c["key"]: c for c in previous.get("cells", [])}
    flagged = []
    for cell in current.get("cells", []):
        old = before.get(cell["key"])
        if not old or not old.get("seconds"):
            continue
        ratio = cell["seconds"] / old["seconds"]
        if ratio > 1 + threshold:
            flagged.append(
                {
                    "key": cell["key"],
                    "previous_s": old["seconds"],
                    "current_s": cell["seconds"],
                    "ratio": round(ratio, 3),
                    "slower_pct": round((ratio - 1) * 100, 1),
                    "previous_run": previous["run_id"],
                }
            )
    return sorted(flagged, key=lambda r: -r["ratio"])
