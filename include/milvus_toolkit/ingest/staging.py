"""Chunks travel between tasks by reference: one JSON-lines file per batch in a run-scoped
folder (local disk, or object storage shared by all workers). XCom carries only the small
manifests this module returns."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from upath import UPath

from milvus_toolkit.local_milvus import REPO_ROOT


def staging_root() -> UPath:
    """``MILVUS_TOOLKIT_STAGING`` (a path or URL such as ``s3://bucket/staging``); by default
    ``.local/staging`` in the repository. With several worker machines it must be shared."""
    return UPath(os.environ.get("MILVUS_TOOLKIT_STAGING") or REPO_ROOT / ".local" / "staging")


def run_folder(dag_id: str, run_id: str) -> UPath:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    return staging_root() / dag_id / safe


@dataclass
class BatchRef:
    """What a mapped task needs to find its batch (small: goes through XCom)."""

    index: int
    path: str
    chunks: int
    first_source: str
    last_source: str

    @property
    def label(self) -> str:
        span = self.first_source if self.first_source == self.last_source else f"{self.first_source} .. {self.last_source}"
        return f"batch {self.index + 1}: {self.chunks} chunks ({span})"


@dataclass
class SplitManifest:
    """Result of the split stage (goes through XCom; per-source counts stay in a file)."""

    run_folder: str
    batches: list[dict] = field(default_factory=list)
    files_seen: int = 0
    files_loaded: int = 0
    bad_files: int = 0
    chunks: int = 0
    expected_counts_path: str = ""
    bad_files_path: str = ""
    smoke_chunk_path: str = ""  # one chunk's id and text (a file: no chunk text in XCom)
    seconds: float = 0.0

    def to_xcom(self) -> dict:
        return asdict(self)


class BatchWriter:
    """Streams chunks into batch files of ``batch_size`` while counting chunks per source,
    so that memory stays bounded by one batch, whatever the corpus size."""

    def __init__(self, folder: UPath, batch_size: int) -> None:
        self.folder = folder
        self.batch_size = batch_size
        self.batches: list[BatchRef] = []
        self.counts: Counter[str] = Counter()
        self._pending: list[Document] = []
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, chunk: Document) -> None:
        self._pending.append(chunk)
        self.counts[chunk.metadata["source"]] += 1
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        index = len(self.batches)
        path = self.folder / f"batch-{index:05d}.jsonl"
        write_batch_file(path, self._pending)
        self.batches.append(
            BatchRef(
                index=index,
                path=str(path),
                chunks=len(self._pending),
                first_source=self._pending[0].metadata["source"],
                last_source=self._pending[-1].metadata["source"],
            )
        )
        self._pending = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def write_batch_file(path: UPath, chunks: Iterable[Document]) -> None:
    lines = (
        json.dumps({"id": c.id, "text": c.page_content, "metadata": c.metadata}, ensure_ascii=False)
        for c in chunks
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_batch_file(path: str | UPath) -> list[Document]:
    text = UPath(path).read_text(encoding="utf-8")
    return [_to_document(json.loads(line)) for line in text.splitlines() if line.strip()]


def _to_document(row: dict) -> Document:
    return Document(page_content=row["text"], metadata=row["metadata"], id=row["id"])


def write_json(path: UPath, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return str(path)


def read_json(path: str | UPath):
    return json.loads(UPath(path).read_text(encoding="utf-8"))


def remove_run_folder(folder: str | UPath) -> None:
    """Delete a run's staged files (after a successful run)."""
    path = UPath(folder)
    if not path.exists():
        return
    if isinstance(path, Path):  # local: shutil is simplest and handles nesting
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.fs.rm(path.path, recursive=True)
