"""Find the files of a corpus and read them into text, with a reason for every file skipped.

Sources are local folders, globs, or any URL ``ObjectStoragePath``/fsspec understands
(``s3://bucket/docs``, ``gs://...``, ``file:///...``), through universal-pathlib.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from upath import UPath

MARKDOWN = {".md", ".markdown"}
HTML = {".html", ".htm"}
PDF = {".pdf"}
RST = {".rst"}
TEXT = {".txt", ".text", ""}
# Source code by extension -> langchain-text-splitters Language name.
CODE_LANGUAGES = {
    ".py": "python", ".js": "js", ".mjs": "js", ".ts": "ts", ".tsx": "ts", ".java": "java",
    ".go": "go", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".scala": "scala", ".kt": "kotlin",
    ".swift": "swift", ".lua": "lua", ".pl": "perl", ".hs": "haskell", ".ex": "elixir",
    ".ps1": "powershell", ".proto": "proto", ".sol": "sol", ".r": "r", ".tex": "latex",
}
GLOB_CHARS = set("*?[")


class SourceError(ValueError):
    """The ``source`` param does not point at anything readable."""


@dataclass
class LoadedDocument:
    """One file's text (per page for PDFs), ready to split."""

    source: str  # path relative to the source root, POSIX style: stable across machines
    kind: str  # markdown | html | pdf | rst | code | text
    pages: list[tuple[int | None, str]]  # (page number or None, text)
    doc_hash: str  # sha256 of the raw bytes
    language: str | None = None  # for code
    encoding: str = "utf-8"


@dataclass
class BadFile:
    source: str
    reason: str


@dataclass
class Corpus:
    """Where a corpus lives and which files belong to it."""

    root: UPath
    files: list[UPath] = field(default_factory=list)

    def relative(self, path: UPath) -> str:
        return PurePosixPath(str(path.path if hasattr(path, "path") else path)).relative_to(
            PurePosixPath(str(self.root.path if hasattr(self.root, "path") else self.root))
        ).as_posix()


def discover(source: str) -> Corpus:
    """The files named by ``source``: a folder (recursively), a single file, or a glob.
    Hidden files and folders (``.git``, ``.DS_Store``) are left out."""
    if any(c in source for c in GLOB_CHARS):
        root_text, pattern = _split_glob(source)
        root = UPath(root_text)
        if not root.exists():
            raise SourceError(f"param 'source': folder {root_text!r} of the glob {source!r} does not exist")
        files = [p for p in root.glob(pattern) if p.is_file()]
    else:
        root = UPath(source)
        if not root.exists():
            raise SourceError(f"param 'source': {source!r} does not exist")
        if root.is_file():
            return Corpus(root=root.parent, files=[root])
        files = [p for p in root.rglob("*") if p.is_file()]
    corpus = Corpus(root=root)
    corpus.files = sorted(
        (p for p in files if not any(part.startswith(".") for part in corpus.relative(p).split("/"))),
        key=corpus.relative,
    )
    return corpus


def _split_glob(source: str) -> tuple[str, str]:
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


def load(corpus: Corpus) -> Iterator[LoadedDocument | BadFile]:
    """Read every file; yield a ``LoadedDocument`` or a ``BadFile`` saying why not."""
    for path in corpus.files:
        relative = corpus.relative(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield BadFile(relative, f"unreadable: {exc.strerror or exc}")
            continue
        yield read_document(relative, data)


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
    elif b"\x00" in data[:8192]:
        return BadFile(source, "binary file (NUL bytes), not text")
    else:
        text, encoding = decode_text(data)
    if text is None:
        return BadFile(source, "cannot be decoded: not UTF-8, and no other text encoding fits")
    if _looks_binary(text):
        return BadFile(source, "binary file (control characters), not text")
    if not text.strip():
        return BadFile(source, "no text after decoding")
    return LoadedDocument(source, kind, [(None, text)], doc_hash, language, encoding)


def decode_text(data: bytes) -> tuple[str | None, str]:
    """UTF-8 (with or without BOM) first; then Windows-1252, the usual legacy encoding of
    Western text, when it decodes cleanly (statistical detection mistakes it for its
    Central-European cousins on short texts); then whatever charset-normalizer finds most
    plausible (Shift-JIS, GB18030, ...); ``None`` when nothing fits."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        return None, ""
    return str(best), best.encoding


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
