"""The generic contract between any DAG and the Milvus view (docs/ui.md), free of Airflow imports.

A DAG tells the view about a collection in two places, both optional:

- **Collection properties** (Milvus keeps them with the collection). A key's last dotted
  segment gives its role, whatever namespace precedes it (``embedding``,
  ``acme.embedding`` and ``milvus_toolkit.embedding`` are all the embedding):
  ``embedding`` (model, or ``model/dim``), ``previous`` (the rollback copy of the alias that
  serves this collection), ``build_of`` (this collection is a build of that alias),
  ``dag_id`` (the DAG that keeps it). Keys with a ``quality.`` segment
  (``quality.recall_at_10``, ``acme.quality.ndcg``) are quality scores.
- **Asset events** on ``milvus://<name>`` or ``milvus://<conn_id>/<name>``: each event is one
  run of the DAG that emitted it. Their ``extra`` may carry ``rows`` (rows in the collection
  after the run), ``sources``, ``added``, ``deleted``, ``duration_s``, ``validation``
  (``passed``/``failed``) and ``quality.<metric>`` numbers; the view charts these over time and
  lists any other scalar key as it is.
- **Run artefacts**: an XCom value (any task of the run) that is a mapping with a ``paths``
  mapping of ``label -> file path``. Files under the configured artefacts root are shown on
  the run's "Milvus report" tab (images inline, Markdown rendered); others are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

ROLES = ("embedding", "previous", "build_of", "dag_id")
QUALITY = re.compile(r"(?:^|\.)quality\.(?P<metric>[^.].*)$")
ASSET_SCHEME = "milvus"
# The extra keys the view charts over time, in this order (quality.* follow).
SERIES = ("rows", "sources", "added", "deleted", "duration_s")
SECRET_WORDS = re.compile(r"password|passwd|secret|token|api[_-]?key|credential|authorization", re.I)


def role_of(key: str) -> str | None:
    """The role of a property key (``None``: shown as it is)."""
    if QUALITY.search(key):
        return "quality"
    last = key.rsplit(".", 1)[-1]
    return last if last in ROLES else None


def quality_metric(key: str) -> str | None:
    match = QUALITY.search(key)
    return match.group("metric") if match else None


def is_secret_key(key: str) -> bool:
    """A property or extra key that may hold a secret: its value is never shown."""
    return bool(SECRET_WORDS.search(key))


def visible(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """``mapping`` with the values of secret-looking keys hidden."""
    return {k: ("(hidden)" if is_secret_key(str(k)) else v) for k, v in mapping.items()}


@dataclass(frozen=True)
class Facts:
    """What a collection's properties say under the contract."""

    embedding: str | None = None
    previous: str | None = None
    build_of: str | None = None
    dag_id: str | None = None
    quality: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> Facts:
        found: dict[str, Any] = {}
        quality: dict[str, str] = {}
        for key in sorted(properties):
            role = role_of(key)
            if role == "quality":
                quality[quality_metric(key) or key] = str(properties[key])
            elif role is not None and not is_secret_key(key):
                found.setdefault(role, str(properties[key]))
        return cls(quality=quality, **found)

    @property
    def scores(self) -> dict[str, float]:
        """The numeric quality properties (``quality.set``, ``.status`` and the like are not)."""
        out = {}
        for metric, value in self.quality.items():
            try:
                out[metric] = float(value)
            except ValueError:
                continue
        return out

    @property
    def dimension_from_embedding(self) -> int | None:
        """``model/384`` -> 384 (the toolkit's ``<model>/<dim>`` form); else ``None``."""
        if self.embedding and "/" in self.embedding:
            tail = self.embedding.rsplit("/", 1)[1]
            return int(tail) if tail.isdigit() else None
        return None


def asset_target(uri: str) -> tuple[str | None, str] | None:
    """``milvus://<name>`` -> ``(None, name)``; ``milvus://<conn_id>/<name>`` -> ``(conn_id, name)``;
    anything else -> ``None``."""
    parts = urlsplit(uri)
    if parts.scheme != ASSET_SCHEME or not parts.netloc:
        return None
    path = parts.path.strip("/")
    if path:
        if "/" in path:
            return None
        return unquote(parts.netloc), unquote(path)
    return None, unquote(parts.netloc)


@dataclass(frozen=True)
class RunEvent:
    """One asset event on a collection: one run of the DAG that emitted it."""

    timestamp: datetime
    dag_id: str | None
    run_id: str | None
    extra: dict[str, Any]

    def number(self, key: str) -> float | None:
        value = self.extra.get(key)
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            return None

    @property
    def validation(self) -> str | None:
        value = self.extra.get("validation")
        if value is None:
            return None
        text = str(value).lower()
        return "passed" if text in ("passed", "true", "ok", "success") else "failed"

    @property
    def details(self) -> dict[str, Any]:
        """Every scalar key of ``extra`` (secrets hidden), for the history table."""
        return visible({k: v for k, v in self.extra.items() if isinstance(v, (str, int, float, bool)) or v is None})


def series_keys(events: list[RunEvent]) -> list[str]:
    """The documented numeric keys present in ``events``, then their ``quality.*`` keys."""
    keys = [k for k in SERIES if any(e.number(k) is not None for e in events)]
    quality = sorted({k for e in events for k in e.extra if QUALITY.search(k) and e.number(k) is not None})
    return keys + quality


def artifact_paths(value: Any) -> dict[str, str]:
    """The ``label -> path`` mapping an XCom value names under the contract (else empty)."""
    if isinstance(value, Mapping) and isinstance(value.get("paths"), Mapping):
        return {str(k): str(v) for k, v in value["paths"].items() if isinstance(v, str) and v}
    return {}
