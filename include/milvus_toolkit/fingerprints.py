"""Skip what did not change, before reading it: each source's fingerprint, recorded on its rows.

Every row of a source carries the source's fingerprint (a Milvus dynamic field, ``source_fp``,
beside ``run_stamp`` and ``meta_hash``): ``<split identity>|<cheap facts>|<content hash>|<chunks>``.

- split identity: a hash of everything that decides what a source splits into (splitter, chunk
  size, overlap, tenant, the embedding identity, and ``READER_VERSION`` of the toolkit's reading
  and splitting code). Another value invalidates every fingerprint.
- cheap facts: what a listing gives without reading: ``size`` and ``mtime_ns`` for a local file,
  ``size`` and ETag (or generation...) for an object. ``-`` when they cannot be trusted: a file
  modified less than ``RACY_SECONDS`` before it was looked at (a second edit within the file
  system's timestamp granularity could keep its mtime), an object without a version.
- content hash: sha256 of the bytes read (the rows' ``doc_hash``).
- chunks: how many rows the source split into.

A run skips a source (does not read, split, embed or write it; its rows stay, like an unreadable
source's) only when the collection itself says, read now with Strong consistency and scoped to the
run's tenant, that all the source's rows carry one and the same fingerprint, that they are as many
as it records, and that its split identity and cheap facts equal this run's. Anything else (no
rows, rows of an older toolkit, rows that disagree after a run stopped half way, another count)
means the source is read. ``verify_content`` also reads every source and compares its content
hash: an edit that kept both size and mtime is then caught. A full rebuild, ``force_reembed`` and
ingest's ``upsert`` mode never skip.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

FINGERPRINT = "source_fp"
# Bump when reading, decoding or splitting code changes what a source becomes: every
# fingerprint recorded before is then stale, and the next run reads everything.
READER_VERSION = "1"
RACY_SECONDS = 2.0
UNTRUSTED = "-"
MIXED = object()  # the rows of a source carry different fingerprints
MIXED_TEXT = "<mixed>"  # ``MIXED`` when staged as JSON (no fingerprint text has this form)


def split_identity(splitter: str, chunk_size: int, chunk_overlap: int, embedding: str, tenant: str | None) -> str:
    """A short hash of what decides a source's chunks and vectors."""
    text = "\x00".join([READER_VERSION, splitter, str(chunk_size), str(chunk_overlap), embedding, tenant or ""])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def local_facts(size: int, mtime_ns: int, now_ns: int | None = None) -> str:
    """``<size>:<mtime_ns>``, or ``-`` for a file modified less than ``RACY_SECONDS`` ago."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    if now_ns - mtime_ns < RACY_SECONDS * 1e9:
        return UNTRUSTED
    return f"{size}:{mtime_ns}"


def remote_facts(entry: dict, version_keys: Iterable[str]) -> str:
    """``<size>:<version>`` of an object from its listing entry, or ``-`` without a version."""
    size = entry.get("size")
    version = next((str(entry[key]) for key in version_keys if entry.get(key)), None)
    if size is None or version is None:
        return UNTRUSTED
    return f"{size}:{version}"


@dataclass(frozen=True)
class Fingerprint:
    split: str
    facts: str
    content: str
    chunks: int

    def text(self) -> str:
        return f"{self.split}|{self.facts}|{self.content}|{self.chunks}"

    @classmethod
    def parse(cls, text: str | None) -> Fingerprint | None:
        try:
            split, facts, content, chunks = str(text).split("|")
            return cls(split, facts, content, int(chunks))
        except (ValueError, TypeError):
            return None


@dataclass
class Recorded:
    """What the collection says of one source: its rows' fingerprint (``MIXED`` when they
    disagree, ``None`` when they carry none) and how many rows it has."""

    fingerprint: object = None
    rows: int = 0

    def to_json(self) -> list:
        return [MIXED_TEXT if self.fingerprint is MIXED else self.fingerprint, self.rows]

    @classmethod
    def from_json(cls, value: list) -> Recorded:
        fingerprint, rows = value
        return cls(MIXED if fingerprint == MIXED_TEXT else fingerprint, rows)

    def add(self, text: str | None) -> None:
        if self.rows == 0:
            self.fingerprint = text
        elif self.fingerprint is not MIXED and self.fingerprint != text:
            self.fingerprint = MIXED
        self.rows += 1


def recorded(rows: Iterable[dict], source_field: str = "source") -> dict[str, Recorded]:
    """Per source, from rows with ``source`` and ``source_fp``: one entry per source, never per row."""
    found: dict[str, Recorded] = {}
    for row in rows:
        found.setdefault(row[source_field], Recorded()).add(row.get(FINGERPRINT))
    return found


@dataclass(frozen=True)
class Decision:
    skip: bool
    reason: str  # why it is read (or "unchanged")
    chunks: int = 0  # the rows it keeps, when skipped
    content: str | None = None  # the recorded content hash (verify_content compares with it)


def decide(known: Recorded | None, split: str, facts: str) -> Decision:
    """Whether a source may be skipped on its cheap facts (``verify_content`` then also compares
    the content hash, after reading)."""
    if known is None or known.rows == 0:
        return Decision(False, "new (no rows)")
    if known.fingerprint is MIXED:
        return Decision(False, "its rows disagree (a run stopped half way?)")
    fingerprint = Fingerprint.parse(known.fingerprint)
    if fingerprint is None:
        return Decision(False, "no fingerprint recorded")
    if fingerprint.chunks != known.rows:
        return Decision(False, f"{known.rows} rows, {fingerprint.chunks} recorded")
    if fingerprint.split != split:
        return Decision(False, "split settings or model changed")
    if facts == UNTRUSTED or fingerprint.facts == UNTRUSTED:
        return Decision(False, "size and time cannot be trusted (modified just before it was read, or no version)")
    if fingerprint.facts != facts:
        return Decision(False, "changed (size, mtime or version)")
    return Decision(True, "unchanged", fingerprint.chunks, fingerprint.content)
