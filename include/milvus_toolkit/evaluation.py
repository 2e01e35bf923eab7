"""Evaluation sets: questions a collection must keep answering, scored against a real collection.

An evaluation set is a JSONL file (a local path or an object-storage URL), one query per line::

    {"id": "estop", "kind": "keyword", "query": "ESTOP_ACTIVE", "expected_sources": ["troubleshooting.html"]}
    {"query": "How far should people stay from a working robot?", "expected_text": ["five metres"]}

``query`` is required; ``expected_sources`` (source names as the collection records them) and/or
``expected_text`` (substrings a good chunk contains; case and whitespace do not matter) say what a good
answer is. ``id`` (default ``line<N>``), ``kind`` (a free label, e.g. keyword / meaning, used to break the
totals down) and ``note`` are optional. Anything else, a blank ``query`` or a line that is not a JSON object
is refused with the file and line number.

What is judged is the *answer*, not the chunk, so that two builds with other chunk sizes are comparable:
the targets of a query are its expected texts (each in one of the expected sources, when both are given), or
else its expected sources. A retrieved chunk that meets a target not met higher up ranks that target there;
any other chunk is a miss at its rank. hit rate@k, MRR@k, nDCG@k and recall@k then come from
:mod:`milvus_toolkit.retrieval_metrics`.

Searches: ``dense`` (the query embedded by the collection's model), and on a hybrid collection also ``bm25``
(the server's BM25 on the query text) and ``hybrid`` (both, RRF). The gate uses nDCG@k of ``hybrid`` on a
hybrid collection and of ``dense`` otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from milvus_toolkit import marks
from milvus_toolkit.chunk_store import PRIMARY_FIELD, SOURCE_FIELD, SPARSE_FIELD, TEXT_FIELD, VECTOR_FIELD
from milvus_toolkit.ingest.params import DEFAULT_EVALUATION_K, DEFAULT_MAX_QUALITY_DROP
from milvus_toolkit.retrieval_metrics import METRICS, RetrievalScores, score_rankings
from milvus_toolkit.rules import PermanentError

log = logging.getLogger(__name__)

SearchMode = Literal["dense", "bm25", "hybrid"]
DEFAULT_K = DEFAULT_EVALUATION_K
GATE_METRIC = "ndcg"
# Collection properties. ``milvus_toolkit.quality.<mode>_<metric>_at_<k>`` (numbers), ``.set`` (the set's digest),
# ``.k``, ``.status`` (validated / forced / refused / failed) and ``.at``: the latest scores a validation measured
# on this collection (the Milvus view shows ``quality.*`` keys). ``milvus_toolkit.quality_baseline`` (JSON, with
# per-query scores): those of the last run that passed, which later runs are compared with.
QUALITY = marks.PREFIX + "quality."
BASELINE = marks.PREFIX + "quality_baseline"
# Per-query scores are kept in the collection property up to this many queries (to name the queries that got
# worse against a recorded baseline); bigger sets record totals only.
MAX_RECORDED_QUERIES = 300
MAX_ERRORS_SHOWN = 20
ALLOWED_KEYS = {"id", "kind", "note", "query", "expected_sources", "expected_text"}


class EvaluationSetError(PermanentError, ValueError):
    """The evaluation set cannot be read, or some of its lines are invalid (each named by file and line)."""


class QualityGateFailed(PermanentError, AssertionError):
    """Retrieval quality is below ``min_quality`` or dropped more than ``max_quality_drop``."""


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass(frozen=True)
class EvalQuery:
    """One line of an evaluation set."""

    id: str
    query: str
    expected_sources: tuple[str, ...] = ()
    expected_text: tuple[str, ...] = ()
    kind: str | None = None
    line: int = 0

    @property
    def targets(self) -> tuple[str, ...]:
        """What a good answer holds: the expected texts, else the expected sources."""
        return tuple(f"text:{t}" for t in self.expected_text) or tuple(f"source:{s}" for s in self.expected_sources)

    def met_by(self, source: str | None, text: str | None) -> list[str]:
        """The targets a retrieved chunk meets, in the set's order."""
        if self.expected_sources and source not in self.expected_sources:
            return []
        if not self.expected_text:
            return [f"source:{source}"]
        body = _normal(text or "")
        return [f"text:{t}" for t in self.expected_text if _normal(t) in body]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "query": self.query}
        if self.kind:
            data["kind"] = self.kind
        if self.expected_sources:
            data["expected_sources"] = list(self.expected_sources)
        if self.expected_text:
            data["expected_text"] = list(self.expected_text)
        return data


@dataclass(frozen=True)
class EvaluationSet:
    location: str
    queries: tuple[EvalQuery, ...]

    @property
    def digest(self) -> str:
        """What identifies the set's content (not its file name or formatting): 16 hex digits of a SHA-256."""
        canonical = json.dumps([q.to_json() for q in self.queries], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def kinds(self) -> list[str]:
        return sorted({q.kind for q in self.queries if q.kind})


def _strings(value: Any, key: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"'{key}' must be a non-empty string or a list of non-empty strings")
        return ()
    return tuple(v.strip() for v in value)


def parse_evaluation_lines(lines: Iterable[str], where: str) -> EvaluationSet:
    """Parse JSONL text lines; every bad line is reported as ``<where>:<line>: <problem>``."""
    queries: list[EvalQuery] = []
    errors: list[str] = []
    seen_ids: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        problems: list[str] = []
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}:{number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            errors.append(f"{where}:{number}: expected a JSON object, got {type(data).__name__}")
            continue
        unknown = sorted(set(data) - ALLOWED_KEYS)
        if unknown:
            problems.append(f"unknown key(s) {unknown} (allowed: {sorted(ALLOWED_KEYS)})")
        query = data.get("query")
        if not isinstance(query, str) or not query.strip():
            problems.append("'query' must be a non-empty string")
        before = len(problems)
        sources = _strings(data.get("expected_sources"), "expected_sources", problems)
        texts = _strings(data.get("expected_text"), "expected_text", problems)
        if not sources and not texts and len(problems) == before:
            problems.append("give 'expected_sources' and/or 'expected_text' (what a good answer contains)")
        qid = data.get("id", f"line{number}")
        kind = data.get("kind")
        if not isinstance(qid, str) or not qid.strip():
            problems.append("'id' must be a non-empty string")
        elif qid in seen_ids:
            problems.append(f"id {qid!r} already used on line {seen_ids[qid]}")
        if kind is not None and not isinstance(kind, str):
            problems.append("'kind' must be a string")
        if problems:
            errors.extend(f"{where}:{number}: {p}" for p in problems)
            continue
        seen_ids[qid] = number
        queries.append(EvalQuery(qid, query.strip(), sources, texts, kind, number))
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n  ... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise EvaluationSetError(f"evaluation set {where}: {len(errors)} problem(s):\n  " + "\n  ".join(shown) + more)
    if not queries:
        raise EvaluationSetError(f"evaluation set {where} holds no queries")
    return EvaluationSet(where, tuple(queries))


def load_evaluation_set(location: str, conn_id: str | None = None) -> EvaluationSet:
    """Read and check an evaluation set from a local path or an object-storage URL, read like a source
    (Airflow's ``ObjectStoragePath`` with the connection ``conn_id``, e.g. the run's ``source_conn_id``)."""
    from milvus_toolkit.ingest.documents import source_path

    try:
        text = source_path(location, conn_id).read_text(encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - any storage error: the file cannot be read, say which and why
        raise EvaluationSetError(f"evaluation set {location}: cannot be read ({type(exc).__name__}: {exc})") from None
    return parse_evaluation_lines(text.splitlines(), location)


# ---- running a set against a collection ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What is searched: the physical collection, its layout, and the embedding of its vectors.
    The field names are the chunk store's constants (``chunk_store.PRIMARY_FIELD`` ...)."""

    collection: str
    metric_type: str = "COSINE"
    hybrid: bool = False
    scope_filter: str = ""

    @classmethod
    def of(cls, spec, collection: str | None = None) -> Target:
        """From a ``chunk_store.CollectionSpec`` (its fields and options)."""
        return cls(
            collection or spec.name,
            spec.metric_type,
            spec.hybrid,
            spec.scope_filter,
        )

    @property
    def modes(self) -> tuple[SearchMode, ...]:
        return ("dense", "bm25", "hybrid") if self.hybrid else ("dense",)

    @property
    def gate_mode(self) -> SearchMode:
        return "hybrid" if self.hybrid else "dense"


@dataclass
class QualityResult:
    """A set's scores on one collection: per search mode, totals and per query."""

    collection: str
    set_digest: str
    k: int
    scores: dict[str, RetrievalScores]
    gate_mode: str
    ranks: dict[str, dict[str, int | None]] = field(default_factory=dict)  # mode -> query id -> first hit rank
    kinds: dict[str, str] = field(default_factory=dict)  # query id -> kind
    seconds: float = 0.0

    @property
    def gate_score(self) -> float:
        return self.scores[self.gate_mode].get(GATE_METRIC)

    def per_query(self, mode: str | None = None) -> dict[str, float]:
        return {s.query_id: s.get(GATE_METRIC) for s in self.scores[mode or self.gate_mode].per_query}

    def by_kind(self, mode: str) -> dict[str, float]:
        """Mean gate metric per ``kind`` label."""
        groups: dict[str, list[float]] = {}
        for s in self.scores[mode].per_query:
            if kind := self.kinds.get(s.query_id):
                groups.setdefault(kind, []).append(s.get(GATE_METRIC))
        return {kind: sum(v) / len(v) for kind, v in sorted(groups.items())}

    def record(self) -> dict[str, Any]:
        """JSON-safe: what is kept on the collection, in reports and in Asset events."""
        data: dict[str, Any] = {
            "set": self.set_digest,
            "k": self.k,
            "queries": len(self.per_query()),
            "gate": f"{self.gate_mode} {GATE_METRIC}@{self.k}",
            "scores": {mode: {m: round(s.get(m), 4) for m in METRICS} for mode, s in self.scores.items()},
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if len(self.per_query()) <= MAX_RECORDED_QUERIES:
            data["per_query"] = {qid: round(v, 4) for qid, v in self.per_query().items()}
        return data

    def flat(self) -> dict[str, float]:
        """``<mode>_<metric>_at_<k>`` -> score: for properties, reports and Asset events."""
        return {f"{mode}_{m}_at_{self.k}": round(s.get(m), 4) for mode, s in self.scores.items() for m in METRICS}

    def table(self) -> str:
        """Per-query table (first relevant rank and nDCG per mode) and the totals."""
        modes = list(self.scores)
        head = ["query", "kind"] + [f"{m} rank" for m in modes] + [f"{m} {GATE_METRIC}@{self.k}" for m in modes]
        rows = []
        for position, s in enumerate(self.scores[modes[0]].per_query):
            qid = s.query_id
            ranks = [self.ranks.get(m, {}).get(qid) for m in modes]
            values = [self.scores[m].per_query[position].get(GATE_METRIC) for m in modes]
            rows.append(
                [qid, self.kinds.get(qid, "")] + [r if r else "-" for r in ranks] + [f"{v:.3f}" for v in values]
            )
        lines = [_format_rows(head, rows), "", f"Totals at k={self.k} (set {self.set_digest}, {len(rows)} queries):"]
        for mode in modes:
            totals = "  ".join(f"{m}={self.scores[mode].get(m):.3f}" for m in METRICS)
            kinds = ", ".join(f"{k} {v:.3f}" for k, v in self.by_kind(mode).items())
            lines.append(f"  {mode:<6} {totals}" + (f"  ({GATE_METRIC} by kind: {kinds})" if kinds else ""))
        return "\n".join(lines)


def _format_rows(head: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(head)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=True))]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def judge(query: EvalQuery, hits: Sequence[Mapping[str, Any]], source_field: str, text_field: str) -> list[str]:
    """The ranked ids to score: the target a hit meets first (not met higher up), else a miss id."""
    met: set[str] = set()
    ranked: list[str] = []
    for position, hit in enumerate(hits):
        new = [t for t in query.met_by(hit.get(source_field), hit.get(text_field)) if t not in met]
        if new:
            met.add(new[0])
            ranked.append(new[0])
        else:
            ranked.append(f"miss:{position}")
    return ranked


def score_hits(
    evalset: EvaluationSet,
    hits: Sequence[Sequence[Mapping[str, Any]]],
    k: int,
    source_field=SOURCE_FIELD,
    text_field=TEXT_FIELD,
) -> tuple[RetrievalScores, dict[str, int | None]]:
    """Scores of one search mode's hits (one list per query, the set's order) and each query's first hit rank."""
    rankings, judgements, first = {}, {}, {}
    for query, found in zip(evalset.queries, hits, strict=True):
        ranked = judge(query, found[:k], source_field, text_field)
        rankings[query.id] = ranked
        judgements[query.id] = dict.fromkeys(query.targets, 1)
        first[query.id] = next((i + 1 for i, doc in enumerate(ranked) if not doc.startswith("miss:")), None)
    return score_rankings(rankings, judgements, k), first


def search(hook, target: Target, mode: SearchMode, texts: list[str], vectors: list[list[float]] | None, k: int):
    fields = [PRIMARY_FIELD, SOURCE_FIELD, TEXT_FIELD]
    common = {"limit": k, "filter": target.scope_filter, "output_fields": fields, "consistency_level": "Strong"}
    if mode == "dense":
        params = {"metric_type": target.metric_type, "params": {"ef": max(64, k)}}
        return hook.search(target.collection, vectors, anns_field=VECTOR_FIELD, search_params=params, **common)
    if mode == "bm25":
        return hook.search(target.collection, texts, anns_field=SPARSE_FIELD, **common)
    return hook.hybrid_search(
        target.collection,
        vectors,
        texts,
        vector_field=VECTOR_FIELD,
        sparse_field=SPARSE_FIELD,
        **common,
    )


def evaluate(
    hook, target: Target, evalset: EvaluationSet, k: int, embeddings, vectors: list[list[float]] | None = None
) -> QualityResult:
    """Run every query of the set against ``target`` in each of its search modes (one call per mode)."""
    started = time.perf_counter()
    texts = [q.query for q in evalset.queries]
    if vectors is None:
        vectors = [list(map(float, v)) for v in embeddings.embed_documents(texts)]
    scores: dict[str, RetrievalScores] = {}
    ranks: dict[str, dict[str, int | None]] = {}
    for mode in target.modes:
        hits = search(hook, target, mode, texts, vectors, k)
        scores[mode], ranks[mode] = score_hits(evalset, hits, k)
    return QualityResult(
        collection=target.collection,
        set_digest=evalset.digest,
        k=k,
        scores=scores,
        gate_mode=target.gate_mode,
        ranks=ranks,
        kinds={q.id: q.kind for q in evalset.queries if q.kind},
        seconds=round(time.perf_counter() - started, 3),
    )


# ---- the gate -------------------------------------------------------------------------------------


@dataclass
class Baseline:
    """Scores to compare with: measured now on the serving collection, or recorded by a validated run."""

    origin: str  # e.g. "serving collection 'docs__20260101' (measured now)"
    score: float
    per_query: dict[str, float] = field(default_factory=dict)


@dataclass
class GateDecision:
    passed: bool
    score: float
    metric: str
    baseline: Baseline | None
    reasons: list[str] = field(default_factory=list)
    worse: list[tuple[str, float, float]] = field(default_factory=list)  # query id, before, after
    forced: bool = False

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {"passed": self.passed, "metric": self.metric, "score": round(self.score, 4)}
        if self.baseline:
            data["baseline"] = round(self.baseline.score, 4)
            data["baseline_from"] = self.baseline.origin
        if self.reasons:
            data["reasons"] = self.reasons
        if self.worse:
            data["worse"] = [qid for qid, _, _ in self.worse]
        if self.forced:
            data["forced"] = True
        return data

    def text(self) -> str:
        verdict = (
            "passed" if self.passed and not self.forced else ("OVERRIDDEN by force_swap" if self.forced else "FAILED")
        )
        lines = [f"Quality gate ({self.metric}): {verdict}; score {self.score:.3f}"]
        if self.baseline:
            lines[0] += f", baseline {self.baseline.score:.3f} from {self.baseline.origin}"
        lines += [f"  - {reason}" for reason in self.reasons]
        if self.worse:
            lines.append("  Queries that got worse (before -> after):")
            lines += [f"    {qid}: {before:.3f} -> {after:.3f}" for qid, before, after in self.worse]
        return "\n".join(lines)


def decide(
    result: QualityResult,
    baseline: Baseline | None,
    *,
    min_quality: float | None,
    max_quality_drop: float,
    force: bool = False,
) -> GateDecision:
    """Pass when the score is at least ``min_quality`` (if set) and at most ``max_quality_drop`` below the baseline
    (if any). ``force`` passes anyway and says so."""
    score = result.gate_score
    reasons = []
    if min_quality is not None and score < min_quality:
        reasons.append(f"{score:.3f} is below min_quality {min_quality:.3f}")
    worse: list[tuple[str, float, float]] = []
    if baseline is not None:
        if baseline.score - score > max_quality_drop + 1e-9:
            reasons.append(
                f"{score:.3f} is {baseline.score - score:.3f} below the baseline {baseline.score:.3f} "
                f"(max_quality_drop {max_quality_drop:.3f})"
            )
        now = result.per_query()
        worse = sorted(
            (
                (qid, before, now[qid])
                for qid, before in baseline.per_query.items()
                if qid in now and now[qid] < before - 1e-4  # recorded scores are rounded to 4 places
            ),
            key=lambda item: item[2] - item[1],
        )
    metric = f"{result.gate_mode} {GATE_METRIC}@{result.k}"
    return GateDecision(not reasons or force, score, metric, baseline, reasons, worse, forced=bool(reasons) and force)


def recorded(hook, collection: str, key: str = BASELINE) -> dict[str, Any] | None:
    """The quality record a validated run kept on ``collection`` (alias resolved), if any and readable."""
    physical = hook.describe_alias(collection) or collection
    raw = hook.collection_properties(physical).get(key)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        log.warning("Ignoring an unreadable quality record %s on '%s'", key, physical)
        return None
    return data if isinstance(data, dict) else None


def baseline_from_record(data: dict[str, Any] | None, result: QualityResult, where: str) -> Baseline | None:
    """A recorded baseline, if it was measured on the same set and ``k``."""
    if not data or data.get("set") != result.set_digest or data.get("k") != result.k:
        return None
    gate = str(data.get("gate", "")).split(" ")[0] or result.gate_mode
    scores = (data.get("scores") or {}).get(gate) or {}
    if GATE_METRIC not in scores:
        return None
    return Baseline(
        f"the scores recorded on '{where}' ({data.get('at', '?')})",
        float(scores[GATE_METRIC]),
        {str(q): float(v) for q, v in (data.get("per_query") or {}).items()},
    )


def save(hook, collection: str, result: QualityResult, status: str, *, baseline: bool) -> dict[str, str]:
    """Record ``result`` on the collection (alias resolved): the flat ``quality.*`` properties with ``status``, and,
    when ``baseline``, the record later runs are compared with. Returns the flat properties."""
    physical = hook.describe_alias(collection) or collection
    flat = {QUALITY + key: f"{value:.4f}" for key, value in result.flat().items()}
    flat.update(
        {
            QUALITY + "set": result.set_digest,
            QUALITY + "k": str(result.k),
            QUALITY + "status": status,
            QUALITY + "at": result.record()["at"],
        }
    )
    props = dict(flat)
    if baseline:
        props[BASELINE] = json.dumps(result.record(), separators=(",", ":"), sort_keys=True)
    hook.set_collection_properties(physical, props)
    return flat


# ---- quality in validation ----------------------------------------------------------------------------


@dataclass
class QualityCheck:
    """What ``check_quality`` measured and decided (``summary()`` goes into the run report and Asset event)."""

    result: QualityResult
    decision: GateDecision
    status: str
    properties: dict[str, str]

    def summary(self) -> dict[str, Any]:
        return {
            "set": self.result.set_digest,
            "k": self.result.k,
            "queries": len(self.result.per_query()),
            "status": self.status,
            "scores": self.result.flat(),
            "gate": self.decision.summary(),
        }


def check_quality(
    hook,
    spec,
    embedding,
    evalset: EvaluationSet,
    *,
    k: int = DEFAULT_K,
    min_quality: float | None = None,
    max_quality_drop: float = DEFAULT_MAX_QUALITY_DROP,
    force: bool = False,
    build: bool = False,
    serving: str | None = None,
) -> QualityCheck:
    """Score ``evalset`` on the collection ``spec`` names and gate on it.

    A build (``build``) is compared with what ``serving`` serves, on the same set and ``k``: measured now when the
    serving collection holds vectors of the same model, else its recorded baseline; with neither it cannot be
    compared and is refused (``force`` accepts it). Any other run is compared with the baseline recorded on its own
    collection by the last run that passed (none yet: it becomes the baseline). The scores are recorded on the
    collection either way; raises ``QualityGateFailed`` when the gate refuses."""
    model = embedding.embeddings
    texts = [q.query for q in evalset.queries]
    vectors = [list(map(float, v)) for v in model.embed_documents(texts)]
    result = evaluate(hook, Target.of(spec), evalset, k, model, vectors)
    log.info("Retrieval quality of '%s' (%.1f s):\n%s", spec.name, result.seconds, result.table())
    baseline: Baseline | None = None
    reasons: list[str] = []
    if build and serving and hook.has_collection(serving):
        baseline = _serving_baseline(hook, spec, embedding, evalset, vectors, result, serving)
        if baseline is None:
            reasons.append(
                f"the serving collection '{serving}' holds vectors of another model and records no scores for set "
                f"{result.set_digest} at k={k}, so the build cannot be compared with it"
            )
    elif not build:
        baseline = baseline_from_record(recorded(hook, spec.name), result, spec.name)
    decision = decide(result, baseline, min_quality=min_quality, max_quality_drop=max_quality_drop, force=force)
    if reasons:
        decision.reasons[:0] = reasons
        decision.passed, decision.forced = force, force
    status = "forced" if decision.forced else "validated" if decision.passed else "refused" if build else "failed"
    properties = save(hook, spec.name, result, status, baseline=decision.passed)
    (log.info if decision.passed else log.error)("%s", decision.text())
    check = QualityCheck(result, decision, status, properties)
    if not decision.passed:
        what = (
            f"the build '{spec.name}' was refused: the alias still serves '{serving}'; the build is kept "
            f"(marked {QUALITY}status=refused) for inspection"
            if build
            else f"'{spec.name}' failed its quality check (its writes are in; the baseline was kept)"
        )
        raise QualityGateFailed(f"{what}.\n{decision.text()}\nRun with force_swap=true to accept these scores.")
    return check


def _serving_baseline(hook, spec, embedding, evalset, vectors, result, serving: str) -> Baseline | None:
    physical = hook.describe_alias(serving) or serving
    same_model = hook.collection_properties(physical).get(marks.EMBEDDING) == marks.embedding_identity(embedding)
    if same_model:
        layout = hook.collection_layout(physical)
        target = replace(Target.of(spec, physical), hybrid=bool(layout["bm25"]))
        now = evaluate(hook, target, evalset, result.k, None, vectors)
        log.info("Retrieval quality of the serving collection '%s':\n%s", physical, now.table())
        return Baseline(f"the serving collection '{physical}' (measured now)", now.gate_score, now.per_query())
    return baseline_from_record(recorded(hook, physical), result, physical)
