"""Chunks travel between tasks by reference: one JSON-lines file per batch in a run-scoped
folder (local disk, or object storage shared by all workers). XCom carries only the small
manifests this module returns.

Staged files hold chunk text: on local disk run folders are private (0700) and files 0600.
A run folder is always strictly inside the staging root, and nothing else can be removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from langchain_core.documents import Document
from upath import UPath

from milvus_toolkit.ingest.documents import LOCAL_PROTOCOLS, source_path
from milvus_toolkit.paths import data_home
from milvus_toolkit.sync import Scope

STAGING_CONN_ENV = "MILVUS_TOOLKIT_STAGING_CONN_ID"


def staging_root() -> UPath:
    """``MILVUS_TOOLKIT_STAGING`` (a path or URL such as ``s3://bucket/staging``); by default
    ``$AIRFLOW_HOME/milvus_toolkit/staging``, else ``~/.local/share/milvus_toolkit/staging``
    (``milvus_toolkit.paths``; never beside the code). With several worker machines it must be
    shared. Object storage is reached with the connection ``MILVUS_TOOLKIT_STAGING_CONN_ID``
    (``aws_default`` for ``s3://``)."""
    return staged_path(os.environ.get("MILVUS_TOOLKIT_STAGING") or data_home() / "staging")


def staged_path(value: str | os.PathLike) -> UPath:
    """A staging path (or its text, as manifests carry it) with the staging connection's
    credentials when it is remote (Airflow's ``ObjectStoragePath``)."""
    text = str(value)
    if UPath(text).protocol in LOCAL_PROTOCOLS:
        return UPath(text)
    return source_path(text, os.environ.get(STAGING_CONN_ENV))


def safe_name(value: str) -> str:
    """A folder name made from any string: readable part (no dots, so never ``.`` or ``..``)
    plus a hash of the whole value, so two values that clean up alike stay apart."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", value)[:60] or "_"
    return f"{readable}-{hashlib.sha256(value.encode('utf-8')).hexdigest()[:16]}"


def run_folder(dag_id: str, run_id: str) -> UPath:
    """``<staging root>/<dag>/<run>`` (both names from ``safe_name``); ValueError if the
    result were not strictly inside the dag's folder."""
    dag_folder = staging_root() / safe_name(dag_id)
    folder = dag_folder / safe_name(run_id)
    if not _strictly_inside(folder, dag_folder):
        raise ValueError(f"run folder {str(folder)!r} would be outside {str(dag_folder)!r}")
    return folder


def _local(path: UPath) -> Path | None:
    """The local filesystem path behind ``path``, or None for remote storage."""
    if isinstance(path, Path):
        return path
    return Path(path.path) if path.protocol in ("file", "local") else None


def _strictly_inside(path: UPath, parent: UPath) -> bool:
    local, local_parent = _local(path), _local(parent)
    if local is not None and local_parent is not None:
        return local_parent.resolve() in local.resolve().parents  # follows symlinks and ".."
    if local is not None or local_parent is not None or path.protocol != parent.protocol:
        return False
    if ".." in path.parts or ".." in parent.parts:
        return False
    return path.path.rstrip("/").startswith(parent.path.rstrip("/") + "/")


class StagedRef:
    """What a mapped task needs to find its staged part (small: goes through XCom as a dict,
    with its ``label`` for the task's map index)."""

    index: int
    path: str
    first_source: str
    last_source: str

    @property
    def span(self) -> str:
        first, last = self.first_source, self.last_source
        return first if first == last else f"{first} .. {last}"

    @classmethod
    def of(cls, value):
        """Back from XCom (a dict) to the typed reference."""
        return value if isinstance(value, cls) else cls(**{f.name: value[f.name] for f in fields(cls)})

    def to_xcom(self) -> dict:
        return {**asdict(self), "label": self.label}


@dataclass
class BatchRef(StagedRef):
    """One staged batch of chunks (``path``: JSON lines), written by one mapped task."""

    index: int
    path: str
    chunks: int
    first_source: str
    last_source: str

    @property
    def label(self) -> str:
        return f"batch {self.index + 1}: {self.chunks} chunks ({self.span})"


@dataclass
class SplitManifest:
    """Result of the split stage (goes through XCom as a dict; whatever grows with the
    corpus, counts and ids per source, stays in files of the run folder)."""

    run_folder: str
    batches: list[BatchRef] = field(default_factory=list)
    files_seen: int = 0
    files_loaded: int = 0
    bad_files: int = 0
    chunks: int = 0
    record_path: str = ""  # the run's RunRecord (counts per source, bad files, the smoke chunk)
    seconds: float = 0.0
    run_stamp: float = 0.0  # when this run's split started: rows it writes carry it
    source_root: str = ""  # what source names are relative to
    scope: Scope = field(default_factory=Scope)  # the sources this run answers for
    # source -> ids its text splits into now, in parts (``IdsWriter``): no task reads every id at once
    new_ids_parts: list[str] = field(default_factory=list)
    files_unchanged: int = 0  # not read: their fingerprint in the collection says they did not change
    chunks_unchanged: int = 0  # the rows those sources keep
    files_verified: int = 0  # of those, read and hashed (verify_content) but not split
    why_read: dict[str, int] = field(default_factory=dict)  # reason -> sources read (when skipping)

    @classmethod
    def of(cls, value: SplitManifest | dict) -> SplitManifest:
        """Back from XCom (a dict) to the typed manifest."""
        if isinstance(value, cls):
            return value
        data = {f.name: value[f.name] for f in fields(cls) if f.name in value}
        return cls(
            **{
                **data,
                "batches": [BatchRef.of(b) for b in data.get("batches", [])],
                "scope": Scope(**data.get("scope", {})),
            }
        )

    def to_xcom(self) -> dict:
        return {**asdict(self), "batches": [batch.to_xcom() for batch in self.batches]}

    def record(self) -> RunRecord:
        """The run's staged record (read it once per task that needs it)."""
        return RunRecord.read(self.record_path)


@dataclass
class ShardRef(StagedRef):
    """One shard of the corpus's sources, staged by the listing (``path``: its files, from
    ``Corpus.shard``, and what the collection records of them), loaded and split by one mapped task."""

    index: int
    path: str
    files: int
    first_source: str
    last_source: str

    @property
    def label(self) -> str:
        return f"shard {self.index + 1}: {self.files} files ({self.span})"


@dataclass
class SplitPlan:
    """What the listing found (goes through XCom): the shards to load and split, each in its own
    task, and what they share. The collection's census (rows per source) is staged, not XCom."""

    run_folder: str
    run_stamp: float
    source_root: str
    files_seen: int
    shards: list[ShardRef] = field(default_factory=list)
    listed_prefix: str | None = None
    listed_pattern: str | None = None
    deletes_unlisted: bool = False
    census_path: str | None = None  # None: the run writes a new collection and diffs nothing
    split_identity: str = ""  # what every fingerprint of this run records (``fingerprints.split_identity``)
    started: float = 0.0  # when the listing started (epoch s; tasks may run in other processes): the split's duration

    @classmethod
    def of(cls, value: SplitPlan | dict) -> SplitPlan:
        if isinstance(value, cls):
            return value
        data = {f.name: value[f.name] for f in fields(cls) if f.name in value}
        return cls(**{**data, "shards": [ShardRef.of(s) for s in data.get("shards", [])]})

    def to_xcom(self) -> dict:
        return {**asdict(self), "shards": [shard.to_xcom() for shard in self.shards]}


@dataclass
class ShardResult:
    """What one shard's load and split staged (small: XCom). Per-source facts are in ``record_path``."""

    index: int
    batches: list[BatchRef] = field(default_factory=list)  # numbered within the shard (the merge renumbers)
    new_ids_parts: list[str] = field(default_factory=list)
    record_path: str = ""  # ``ShardRecord``
    files_loaded: int = 0
    chunks: int = 0
    files_verified: int = 0
    why_read: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def of(cls, value: ShardResult | dict) -> ShardResult:
        if isinstance(value, cls):
            return value
        data = {f.name: value[f.name] for f in fields(cls) if f.name in value}
        return cls(**{**data, "batches": [BatchRef.of(b) for b in data.get("batches", [])]})

    def to_xcom(self) -> dict:
        return {**asdict(self), "batches": [batch.to_xcom() for batch in self.batches]}


@dataclass
class ShardRecord:
    """What one shard learnt per source (staged beside its batches; the merge folds them into the
    run's ``RunRecord``)."""

    loaded: list[str] = field(default_factory=list)  # read fine (even if split into nothing)
    counts: dict[str, int] = field(default_factory=dict)  # source -> chunks split from it
    unchanged: dict[str, int] = field(default_factory=dict)  # source -> rows kept, not read or not split
    bad_files: list[dict] = field(default_factory=list)
    smoke_chunk: dict | None = None  # the shard's first chunk

    def write(self, path: UPath) -> str:
        return write_json(path, asdict(self))

    @classmethod
    def read(cls, path: str | UPath) -> ShardRecord:
        return cls(**read_json(path))


RUN_RECORD = "run_record.json"


@dataclass
class RunRecord:
    """What the split learnt that later tasks check against, staged once in the run folder
    (``run_record.json``, a private file like the batches): it grows with the corpus (one
    count per source), so it is not XCom. The ids each source splits into (``IdsWriter``'s
    parts) and the planned deletes stay separate files: together they can hold every id of the
    corpus, and only the tasks that compute deletes read them, one part at a time."""

    expected_counts: dict[str, int] = field(default_factory=dict)  # source -> chunks split from it
    # source -> rows the collection held when the run started (its tenant only; one entry per
    # source, from one streamed read): which sources exist decides what may be gone. ``None``:
    # the run writes a new collection and diffs nothing.
    census: dict[str, int] | None = None
    bad_files: list[dict] = field(default_factory=list)  # {"source", "reason"}: unreadable, rows kept
    smoke_chunk: dict | None = None  # one chunk's id and text (no chunk text in XCom); in batch 0
    unlisted: list[str] = field(default_factory=list)  # set by prepare: in the collection, no longer listed

    def write(self, folder: str | UPath) -> str:
        return write_json(staged_path(folder) / RUN_RECORD, asdict(self))

    @classmethod
    def read(cls, path: str | UPath) -> RunRecord:
        return cls(**read_json(path))


class BatchWriter:
    """Streams chunks into batch files of ``batch_size`` while counting chunks per source,
    so that memory stays bounded by one batch, whatever the corpus size."""

    def __init__(self, folder: UPath, batch_size: int, prefix: str = "") -> None:
        self.folder = folder
        self.batch_size = batch_size
        self.prefix = prefix  # a shard's batches are named apart from another shard's
        self.batches: list[BatchRef] = []
        self.counts: Counter[str] = Counter()
        self._pending: list[Document] = []
        make_private_folder(folder)

    def add(self, chunk: Document) -> None:
        self._pending.append(chunk)
        self.counts[chunk.metadata["source"]] += 1
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self, *, empty: bool = False) -> None:
        """Write the pending chunks as a batch; ``empty``: also when there are none (a run with
        nothing to write still hands one batch to its write tasks)."""
        if not self._pending and not empty:
            return
        index = len(self.batches)
        path = self.folder / f"batch-{self.prefix}{index:05d}.jsonl"
        write_batch_file(path, self._pending)
        self.batches.append(
            BatchRef(
                index=index,
                path=str(path),
                chunks=len(self._pending),
                first_source=self._pending[0].metadata["source"] if self._pending else "",
                last_source=self._pending[-1].metadata["source"] if self._pending else "",
            )
        )
        self._pending = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class IdsWriter:
    """The ids each read source splits into now, staged in parts of about ``part_size`` ids (a
    source's ids are never split between parts; a source with no chunks is still listed), so
    that the tasks that plan deletes and validate read one part at a time, never every id."""

    def __init__(self, folder: UPath, part_size: int, prefix: str = "") -> None:
        self.folder, self.part_size, self.prefix = folder, max(1, part_size), prefix
        self.parts: list[str] = []
        self._pending: dict[str, list[str]] = {}
        self._ids = 0

    def add(self, source: str, ids: list[str]) -> None:
        self._pending[source] = ids
        self._ids += len(ids)
        if self._ids >= self.part_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            path = self.folder / f"new-ids-{self.prefix}{len(self.parts):05d}.json"
            self.parts.append(write_json(path, self._pending))
        self._pending, self._ids = {}, 0


def read_new_ids(parts: Iterable[str]) -> Iterator[dict[str, set[str]]]:
    """Part by part: source -> the ids it splits into now."""
    for path in parts:
        yield {source: set(ids) for source, ids in read_json(path).items()}


def make_private_folder(folder: UPath) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if (local := _local(folder)) is not None:
        local.chmod(0o700)  # mkdir's mode is cut by the umask, chmod is not


def write_private_text(path: UPath, text: str) -> None:
    """Write a file readable by its owner only (on local disk)."""
    local = _local(path)
    if local is None:
        staged_path(path).write_text(text, encoding="utf-8")
        return
    fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # before any content: the umask, or an older file, may have widened it
    with open(fd, "w", encoding="utf-8") as file:
        file.write(text)


def write_batch_file(path: UPath, chunks: Iterable[Document]) -> None:
    lines = (
        json.dumps({"id": c.id, "text": c.page_content, "metadata": c.metadata}, ensure_ascii=False) for c in chunks
    )
    write_private_text(path, "\n".join(lines) + "\n")


def read_batch_file(path: str | UPath) -> list[Document]:
    text = staged_path(path).read_text(encoding="utf-8")
    return [_to_document(json.loads(line)) for line in text.splitlines() if line.strip()]


def _to_document(row: dict) -> Document:
    return Document(page_content=row["text"], metadata=row["metadata"], id=row["id"])


def write_json(path: UPath, data) -> str:
    write_private_text(path, json.dumps(data, ensure_ascii=False, indent=1))
    return str(path)


def read_json(path: str | UPath):
    return json.loads(staged_path(path).read_text(encoding="utf-8"))


def remove_run_folder(folder: str | UPath) -> None:
    """Delete a run's staged files (after a successful run). Refuses (ValueError) anything
    that is not strictly inside the staging root: never the root, a parent, or elsewhere."""
    path = staged_path(folder)
    if not _strictly_inside(path, staging_root()):
        raise ValueError(f"refusing to remove {str(path)!r}: not inside the staging root {str(staging_root())!r}")
    if not path.exists():
        return
    if (local := _local(path)) is not None:
        shutil.rmtree(local, ignore_errors=True)
    else:
        path.fs.rm(path.path, recursive=True)
