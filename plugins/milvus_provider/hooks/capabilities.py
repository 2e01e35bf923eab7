"""What a Milvus server can do, read from the version it reports.

Milvus has no "list features" call, but every feature this provider asks for arrived in a
known release, and each server flavour names its release in ``get_server_version()``:

- Milvus standalone / distributed: ``v2.3.5-lite``, ``v2.5.4``, ``2.6.0``;
- Milvus Lite as a server (PyPI ``milvus-lite`` 3.x): ``milvus_lite-3.2.2``; it implements the
  2.5 API (BM25 functions, hybrid search, partition keys, aliases) but has no users, so no
  authentication;
- Zilliz Cloud: ``Zilliz Cloud Vector Database(Compatible with Milvus 2.5)``.

A version this module cannot read supports nothing optional: asking for a feature then fails
before anything is written, with the version in the message, instead of failing half-way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Feature -> (what it is, the first Milvus release that has it).
FEATURES: dict[str, tuple[str, tuple[int, int]]] = {
    "bm25": ("BM25 full-text search (a BM25 function into a sparse vector field)", (2, 5)),
    "hybrid_search": ("hybrid search (several vector fields ranked together)", (2, 4)),
    "partition_key": ("partition keys (many tenants in one collection)", (2, 2)),
    "aliases": ("collection aliases", (2, 0)),
    "filter_params": ("filter templates with bound values (filter_params)", (2, 5)),
}
# Milvus Lite 3.x serves the Milvus 2.5 API.
LITE_EQUIVALENT = (2, 5)


class UnsupportedFeatureError(RuntimeError):
    """The server lacks a feature the caller asked for; nothing was written."""


@dataclass(frozen=True)
class ServerCapabilities:
    """What the server behind a connection supports (JSON-safe through :meth:`to_dict`)."""

    version: str  # as the server reported it
    flavor: str  # "milvus", "milvus-lite", "zilliz-cloud" or "unknown"
    milvus_api: tuple[int, int] | None  # the Milvus release whose API it serves
    bm25: bool
    hybrid_search: bool
    partition_key: bool
    aliases: bool
    filter_params: bool
    authentication: bool  # the server can check users and passwords

    @classmethod
    def from_version(cls, version: str) -> ServerCapabilities:
        flavor, api = _parse(version)
        has = {name: api is not None and api >= since for name, (_, since) in FEATURES.items()}
        if flavor == "milvus-lite":  # Lite's own expression parser has no templates ("unexpected character '{'")
            has["filter_params"] = False
        return cls(
            version=version,
            flavor=flavor,
            milvus_api=api,
            authentication=flavor in ("milvus", "zilliz-cloud"),
            **has,
        )

    def supports(self, feature: str) -> bool:
        if feature not in FEATURES:
            raise ValueError(f"unknown Milvus feature {feature!r}; known: {', '.join(FEATURES)}")
        return bool(getattr(self, feature))

    def require(self, features: Iterable[str], *, where: str, action: str = "") -> None:
        """Raise :class:`UnsupportedFeatureError` naming the server version and each missing
        feature (and the release that has it)."""
        missing = [name for name in features if not self.supports(name)]
        if not missing:
            return
        needs = "; ".join(
            f"{FEATURES[name][0]} needs Milvus {'.'.join(map(str, FEATURES[name][1]))}+" for name in missing
        )
        raise UnsupportedFeatureError(
            f"Milvus server {self.version} at {where} does not support {', '.join(missing)} ({needs}). "
            f"{action + ' was refused; ' if action else ''}nothing was created or written. Use a server that "
            f"has it (e.g. Milvus 2.5+ or Milvus Lite 3.x) or leave the option off."
        )

    def describe(self) -> str:
        """One line for logs and ``test_connection``: what is and is not supported."""
        names = [*FEATURES, "authentication"]
        yes = [name for name in names if getattr(self, name)]
        no = [name for name in names if not getattr(self, name)]
        api = f"Milvus {'.'.join(map(str, self.milvus_api))} API" if self.milvus_api else "unknown API"
        return f"{self.flavor}, {api}; supports: {', '.join(yes) or 'none'}" + (f"; not: {', '.join(no)}" if no else "")

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "flavor": self.flavor,
            "milvus_api": ".".join(map(str, self.milvus_api)) if self.milvus_api else None,
            **{name: getattr(self, name) for name in (*FEATURES, "authentication")},
        }


def _parse(version: str) -> tuple[str, tuple[int, int] | None]:
    text = (version or "").strip()
    if text.lower().startswith("milvus_lite") or text.lower().startswith("milvus-lite"):
        return "milvus-lite", LITE_EQUIVALENT
    cloud = re.search(r"Compatible with Milvus (\d+)\.(\d+)", text, re.IGNORECASE)
    if cloud:
        return "zilliz-cloud", (int(cloud[1]), int(cloud[2]))
    plain = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", text)
    if plain:
        return "milvus", (int(plain[1]), int(plain[2]))
    return "unknown", None
