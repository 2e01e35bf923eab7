"""What to measure: the validated parameters of a benchmark run and the list of cells.

A *cell* is one measured figure: an operation (add, upsert, search, delete) repeated
``count`` times through one layer (langchain-milvus, LlamaIndex's ``MilvusVectorStore`` or
the raw pymilvus client), in one mode
(sync loop or async gather at a concurrency level), against a collection with one
consistency level. Every cell (and every repeat of it) gets its own fresh collection.

Cost model, and why the defaults look the way they do (2-core machine, Milvus 2.3.5-lite):

- Writes (add, upsert, delete by primary key) and searches at Session/Bounded
  consistency take a few milliseconds per call; 1000 sequential calls cost a few seconds.
- Two kinds of call wait for the server's time tick (about 200 ms) on *every* call:
  a search at ``Strong`` consistency, and a delete by a filter on a non-primary-key field
  (the seeds' ``delete(expr="id == 'doc_3'")``), for which Milvus first runs an internal
  query. 1000 of them in a sequential loop cost about 200 s per layer. Such *wait-bound*
  cells are measured only up to ``wait_cells_max_count`` (default 100); even so they are
  about half of the default run's ~6.5 minutes (148 cells, measured: 380 s). Set it to
  ``None`` to measure them at every count (at 1000 that adds about 30 minutes: 200 s per
  sequential cell), or to 10, or drop concurrency 1 from the sweep, for a 3-4 minute run.
- An async concurrency level at least as large as the count is the same as an unbounded
  gather; it is not measured twice (at count 10 the levels [1, 8, 64, "all"] are 1, 8, all).
- Consistency levels only change reads. Writes are measured at the first level given
  (the *baseline*); searches at every level.
- LlamaIndex's ``delete(ref_doc_id)`` first queries the primary keys itself (at the
  collection's level), then deletes by key: it waits for the time tick only at ``Strong``.
- Besides the cells, the search metrics (``search_metrics``: VectorDBBench's ``qps``,
  ``serial_latency_p99``, ``recall``, the concurrency sweep, ``load_duration``) take about
  ``len(layers) x len(modes) x len(sweep_concurrency) x sweep_seconds`` plus ~10 s per layer.

Nothing here touches Milvus or Airflow: validation errors surface before any collection
exists.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from milvus_toolkit.dag_defaults import MILVUS_CONN_ID
from milvus_toolkit.rules import MAX_VECTOR_DIM, EmbeddingName, PermanentError

Operation = Literal["add", "upsert", "search", "delete"]
Mode = Literal["sync", "async"]
Layer = Literal["langchain", "llamaindex", "raw"]
Consistency = Literal["Strong", "Bounded", "Session", "Eventually"]
DeleteFilter = Literal["metadata", "pk"]
SearchDataKind = Literal["text", "random"]
SearchSource = Literal["sample", "python-reference", "python-docstrings"]

OPERATIONS: tuple[str, ...] = ("add", "upsert", "search", "delete")
MODES: tuple[str, ...] = ("sync", "async")
LAYERS: tuple[str, ...] = ("langchain", "llamaindex", "raw")
UNBOUNDED = "all"
COLLECTION_PREFIX = "bench_"

DEFAULT_COUNTS = [10, 100, 1000]
DEFAULT_CONCURRENCY: list[int | str] = [1, 8, 64, UNBOUNDED]
DEFAULT_CONSISTENCY = ["Session", "Strong"]
DEFAULT_DIM = 768  # as in the seeds (LlamaIndex tutorial, precomputed 768-dim vectors)
MAX_COUNT = 100_000
# The search metrics' concurrency sweep (VectorDBBench: 1, 5, 10, ... clients x 30 s each;
# kept small here: 2 shared cores, and the whole run stays a few minutes).
DEFAULT_SWEEP_CONCURRENCY = [1, 8, 32]
DEFAULT_SWEEP_SECONDS = 3.0
MAX_SWEEP_CONCURRENCY = 256
# The search metrics' data: real text embedded by the local model (search_data.py), from these
# sources (~1,200 passages: over the 1,024 rows below which Milvus 2.3 builds no HNSW index).
DEFAULT_SEARCH_CORPUS = ["sample", "python-reference"]
# HNSW ef values of the recall-vs-QPS curve (each >= top_k: Milvus refuses ef < k).
DEFAULT_EF_VALUES = [4, 8, 16, 32, 64, 128, 256]
DEFAULT_EF_SECONDS = 1.0


_SET = {"minItems": 1, "uniqueItems": True}  # a list field's form: at least one value, each once


def _between(low: float, high: float) -> dict:
    return {"minimum": low, "maximum": high}


def _ef_items(schema: dict) -> None:
    from milvus_toolkit.benchmark.ef_sweep import MAX_EF  # imported when the form is built, not with the model

    schema.update(minItems=0, items={"type": "integer", "minimum": 1, "maximum": MAX_EF})


class BenchmarkParamsError(PermanentError, ValueError):
    """The benchmark parameters are not valid; the message lists every problem."""


class BenchmarkParams(BaseModel):
    """The parameters of one benchmark run (the DAG's params form, validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Titles, descriptions and bounds are the DAG's params form's too (milvus_toolkit.forms). Bounds that a
    # validator below checks (with its own message) are given to the form as json_schema_extra, and the
    # validators read them from there: one number each.
    operations: list[Operation] = Field(
        default_factory=lambda: list(OPERATIONS),
        title="Operations",
        description="Which calls to time: add_documents, upsert, similarity_search, delete.",
        json_schema_extra=_SET,
    )
    counts: list[int] = Field(
        default_factory=lambda: list(DEFAULT_COUNTS),
        title="Counts",
        description="Calls per batch, e.g. [10, 100, 1000] as in the seeds.",
        json_schema_extra={"minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}},
    )
    modes: list[Mode] = Field(
        default_factory=lambda: list(MODES),
        title="Modes",
        description="sync: a loop of single calls. async: the same calls as coroutines gathered.",
        json_schema_extra=_SET,
    )
    concurrency: list[int | Literal["all"]] = Field(
        default_factory=lambda: list(DEFAULT_CONCURRENCY),
        title="Async concurrency levels",
        description='Calls in flight at once (asyncio.Semaphore); "all" = unbounded gather, as in the seeds.',
        json_schema_extra={
            "minItems": 1,
            "items": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": UNBOUNDED}]},
        },
    )
    consistency_levels: list[Consistency] = Field(
        default_factory=lambda: list(DEFAULT_CONSISTENCY),
        title="Consistency levels",
        description="The first is used for writes; searches are measured at each. Strong waits ~200 ms per call.",
        json_schema_extra=_SET,
    )
    layers: list[Layer] = Field(
        default_factory=lambda: list(LAYERS),
        title="Layers",
        description="langchain: langchain-milvus Milvus store. llamaindex: LlamaIndex MilvusVectorStore, as in "
        "its tutorial (TextNodes with precomputed vectors). raw: pymilvus MilvusClient / AsyncMilvusClient "
        "(the floor).",
        json_schema_extra=_SET,
    )
    delete_filters: list[DeleteFilter] = Field(
        default_factory=lambda: ["metadata", "pk"],
        title="Delete filters",
        description="metadata: delete(expr='doc_id == ...') as in the seeds (Milvus queries first: ~200 ms per "
        "call). pk: delete(expr='pk == ...').",
        json_schema_extra=_SET,
    )
    wait_cells_max_count: int | None = Field(
        100,
        title="Largest count for wait-bound cells",
        description="Strong searches and metadata deletes wait ~200 ms per sequential call; they are measured "
        "only up to this count (null: every count).",
        json_schema_extra={"minimum": 1},
    )
    dim: int = Field(
        DEFAULT_DIM,
        title="Vector dimension",
        description="768 as in the seeds. Must fit the embedding (local: 384).",
        json_schema_extra=_between(1, MAX_VECTOR_DIM),
    )
    repeats: int = Field(
        1,
        title="Repeats",
        description="Each cell is measured this many times (fresh collection each); seconds are the median.",
        json_schema_extra=_between(1, 20),
    )
    embedding: EmbeddingName = Field(
        "deterministic",
        title="Embedding",
        description="deterministic: no model, so Milvus alone is timed. local (all-MiniLM-L6-v2, 384 dims) or "
        "openai: a real model inside the langchain calls; reported separately.",
    )
    top_k: int = Field(
        3, title="Search top k", description="k of every search (3 in the seeds).", json_schema_extra=_between(1, 100)
    )
    search_rows: int = Field(
        1000,
        title="Rows searched",
        description="Documents in each search collection (1000 in the seeds).",
        json_schema_extra=_between(1, MAX_COUNT),
    )
    sweep_concurrency: list[int] = Field(
        default_factory=lambda: list(DEFAULT_SWEEP_CONCURRENCY),
        title="Search sweep: concurrent clients",
        description="VectorDBBench-style time-boxed sweep: at each level, that many clients (threads, and "
        "coroutines) search for 'sweep seconds'; qps, p50/p95/p99, failed rate; also recall and load time. "
        "[] turns these search metrics off.",
        json_schema_extra={
            "minItems": 0,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_SWEEP_CONCURRENCY},
        },
    )
    sweep_seconds: float = Field(
        DEFAULT_SWEEP_SECONDS,
        title="Search sweep: seconds per level",
        description="How long each concurrency level of the sweep searches (VectorDBBench: 30 s).",
        json_schema_extra=_between(0.1, 600),
    )
    hybrid_search: bool = Field(
        True,
        title="Compare dense, BM25 and hybrid search",
        description="Where the server supports BM25 (Milvus 2.5+, Milvus Lite 3.x): latency and qps of a dense, "
        "a BM25 keyword and a hybrid (RRF) search on one collection.",
    )
    search_data: SearchDataKind = Field(
        "text",
        title="Search metrics: data",
        description="text: real text (the corpus sources below) embedded by the local all-MiniLM-L6-v2, queries "
        "that are not rows, cached vectors. random: the cells' random vectors (a stress case).",
    )
    search_corpus: list[SearchSource] = Field(
        default_factory=lambda: list(DEFAULT_SEARCH_CORPUS),
        title="Search metrics: text sources",
        description="sample: the sample corpus (32 written questions); python-reference: the Python language "
        "reference; python-docstrings: the standard library's docstrings (held-out sentences as queries).",
        json_schema_extra=_SET,
    )
    ef_values: list[int] = Field(
        default_factory=lambda: list(DEFAULT_EF_VALUES),
        title="Search metrics: HNSW ef values",
        description="Recall against QPS at each ef (each >= top k: Milvus refuses ef < k). [] turns the curve off.",
        json_schema_extra=_ef_items,
    )
    ef_seconds: float = Field(
        DEFAULT_EF_SECONDS,
        title="Search metrics: seconds per ef",
        description="How long one client searches at each ef for its QPS.",
        json_schema_extra=_between(0.01, 600),
    )
    regression_threshold: float = Field(
        0.2,
        title="Regression threshold",
        description="Flag a cell slower than the previous run on the same server by more than this fraction.",
        json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 10},
    )
    milvus_conn_id: str = Field(
        MILVUS_CONN_ID,
        title="Milvus connection",
        description="Airflow connection of type Milvus.",
        json_schema_extra={"minLength": 1},
    )

    # ---- field checks (messages name the field and the bad value) -------------------------

    @field_validator("counts", mode="before")
    @classmethod
    def _counts(cls, value: Any) -> Any:
        values = _as_list(value, "counts")
        for item in values:
            if isinstance(item, bool) or not _is_int_like(item) or int(item) < 1:
                raise ValueError(f"every count must be a positive integer, got {item!r}")
            if int(item) > MAX_COUNT:
                raise ValueError(f"counts above {MAX_COUNT} are not supported, got {item!r}")
        return _unique([int(v) for v in values])

    @field_validator("sweep_concurrency", mode="before")
    @classmethod
    def _sweep_concurrency(cls, value: Any) -> Any:
        values = _as_list(value, "sweep_concurrency")
        for item in values:
            if isinstance(item, bool) or not _is_int_like(item) or not 1 <= int(item) <= MAX_SWEEP_CONCURRENCY:
                raise ValueError(
                    f"every sweep level is a number of clients from 1 to {MAX_SWEEP_CONCURRENCY}, got {item!r}"
                )
        return sorted(_unique([int(v) for v in values]))

    @field_validator("ef_values", mode="before")
    @classmethod
    def _ef_values(cls, value: Any) -> Any:
        from milvus_toolkit.benchmark.ef_sweep import MAX_EF

        values = _as_list(value, "ef_values")
        for item in values:
            if isinstance(item, bool) or not _is_int_like(item) or not 1 <= int(item) <= MAX_EF:
                raise ValueError(f"every ef is an integer from 1 to {MAX_EF}, got {item!r}")
        return sorted(_unique([int(v) for v in values]))

    @field_validator("ef_seconds")
    @classmethod
    def _ef_seconds(cls, value: float) -> float:
        _check_between(cls, "ef_seconds", value)
        return value

    @field_validator("search_corpus", mode="before")
    @classmethod
    def _search_corpus(cls, value: Any) -> Any:
        return _unique(_as_list(value, "search_corpus"))

    @field_validator("search_corpus")
    @classmethod
    def _search_corpus_not_empty(cls, value: list) -> list:
        if not value:
            raise ValueError("'search_corpus' needs at least one source")
        return value

    @field_validator("sweep_seconds")
    @classmethod
    def _sweep_seconds(cls, value: float) -> float:
        _check_between(cls, "sweep_seconds", value)
        return value

    @field_validator("concurrency", mode="before")
    @classmethod
    def _concurrency(cls, value: Any) -> Any:
        out: list[int | str] = []
        for item in _as_list(value, "concurrency"):
            if isinstance(item, str) and item.strip().lower() == UNBOUNDED:
                out.append(UNBOUNDED)
            elif not isinstance(item, bool) and _is_int_like(item) and int(item) >= 1:
                out.append(int(item))
            else:
                raise ValueError(f'a concurrency level is a positive integer or "all", got {item!r}')
        return _unique(out)

    @field_validator("operations", "modes", "consistency_levels", "layers", "delete_filters", mode="before")
    @classmethod
    def _non_empty_unique(cls, value: Any, info: Any) -> Any:
        values = _as_list(value, info.field_name)
        return _unique([v.strip() if isinstance(v, str) else v for v in values])

    @field_validator("counts", "operations", "modes", "consistency_levels", "layers", "delete_filters")
    @classmethod
    def _not_empty(cls, value: list, info: Any) -> list:
        if not value:
            raise ValueError(f"'{info.field_name}' needs at least one value")
        return value

    @field_validator("wait_cells_max_count")
    @classmethod
    def _cap(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be a positive integer or null (no limit), got {value}")
        return value

    @field_validator("dim")
    @classmethod
    def _dim(cls, value: int) -> int:
        low, high = _bounds(cls, "dim")
        if not low <= value <= high:
            raise ValueError(f"the vector dimension must be between {low} and {high}, got {value}")
        return value

    @field_validator("repeats")
    @classmethod
    def _repeats(cls, value: int) -> int:
        _check_between(cls, "repeats", value)
        return value

    @field_validator("top_k")
    @classmethod
    def _top_k(cls, value: int) -> int:
        _check_between(cls, "top_k", value)
        return value

    @field_validator("search_rows")
    @classmethod
    def _search_rows(cls, value: int) -> int:
        _check_between(cls, "search_rows", value)
        return value

    @field_validator("regression_threshold")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not 0 < value < 10:
            raise ValueError(f"regression_threshold is a fraction such as 0.2 (= 20% slower), got {value}")
        return value

    @field_validator("milvus_conn_id")
    @classmethod
    def _conn_id(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("milvus_conn_id must name an Airflow connection")
        return value.strip()

    @model_validator(mode="before")
    @classmethod
    def _default_ef_values(cls, data: Any) -> Any:
        """Without ``ef_values`` given, the default curve starts at ``top_k`` (a given list
        with an ef below ``top_k`` is refused, below)."""
        if isinstance(data, dict) and "ef_values" not in data:
            try:
                k = int(data.get("top_k", 3))
            except (TypeError, ValueError):
                return data  # top_k's own check reports it
            data = {**data, "ef_values": sorted({max(ef, k) for ef in DEFAULT_EF_VALUES})}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> BenchmarkParams:
        problem = embedding_dim_problem(self.embedding, self.dim)
        if problem:
            raise ValueError(problem)
        if "async" in self.modes and not self.concurrency:
            raise ValueError("mode 'async' needs at least one concurrency level")
        if "search" in self.operations and self.search_rows < self.top_k:
            raise ValueError(f"search_rows ({self.search_rows}) must be at least top_k ({self.top_k})")
        from milvus_toolkit.benchmark.ef_sweep import ef_problem

        for ef in self.ef_values:
            problem = ef_problem(ef, self.top_k)
            if problem:
                raise ValueError(f"ef_values: {problem}")
        return self

    # ---- derived ----------------------------------------------------------------------------

    @property
    def baseline_consistency(self) -> str:
        """The level writes are measured at (the first one given)."""
        return self.consistency_levels[0]

    @classmethod
    def parse(cls, raw: dict[str, Any] | BenchmarkParams | None) -> BenchmarkParams:
        """Validate a params dict (from the DAG's form or a test); one clear error listing
        every problem, as ``BenchmarkParamsError``. Keys the model does not know (Airflow
        may add its own) are rejected too, so a typo never silently falls back to a default."""
        if isinstance(raw, BenchmarkParams):
            return raw
        try:
            return cls.model_validate(dict(raw or {}))
        except ValidationError as exc:
            raise BenchmarkParamsError(_explain(exc)) from None

    def summary(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _bounds(model: type[BaseModel], name: str) -> tuple[float, float]:
    extra = model.model_fields[name].json_schema_extra
    return extra["minimum"], extra["maximum"]


def _check_between(model: type[BaseModel], name: str, value: float) -> None:
    low, high = _bounds(model, name)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


def embedding_dim_problem(embedding: str, dim: int) -> str | None:
    """Why ``dim`` cannot work with ``embedding`` (or ``None``), checked without loading any
    model, so the error comes before any collection or model exists."""
    from milvus_toolkit.embeddings import LOCAL_DIM, LOCAL_MODEL, OPENAI_DEFAULT_MODEL, OPENAI_NATIVE_DIMS

    if embedding == "local" and dim != LOCAL_DIM:
        return (
            f"dim {dim} does not fit embedding 'local': {LOCAL_MODEL} produces {LOCAL_DIM}-dim vectors "
            f"(set dim to {LOCAL_DIM}, or use embedding 'deterministic' for any dimension)"
        )
    if embedding == "openai":
        model = os.environ.get("OPENAI_EMBEDDING_MODEL", OPENAI_DEFAULT_MODEL)
        native = OPENAI_NATIVE_DIMS.get(model)
        if native is not None and dim > native:
            return f"dim {dim} does not fit embedding 'openai': {model} produces at most {native}-dim vectors"
        if native is not None and dim != native and not model.startswith("text-embedding-3"):
            return f"dim {dim} does not fit embedding 'openai': {model} produces {native}-dim vectors only"
    return None


@dataclass(frozen=True)
class Cell:
    """One measured figure. ``concurrency`` is ``"1"`` for a sync loop, the semaphore size
    for async, or ``"all"`` for an unbounded gather (the seeds' way)."""

    operation: str
    count: int
    mode: str
    layer: str
    concurrency: str
    consistency_level: str
    variant: str = ""  # delete: "metadata" (the seeds' filter) or "pk"

    @property
    def key(self) -> str:
        """Stable identity across runs (used by the history and the regression check)."""
        return "|".join(
            [
                self.operation,
                self.variant or "-",
                str(self.count),
                self.mode,
                self.layer,
                self.concurrency,
                self.consistency_level,
            ]
        )

    @property
    def row_label(self) -> str:
        """How the seeds' table names the operation (plus what makes it differ)."""
        label = self.operation
        if self.variant:
            label += f" by {self.variant}"
        return label

    @property
    def waits_per_call(self) -> bool:
        """True when every sequential call waits for the server's time tick (~200 ms)."""
        return is_wait_bound(self.operation, self.variant, self.consistency_level, self.layer)

    @property
    def semaphore(self) -> int | None:
        """The async concurrency bound, or ``None`` for an unbounded gather."""
        return None if self.concurrency == UNBOUNDED else int(self.concurrency)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"key": self.key}


def async_levels(concurrency: list[int | str], count: int) -> list[str]:
    """The async levels worth measuring at ``count``: a semaphore as wide as the batch or
    wider is the unbounded gather, so such levels are measured once, as ``"all"`` (when
    ``"all"`` is asked for) or as themselves (when it is not)."""
    levels = [str(c) for c in concurrency if c == UNBOUNDED or int(c) < count]
    wide = [c for c in concurrency if c != UNBOUNDED and int(c) >= count]
    if wide and UNBOUNDED not in concurrency:
        levels.append(str(min(int(c) for c in wide)))
    return levels


def is_wait_bound(operation: str, variant: str, consistency_level: str, layer: str = "") -> bool:
    """A Strong search waits for the time tick; so does a delete by a metadata filter, for
    which Milvus runs an internal query first, except through LlamaIndex, whose
    ``delete(ref_doc_id)`` queries the keys itself at the collection's level, then deletes by key."""
    if operation == "search":
        return consistency_level == "Strong"
    if operation == "delete" and variant == "metadata":
        return layer != "llamaindex" or consistency_level == "Strong"
    return False


@dataclass(frozen=True)
class Plan:
    params: BenchmarkParams
    cells: list[Cell]
    skipped: list[dict[str, Any]]

    @property
    def collections_needed(self) -> int:
        return len(self.cells) * self.params.repeats

    def groups(self) -> list[list[Cell]]:
        """Cells sharing operation, variant, count and consistency level, in plan order:
        their collections are prepared together, then the cells are timed one by one."""
        groups: dict[tuple, list[Cell]] = {}
        for cell in self.cells:
            groups.setdefault((cell.operation, cell.variant, cell.count, cell.consistency_level), []).append(cell)
        return list(groups.values())

    def estimate_seconds(self) -> float:
        """A rough duration (this machine's cost model above), for the log."""
        total = 0.0
        for cell in self.cells:
            per_call = 0.2 if cell.waits_per_call else 0.004
            if cell.mode == "sync":
                timed = cell.count * per_call
            else:
                width = cell.count if cell.semaphore is None else min(cell.semaphore, cell.count)
                if cell.waits_per_call:
                    timed = math.ceil(cell.count / width) * per_call + cell.count * 0.001
                else:
                    timed = cell.count * per_call / min(width, 3)
            total += (timed + 0.6) * self.params.repeats  # + preparing, warming, checking
        return round(total + self.search_metrics_seconds(), 1)

    @property
    def runs_search_metrics(self) -> bool:
        """The VectorDBBench-style search metrics run when searches are measured and the
        sweep has at least one level."""
        return "search" in self.params.operations and bool(self.params.sweep_concurrency)

    def search_metrics_seconds(self) -> float:
        """Rough cost of the search metrics: load timing (~10 s on Milvus 2.3.5), then per
        layer a collection, the serial recall pass, the time-boxed sweep and the ef curve
        (real text: plus ~30 s to embed the corpus the first time; cached afterwards)."""
        if not self.runs_search_metrics:
            return 0.0
        p = self.params
        per_layer = len(p.modes) * len(p.sweep_concurrency) * (p.sweep_seconds + 0.3) + 5
        per_layer += len(p.ef_values) * (p.ef_seconds + 0.3)
        return 10 + len(p.layers) * per_layer + (5 if p.hybrid_search else 0)

    def _search_data_label(self) -> str:
        p = self.params
        if p.search_data == "random":
            return f"random vectors (stress case, {p.search_rows} rows)"
        return f"real text ({', '.join(p.search_corpus)})"

    def describe(self) -> str:
        return (
            f"{len(self.cells)} cells x {self.params.repeats} repeat(s) = {self.collections_needed} fresh "
            f"collections"
            + (
                f" + search metrics on {self._search_data_label()} (sweep {self.params.sweep_concurrency} clients x "
                f"{self.params.sweep_seconds:g} s, {', '.join(self.params.modes)}, {len(self.params.layers)} layer(s); "
                f"ef curve {self.params.ef_values or 'off'})"
                if self.runs_search_metrics
                else ""
            )
            + f", about {self.estimate_seconds():.0f} s on a 2-core machine"
            + (f"; {len(self.skipped)} wait-bound cell group(s) skipped" if self.skipped else "")
        )


def build_plan(params: BenchmarkParams | dict[str, Any] | None) -> Plan:
    """Every cell to measure, in the order they run (grouped, sync before async)."""
    params = BenchmarkParams.parse(params)
    cells: list[Cell] = []
    skipped: list[dict[str, Any]] = []
    cap = params.wait_cells_max_count
    for operation in params.operations:
        levels = params.consistency_levels if operation == "search" else [params.baseline_consistency]
        variants = params.delete_filters if operation == "delete" else [""]
        for variant in variants:
            for level in levels:
                for count in params.counts:
                    layers = list(params.layers)
                    if cap is not None and count > cap:
                        waiting = [lay for lay in layers if is_wait_bound(operation, variant, level, lay)]
                        if waiting:
                            skipped.append(
                                {
                                    "operation": operation,
                                    "variant": variant,
                                    "consistency_level": level,
                                    "count": count,
                                    "layers": waiting,
                                    "reason": f"waits ~200 ms per sequential call; count > wait_cells_max_count={cap}",
                                }
                            )
                            layers = [lay for lay in layers if lay not in waiting]
                    for mode in params.modes:
                        levels_c = ["1"] if mode == "sync" else async_levels(params.concurrency, count)
                        for layer in layers:
                            for conc in levels_c:
                                cells.append(Cell(operation, count, mode, layer, conc, level, variant))
    asked = {(op, v) for op in params.operations for v in (params.delete_filters if op == "delete" else [""])}
    measured = {(c.operation, c.variant) for c in cells}
    missing = sorted(asked - measured)
    if missing:
        names = ", ".join(f"{op} by {v}" if v else op for op, v in missing)
        raise BenchmarkParamsError(
            f"invalid benchmark parameters: nothing left to measure for {names}: "
            "those calls wait ~200 ms each and every count is above "
            f"wait_cells_max_count={cap}; raise it (or set it to null) or add a smaller count"
        )
    return Plan(params=params, cells=cells, skipped=skipped)


# ---- helpers ------------------------------------------------------------------------------------


def _as_list(value: Any, name: str) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):  # a comma-separated string from a form or the CLI
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    raise ValueError(f"'{name}' must be a list, got {value!r}")


def _is_int_like(value: Any) -> bool:
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        return value.strip().lstrip("-").isdigit()
    return False


def _unique(values: list) -> list:
    seen: list = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown parameter (known: {', '.join(BenchmarkParams.model_fields)})"
        elif err["type"] == "literal_error":
            message = f"{err['input']!r} is not allowed: {message}"
        lines.append(f"{where}: {message}")
    return "invalid benchmark parameters: " + "; ".join(lines)
