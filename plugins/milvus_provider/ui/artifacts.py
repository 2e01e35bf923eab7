"""Serving a run's report files from disk, only from under one configured root."""

from __future__ import annotations

import base64
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

MAX_INLINE_BYTES = 5 * 1024 * 1024  # an image or report larger than this is linked, not inlined
IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
TEXT_TYPES = {".md": "text/markdown", ".csv": "text/csv", ".json": "application/json", ".txt": "text/plain"}


class ArtifactRefused(ValueError):
    """The path is outside the artefacts root, not a regular file, or no root is configured."""


@dataclass(frozen=True)
class Artifact:
    label: str
    path: Path
    kind: str  # image, markdown, text, file
    media_type: str
    size: int

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.path.read_bytes()).decode()}"

    def text(self) -> str:
        return self.path.read_text(errors="replace")


def resolve(root: str | os.PathLike | None, raw: str) -> Path:
    """``raw`` (absolute, or relative to ``root``) as a real path inside ``root``; symlinks are
    followed before the check, so a link pointing out of the root is refused too."""
    if not root:
        raise ArtifactRefused("no artefacts root is configured ([milvus] ui_artifacts_root)")
    base = Path(root).expanduser().resolve()
    if "\x00" in raw:
        raise ArtifactRefused("refused: a NUL byte in the path")
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = base / candidate
    real = candidate.resolve()
    if not real.is_relative_to(base):
        raise ArtifactRefused(f"refused: '{raw}' is outside the artefacts root")
    if not real.is_file():
        raise ArtifactRefused(f"'{raw}' is not a file under the artefacts root")
    return real


def artifact(root: str | os.PathLike | None, label: str, raw: str) -> Artifact:
    path = resolve(root, raw)
    suffix = path.suffix.lower()
    if suffix in IMAGE_TYPES:
        kind, media = "image", IMAGE_TYPES[suffix]
    elif suffix == ".md":
        kind, media = "markdown", "text/markdown; charset=utf-8"
    elif suffix in TEXT_TYPES:
        kind, media = "text", TEXT_TYPES[suffix] + "; charset=utf-8"
    else:
        kind, media = "file", mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Artifact(label=label, path=path, kind=kind, media_type=media, size=path.stat().st_size)
