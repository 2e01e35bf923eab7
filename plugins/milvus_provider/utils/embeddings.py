"""Turn whatever a DAG author passes as ``embedding`` into something that embeds texts.

Independent of the hook and of Milvus: operators use it to embed rows given as texts and
query texts. Accepted:

- a LangChain ``Embeddings`` instance (anything with ``embed_documents``/``embed_query``);
- a plain callable ``f(list[str]) -> list[list[float]]``;
- a name: ``"package.module:attribute"`` or ``"package.module.attribute"``, resolved when the
  task runs; the attribute is one of the above, or a class that is instantiated without
  arguments.

LangChain is not imported here: the provider does not require it.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Sequence
from typing import Any

Vector = list[float]


class EmbeddingAdapter:
    """One interface over the accepted kinds: ``embed_documents``, ``embed_query`` and
    their async twins (LangChain's own async methods when the object has them)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"EmbeddingAdapter({self.target!r})"

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        texts = [str(text) for text in texts]
        if not texts:
            return []
        if hasattr(self.target, "embed_documents"):
            vectors = self.target.embed_documents(texts)
        else:
            vectors = self.target(texts)
        return _check(vectors, len(texts))

    def embed_query(self, text: str) -> Vector:
        if hasattr(self.target, "embed_query"):
            return _check([self.target.embed_query(str(text))], 1)[0]
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if hasattr(self.target, "aembed_documents"):
            texts = [str(text) for text in texts]
            return _check(await self.target.aembed_documents(texts), len(texts)) if texts else []
        return await asyncio.to_thread(self.embed_documents, texts)


def resolve_embedding(embedding: Any) -> EmbeddingAdapter | None:
    """An :class:`EmbeddingAdapter` for ``embedding`` (``None`` stays ``None``)."""
    if embedding is None:
        return None
    if isinstance(embedding, EmbeddingAdapter):
        return embedding
    if isinstance(embedding, str):
        embedding = _import(embedding)
        if inspect.isclass(embedding):
            embedding = embedding()
    if hasattr(embedding, "embed_documents") or callable(embedding):
        return EmbeddingAdapter(embedding)
    raise TypeError(
        f"embedding must be a LangChain Embeddings object, a callable list[str] -> list[vector] "
        f"or an import path naming one, got {type(embedding).__name__}"
    )


def _import(path: str) -> Any:
    module_name, sep, attribute = path.strip().partition(":")
    if not sep:
        module_name, _, attribute = path.strip().rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"embedding name {path!r} is not 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import {module_name!r} for embedding {path!r}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attribute!r} (embedding {path!r})") from None


def _check(vectors: Any, expected: int) -> list[Vector]:
    rows = [[float(x) for x in vector] for vector in vectors]
    if len(rows) != expected:
        raise ValueError(f"the embedding returned {len(rows)} vectors for {expected} texts")
    return rows
