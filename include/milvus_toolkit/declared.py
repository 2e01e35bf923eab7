"""Declared indexes: the corpora the toolkit keeps equal to a Milvus collection on a
schedule, read from a YAML file (``MILVUS_TOOLKIT_INDEXES``, by default ``indexes.yaml``
beside this package). A scheduled run acts only on what is declared here: there is no
fallback corpus or collection."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from milvus_toolkit.ingest.params import OnBadFile, ParamsError, Splitter
from milvus_toolkit.rules import EmbeddingName, PermanentError, describe_validation_errors

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "indexes.yaml"
ENV_VAR = "MILVUS_TOOLKIT_INDEXES"
# What defines an index's data: fixed by the declaration, never overridden by a run's conf
# (a run of an index's DAG with another source would delete the declared corpus's rows).
IDENTITY_FIELDS = (
    "source",
    "source_root",
    "source_conn_id",
    "collection",
    "embedding",
    "embedding_dim",
    "splitter",
    "chunk_size",
    "chunk_overlap",
    "on_bad_file",
    "max_file_mb",
    "hybrid",
    "tenant",
)


NOT_PARAMS = {"name", "schedule", "evaluate_schedule"}  # the declaration's own fields, not reindex params


class DeclarationError(PermanentError, ValueError):
    """The declaration file is unreadable or an index in it is invalid."""


class IndexDeclaration(BaseModel):
    """One declared index. Its run params are validated by ``ReindexParams``, which holds every
    default and bound: a field left out here (``None``) takes the reindex default."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", max_length=100)
    source: str = Field(min_length=1)
    collection: str
    schedule: str | None = None
    evaluate_schedule: str | None = None  # adds a scheduled milvus_evaluate__<name> (docs/quality.md)
    source_root: str | None = None
    source_conn_id: str | None = None  # the Airflow connection that reads an object-storage source
    embedding: EmbeddingName | None = None
    embedding_dim: int | None = None
    splitter: Splitter | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    on_bad_file: OnBadFile | None = None
    max_delete_percent: float | None = None
    max_file_mb: int | None = None
    keep_builds: int | None = None
    hybrid: bool | None = None  # BM25 keyword search beside the dense vectors (Milvus 2.5+)
    tenant: str | None = None  # one tenant of a collection partitioned by tenant
    # Retrieval quality: the evaluation set (JSONL; relative to this file) that validation scores
    # and the full rebuild's swap is gated on.
    evaluation: str | None = None
    evaluation_k: int | None = None
    min_quality: float | None = None
    max_quality_drop: float | None = None

    @property
    def dag_id(self) -> str:
        return f"milvus_reindex__{self.name}"

    @property
    def evaluate_dag_id(self) -> str:
        return f"milvus_evaluate__{self.name}"

    def run_params(self) -> dict:
        """The reindex params this index's runs use: what it declares, with the reindex
        defaults for the rest (the run's conf may add operational params such as strategy or
        max_delete_percent, never the identity fields). Raises ``ParamsError`` if invalid."""
        from milvus_toolkit.reindex import parse_reindex_params

        fields = set(type(self).model_fields) - NOT_PARAMS
        parsed = parse_reindex_params(self.model_dump(include=fields, exclude_none=True))
        return {key: value for key in sorted(fields) if (value := getattr(parsed, key)) is not None}

    def doc(self) -> str:
        return (
            f"### {self.dag_id}\n\nKeeps `{self.collection}` equal to `{self.source}` "
            f"(declared index `{self.name}`).\n\n"
        )

    def identity(self) -> dict:
        return {key: value for key, value in self.run_params().items() if key in IDENTITY_FIELDS}


def declarations_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load_declarations(path: Path | None = None) -> list[IndexDeclaration]:
    """Every declared index, validated as reindex params too. Raises ``DeclarationError``
    naming the file, the index and the field; the default file may be absent (no indexes)."""
    import yaml

    path = path or declarations_path()
    if not path.exists():
        if path == DEFAULT_PATH and not os.environ.get(ENV_VAR):
            return []
        raise DeclarationError(f"{path}: declared-index file not found ({ENV_VAR})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DeclarationError(f"{path}: cannot be read as YAML: {exc}") from None
    entries = data.get("indexes") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DeclarationError(f"{path}: expected a top-level 'indexes:' list")
    indexes: list[IndexDeclaration] = []
    for position, entry in enumerate(entries, start=1):
        label = entry.get("name", f"#{position}") if isinstance(entry, dict) else f"#{position}"
        where = f"{path}: index '{label}'"
        try:
            index = IndexDeclaration(**entry) if isinstance(entry, dict) else None
        except ValidationError as exc:
            problems = "; ".join(describe_validation_errors(exc, "field"))
            raise DeclarationError(f"{where}: {problems}") from None
        if index is None:
            raise DeclarationError(f"{where}: expected a mapping of fields")
        index = _resolved(index, path.parent)
        try:
            index.run_params()
        except ParamsError as exc:
            problems = str(exc).removeprefix("invalid reindex parameters: ").replace("param '", "field '")
            raise DeclarationError(f"{where}: {problems}") from None
        indexes.append(index)
    for field in ("name", "collection"):
        # Tenants of one collection are separate indexes; anything else is kept by one index.
        seen = [
            getattr(index, field) + (f" (tenant {index.tenant})" if field == "collection" and index.tenant else "")
            for index in indexes
        ]
        twice = sorted({value for value in seen if seen.count(value) > 1})
        if twice:
            raise DeclarationError(f"{path}: field '{field}': {twice} declared by more than one index")
    for collection in {index.collection for index in indexes}:
        sharing = [index for index in indexes if index.collection == collection]
        if len(sharing) > 1 and (
            any(index.tenant is None for index in sharing)
            or len({_layout(index.run_params()) for index in sharing}) > 1
        ):
            raise DeclarationError(
                f"{path}: collection '{collection}' is declared by {[index.name for index in sharing]}: indexes "
                f"that share a collection must each have a tenant and the same hybrid and embedding settings"
            )
    return indexes


def _layout(params: dict) -> tuple:
    return params.get("hybrid"), params.get("embedding"), params.get("embedding_dim")


def _resolved(index: IndexDeclaration, base: Path) -> IndexDeclaration:
    """Relative local paths are relative to the declaration file."""

    def absolute(value: str | None) -> str | None:
        if value is None or "://" in value or os.path.isabs(value):
            return value
        return str((base / value).resolve())

    return index.model_copy(
        update={
            "source": absolute(index.source),
            "source_root": absolute(index.source_root),
            "evaluation": absolute(index.evaluation),
        }
    )


def owner_of(collection: str, indexes: list[IndexDeclaration] | None = None) -> IndexDeclaration | None:
    """The declared index that keeps ``collection``: its serving name, or one of the physical
    collections behind it (``<name>__<build>``, ``<name>__legacy_<stamp>``), if any."""
    from milvus_toolkit.reindex import BUILD_SEPARATOR

    for index in load_declarations() if indexes is None else indexes:
        if collection == index.collection or collection.startswith(index.collection + BUILD_SEPARATOR):
            return index
    return None
