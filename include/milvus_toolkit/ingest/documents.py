"""Find the files of a corpus and read them into text, with a reason for every file skipped.

Sources are local folders, globs, or object-storage URLs (``s3://bucket/docs``, ``gs://...``,
``az://...``) read through Airflow's ``ObjectStoragePath`` with the credentials of an Airflow
connection (``source_conn_id``; ``aws_default`` for ``s3://``). See docs/object-storage.md.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import io
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath

from fsspec.utils import glob_translate
from upath import UPath

from milvus_toolkit.fingerprints import Decision, local_facts, remote_facts
from milvus_toolkit.ingest.decoding import decode
from milvus_toolkit.rules import PermanentError

MARKDOWN = {".md", ".markdown"}
HTML = {".html", ".htm"}
PDF = {".pdf"}
RST = {".rst"}
TEXT = {".txt", ".text", ""}
# Source code by extension -> langchain-text-splitters Language name.
CODE_LANGUAGES = {
    ".py": "python",
    ".js": "js",
    ".mjs": "js",
    ".ts": "ts",
    ".tsx": "ts",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".scala": "scala",
    ".kt": "kotlin",
    ".swift": "swift",
    ".lua": "lua",
    ".pl": "perl",
    ".hs": "haskell",
    ".ex": "elixir",
    ".ps1": "powershell",
    ".proto": "proto",
    ".sol": "sol",
    ".r": "r",
    ".tex": "latex",
}
GLOB_CHARS = set("*?[")
LOCAL_PROTOCOLS = ("", "file", "local")
# The connection a remote source uses when the run names none (other schemes: the provider's default).
DEFAULT_CONN_IDS = {"s3": "aws_default", "s3a": "aws_default", "s3n": "aws_default"}
# What an object store says about an object's version, compared at listing and after reading.
VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "VersionId", "version_id", "content_md5")
LISTED_KEYS = ("size", *VERSION_KEYS)  # what a read and a fingerprint need of a listing's entry


class SourceError(PermanentError, ValueError):
    """The ``source`` param does not point at anything readable."""


class ListingUnavailable(RuntimeError):
    """A remote listing failed for a reason a retry may heal (network, throttling): nothing was
    changed, and the task's retries apply."""


@dataclass
class LoadedDocument:
    """One file's text (per page for PDFs), ready to split."""

    source: str  # path relative to the source root, POSIX style: stable across machines
    kind: str  # markdown | html | pdf | rst | code | text
    pages: list[tuple[int | None, str]]  # (page number or None, text)
    doc_hash: str  # sha256 of the raw bytes
    language: str | None = None  # for code
    encoding: str = "utf-8"
    facts: str = "-"  # size and mtime (or version) seen before reading: ``milvus_toolkit.fingerprints``
    why_read: str = ""  # why a run that skips unchanged sources read this one


@dataclass
class BadFile:
    source: str
    reason: str


@dataclass
class Unchanged:
    """A source not read (or, ``verified``, read and hashed but not split) because its fingerprint
    in the collection says it did not change: its ``chunks`` rows stay."""

    source: str
    chunks: int
    verified: bool = False


@dataclass
class Corpus:
    """Where a corpus lives and which files belong to it. ``root`` is what source names
    are relative to."""

    root: UPath
    files: list[UPath] = field(default_factory=list)
    single_file: bool = False  # the source is one file: its listing says nothing about other files
    # Remote sources: what the listing said of each object (by its path): size and version
    # (ETag, generation...). A read that does not match it is refused (``load``).
    listed: dict[str, dict] = field(default_factory=dict)

    def relative(self, path: UPath) -> str:
        """The source name of ``path``: POSIX, relative to the root, in Unicode NFC (a
        macOS-synced copy spells names in NFD: still the same source)."""
        name = (
            PurePosixPath(str(path.path if hasattr(path, "path") else path))
            .relative_to(PurePosixPath(str(self.root.path if hasattr(self.root, "path") else self.root)))
            .as_posix()
        )
        return unicodedata.normalize("NFC", name)

    def shard(self, files: list[UPath]) -> dict:
        """Some of the corpus's files, JSON-safe (``from_shard`` rebuilds it in another task): their
        names under the root as listed (not normalized), with the listing's size and version."""
        base = PurePosixPath(self.root.path)
        return {
            "root": str(self.root),
            "single_file": self.single_file,
            "files": [PurePosixPath(path.path).relative_to(base).as_posix() for path in files],
            "listed": {
                path.path: {key: value for key, value in self.listed[path.path].items() if key in LISTED_KEYS}
                for path in files
                if path.path in self.listed
            },
        }

    @classmethod
    def from_shard(cls, data: dict, conn_id: str | None = None) -> Corpus:
        reachable = source_path(data["root"], conn_id)  # the connection's credentials for a remote root
        return cls(
            root=UPath(data["root"]),
            files=[reachable.joinpath(name) for name in data["files"]],
            single_file=data["single_file"],
            listed=data["listed"],
        )


def discover(source: str, root: str | None = None, conn_id: str | None = None) -> Corpus:
    """The files named by ``source``: a folder (recursively), a single file, or a glob.
    Hidden files and folders (``.git``, ``.DS_Store``) are left out.

    Names are relative to ``root`` when given (``source`` must be inside it), else to the
    folder, the single file's parent, or the glob's folder. A local folder that cannot be
    listed raises ``SourceError``: an incomplete listing would look like deleted files. Remote
    sources use the connection ``conn_id`` (``source_path``).
    """
    pattern = None
    if any(c in source for c in GLOB_CHARS):
        folder_text, pattern = split_glob(source)
        folder = source_path(folder_text, conn_id)
    else:
        folder_text, folder = source, source_path(source, conn_id)
    if folder.protocol not in LOCAL_PROTOCOLS:
        return _discover_remote(source, folder, pattern, root, conn_id)
    if not folder.exists():
        what = f"folder {folder_text!r} of the glob {source!r}" if pattern else repr(source)
        raise SourceError(f"param 'source': {what} does not exist")
    if pattern is None and folder.is_file():
        corpus, files = Corpus(root=folder.parent, single_file=True), [folder]
    else:
        corpus = Corpus(root=folder)
        files = [folder.joinpath(name) for name in _list(folder, pattern)]
    return _rooted(corpus, files, folder, source, root)


def _rooted(corpus: Corpus, files: list, folder: UPath, source: str, root: str | None) -> Corpus:
    if root is not None:
        corpus.root = _canonical(source_path(root))
        if not _is_inside(folder, corpus.root):
            raise SourceError(f"param 'source': {source!r} is not inside source_root {root!r}")
    corpus.files = sorted(files, key=corpus.relative)
    return corpus


def source_path(text: str, conn_id: str | None = None) -> UPath:
    """A local path (made absolute), or an object-storage URL as Airflow's ``ObjectStoragePath``
    with the credentials of connection ``conn_id`` (``aws_default`` for ``s3://`` when none is
    named; ``s3://<conn_id>@bucket/key`` also names one)."""
    path = UPath(text)
    if path.protocol in LOCAL_PROTOCOLS:
        return UPath(os.path.abspath(text)) if path.protocol == "" else path
    try:
        from airflow.sdk import ObjectStoragePath
        from airflow.sdk.io.fs import has_fs
    except ImportError:  # the toolkit's logic imports without Airflow: plain fsspec then
        return path
    if not has_fs(path.protocol):  # no Airflow filesystem (and so no connection) for it: memory://...
        return path
    remote = ObjectStoragePath(text)
    return ObjectStoragePath(
        text, conn_id=conn_id or remote.conn_id or DEFAULT_CONN_IDS.get(remote.protocol.split("+")[0])
    )


def _canonical(path: UPath) -> UPath:
    """``path`` without a connection id in it: what source names and recorded roots are made of."""
    if path.protocol in LOCAL_PROTOCOLS:
        return path
    return UPath(f"{path.protocol}://{path.path}")


def _where(folder: UPath) -> str:
    conn_id = getattr(folder, "conn_id", None)
    return f"{_canonical(folder)}" + (f" (connection '{conn_id}')" if conn_id else "")


def _discover_remote(source: str, folder: UPath, pattern: str | None, root: str | None, conn_id) -> Corpus:
    """One complete, paginated listing (fsspec ``find``) of the folder, never from a cache: any
    error stops the run before anything is written (an incomplete listing would look like
    deleted objects), and an empty prefix is an empty corpus, which no run deletes from."""
    where = _where(folder)
    try:
        fs = folder.fs  # Airflow builds it from the connection
        fs.invalidate_cache(folder.path)
        info = fs.info(folder.path)
        if pattern is None and info.get("type") == "file":
            entries = {folder.path: info}
        else:
            entries = fs.find(folder.path, detail=True, withdirs=False)
    except FileNotFoundError as exc:
        raise SourceError(f"param 'source': {source!r} does not exist: {where}: {exc}") from None
    except PermissionError as exc:
        raise SourceError(
            f"param 'source': access to {where} refused: {exc}. Check the connection's credentials and "
            "permissions (source_conn_id); nothing was changed."
        ) from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"param 'source': cannot list {where}: {exc}; nothing was changed") from None
    except Exception as exc:  # network, throttling...: a retry may heal it
        if type(exc).__name__ == "AirflowNotFoundException":
            raise SourceError(f"param 'source_conn_id': {where}: {exc}") from None
        raise ListingUnavailable(f"cannot list {where}: {type(exc).__name__}: {exc}; nothing was changed") from None
    single = pattern is None and info.get("type") == "file"
    base = PurePosixPath(folder.path)
    corpus = Corpus(root=_canonical(folder.parent if single else folder), single_file=single)
    files = []
    regex = re.compile(glob_translate(pattern)) if pattern else None
    for key, entry in entries.items():
        if entry.get("type", "file") != "file" or key.endswith("/"):
            continue  # "folder" marker objects
        name = PurePosixPath(key).name if single else PurePosixPath(key).relative_to(base).as_posix()
        if (regex and not regex.fullmatch(name)) or any(part.startswith(".") for part in name.split("/")):
            continue
        path = folder if single else folder.joinpath(name)
        corpus.listed[path.path] = entry
        files.append(path)
    return _rooted(corpus, files, folder, source, root)


def _is_inside(path: UPath, root: UPath) -> bool:
    both_local = path.protocol in LOCAL_PROTOCOLS and root.protocol in LOCAL_PROTOCOLS
    if not both_local and path.protocol != root.protocol:
        return False
    return PurePosixPath(path.path).is_relative_to(PurePosixPath(root.path))


def _list(folder: UPath, pattern: str | None) -> list[str]:
    """POSIX paths, relative to the local ``folder``, of its non-hidden files matching ``pattern``."""
    depth = None if pattern is None or "**" in pattern else pattern.count("/") + 1
    names = _walk_local(folder.path, depth)
    if pattern:
        # fsspec's translation of a glob to a regex: the same "**" semantics as a remote glob.
        regex = re.compile(glob_translate(pattern))
        names = [name for name in names if regex.fullmatch(name)]
    return [name for name in names if not any(part.startswith(".") for part in name.split("/"))]


def _walk_local(top: str, depth: int | None) -> list[str]:
    """Every entry under ``top`` that is not a folder (down to ``depth`` levels), skipping
    hidden folders. Links are followed: a folder moved elsewhere and linked back is still
    listed, and a link that leads back into its own ancestors is not entered twice. A listed
    entry that cannot be read (a dangling link, a FIFO) stays listed: ``load`` reports it and
    its rows are kept, where leaving it out would make it look deleted. Unlike
    ``Path.rglob`` in Python 3.11, a folder that cannot be listed is an error, not skipped."""

    def fail(exc: OSError) -> None:
        raise SourceError(
            f"cannot list folder {exc.filename!r}: {exc.strerror or exc}; "
            "the listing would be incomplete, nothing was changed"
        ) from exc

    names = []
    ancestors = {top: {os.path.realpath(top)}}  # folder -> real paths of itself and its ancestors
    for folder, dirs, files in os.walk(top, onerror=fail, followlinks=True):
        relative = PurePath(os.path.relpath(folder, top))
        deep_enough = depth is not None and len(relative.parts) + 1 >= depth
        chain = ancestors.pop(folder, set())
        kept = []
        for d in [] if deep_enough else dirs:
            real = os.path.realpath(os.path.join(folder, d))
            if d.startswith(".") or real in chain:
                continue  # hidden, or a link loop: its files are listed under the first path
            ancestors[os.path.join(folder, d)] = chain | {real}
            kept.append(d)
        dirs[:] = kept
        names += [(relative / f).as_posix() for f in files]
    return names


def split_glob(source: str) -> tuple[str, str]:
    """``/data/docs/**/*.md`` -> (``/data/docs``, ``**/*.md``)."""
    scheme, sep, rest = source.rpartition("://")
    prefix = f"{scheme}{sep}" if sep else ""
    parts = rest.split("/")
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            root = "/".join(parts[:i]) or ("/" if rest.startswith("/") else ".")
            return prefix + root, "/".join(parts[i:])
    return source, "*"


def kind_of(name: str) -> tuple[str, str | None]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in MARKDOWN:
        return "markdown", None
    if suffix in HTML:
        return "html", None
    if suffix in PDF:
        return "pdf", None
    if suffix in RST:
        return "rst", None
    if suffix in CODE_LANGUAGES:
        return "code", CODE_LANGUAGES[suffix]
    return "text", None


def load(
    corpus: Corpus,
    max_file_bytes: int | None = None,
    *,
    decide: Callable[[str, str], Decision] | None = None,
    verify_content: bool = False,
) -> Iterator[LoadedDocument | BadFile | Unchanged]:
    """Read every file; yield a ``LoadedDocument`` or a ``BadFile`` saying why not. A file
    over ``max_file_bytes``, a name that is not UTF-8 or that another file shares in NFC, and
    an entry that is not a regular file are ``BadFile``s and are not read at all.

    ``decide(source, cheap facts)`` (``milvus_toolkit.fingerprints``): a source it says to skip
    is yielded as ``Unchanged`` without being read; with ``verify_content`` it is read and
    skipped only if its bytes hash to the recorded content hash."""
    shared = Counter(corpus.relative(path) for path in corpus.files)
    for path in corpus.files:
        relative = corpus.relative(path)
        problem = _name_problem(relative, shared[relative])
        if problem:
            yield BadFile(_printable(relative), problem)
            continue
        decision = None
        if path.protocol not in LOCAL_PROTOCOLS:
            listed = corpus.listed.get(path.path, {})
            facts = remote_facts(listed, VERSION_KEYS)
            decision = decide(relative, facts) if decide else None
            if decision and decision.skip and not verify_content:
                yield Unchanged(relative, decision.chunks)
                continue
            item = _read_remote(path, relative, listed, max_file_bytes)
            if isinstance(item, BadFile):
                yield item
                continue
            data = item
        else:
            try:
                info = path.stat()
                if not stat.S_ISREG(info.st_mode):
                    yield BadFile(relative, "not a regular file (a FIFO, socket or device), not read")
                    continue
                facts = local_facts(info.st_size, info.st_mtime_ns)
                decision = decide(relative, facts) if decide else None
                if decision and decision.skip and not verify_content:
                    yield Unchanged(relative, decision.chunks)
                    continue
                if max_file_bytes is not None and (size := info.st_size) > max_file_bytes:
                    yield BadFile(relative, _too_large(max_file_bytes, size))
                    continue
                data = _read_local(path)
            except OSError as exc:
                dangling = os.path.islink(path.path) and not os.path.exists(path.path)
                yield BadFile(relative, f"unreadable: {'dangling link' if dangling else exc.strerror or exc}")
                continue
        if decision and decision.skip and hashlib.sha256(data).hexdigest() == decision.content:
            yield Unchanged(relative, decision.chunks, verified=True)
            continue
        item = read_document(relative, data)
        if isinstance(item, LoadedDocument):
            item.facts = facts
            item.why_read = (
                ("content changed (size and time did not)" if decision and decision.skip else decision.reason)
                if decision
                else ""
            )
        yield item


def _read_local(path: UPath) -> bytes:
    """A local file's bytes (one place: the tests count the files a run reads)."""
    return path.read_bytes()


def _too_large(max_file_bytes: int, size: int) -> str:
    return f"larger than the {max_file_bytes / 2**20:g} MB limit (max_file_mb): {size} bytes"


def _read_remote(path: UPath, relative: str, listed: dict, max_file_bytes: int | None) -> bytes | BadFile:
    """An object's bytes, only if they are the version the listing saw: same size, and the same
    version (ETag, generation...) when asked again after the read. Otherwise a ``BadFile``: its
    rows are kept and the next run reads it (never a mix of a listed version and another's text)."""
    fs = path.fs
    size = listed.get("size")
    if max_file_bytes is not None and size is not None and size > max_file_bytes:
        return BadFile(relative, _too_large(max_file_bytes, size))
    try:
        data = fs.cat_file(path.path)
        fs.invalidate_cache(path.path)
        now = fs.info(path.path)
    except FileNotFoundError:
        return BadFile(relative, "unreadable: deleted while this run read it (the next run's listing decides)")
    except Exception as exc:  # refused, throttled, network: this object only, this run only
        return BadFile(relative, f"unreadable: {type(exc).__name__}: {exc}")
    changes = [f"size listed {size}, read {len(data)}"] if size is not None and size != len(data) else []
    changes += [
        f"{key} listed {listed[key]}, now {now[key]}"
        for key in VERSION_KEYS
        if key in listed and key in now and listed[key] != now[key]
    ]
    if changes:
        return BadFile(relative, f"changed while this run read it ({'; '.join(changes)}); not indexed this run")
    return data


def _name_problem(name: str, sharing: int) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8 (rename it; it cannot be a source name)"
    if sharing > 1:
        return f"{sharing} files have the same name in Unicode NFC (rename one; they would be one source)"
    return None


def _printable(name: str) -> str:
    """A name with undecodable bytes (kept by Python as surrogates) as text: ``caf\\xe9.md``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_document(source: str, data: bytes) -> LoadedDocument | BadFile:
    """Turn one file's bytes into text, or say precisely why that is not possible."""
    if not data.strip():
        return BadFile(source, "empty file")
    kind, language = kind_of(source)
    doc_hash = hashlib.sha256(data).hexdigest()
    if kind == "pdf":
        return _read_pdf(source, data, doc_hash)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = _decode_utf16(data)
    elif b"\x00" in data:
        return BadFile(source, "binary file (NUL bytes), not text")
    else:
        decoded = decode(data)
        if decoded.text is None:
            return BadFile(source, f"cannot be decoded: {decoded.reason}")
        text, encoding = decoded.text, decoded.encoding
    if text is None:
        return BadFile(source, "cannot be decoded: not UTF-8, and no other text encoding fits")
    if _looks_binary(text):
        return BadFile(source, "binary file (control characters), not text")
    if not text.strip():
        return BadFile(source, "no text after decoding")
    if kind == "html":
        text, visible = clean_html(text)
        if not visible:
            return BadFile(source, "HTML without text (only markup, script or style)")
    return LoadedDocument(source, kind, [(None, text)], doc_hash, language, encoding)


# Elements whose content is never text a reader sees (an app shell's state, tracking code).
NON_TEXT_ELEMENTS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas")


def clean_html(html: str) -> tuple[str, str]:
    """``html`` without scripts, styles and other non-text elements or comments, and its visible
    text (what a reader sees; empty for an image-only or app-shell page)."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(html, "lxml")
    for element in soup(NON_TEXT_ELEMENTS):
        element.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    return str(soup), soup.get_text("\n", strip=True)


def decode_text(data: bytes) -> tuple[str | None, str]:
    """UTF-8 (with or without BOM), ISO-2022-JP, else the one plausible legacy reading
    (``milvus_toolkit.ingest.decoding``); ``(None, "")`` when nothing fits or readings disagree."""
    decoded = decode(data)
    return decoded.text, decoded.encoding


def _decode_utf16(data: bytes) -> tuple[str | None, str]:
    try:
        return data.decode("utf-16"), "utf-16"
    except UnicodeDecodeError:
        return None, ""


def _looks_binary(text: str) -> bool:
    """Control characters other than whitespace (more than 1 in 100) mean the "text" is
    really binary, even when its bytes happen to be valid UTF-8."""
    head = text[:4096]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls > max(8, len(head) // 100)


def _read_pdf(source: str, data: bytes, doc_hash: str) -> LoadedDocument | BadFile:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            return BadFile(source, "encrypted PDF")
        pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        return BadFile(source, f"unreadable PDF: {exc}")
    pages = [(n, text) for n, text in pages if text.strip()]
    if not pages:
        return BadFile(source, "PDF without extractable text (scanned images?)")
    return LoadedDocument(source, "pdf", pages, doc_hash)
