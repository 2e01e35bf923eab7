"""The pure parts of ``make bench-reindex``: which files the "1 % changed" run edits, deletes
and adds, how a file is edited, the independent split the collection is checked against,
and the targets' verdicts. No Milvus, no timing."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

NAME = re.compile(r"^doc-(\d+)\.md$")
# The shares of the corpus's files the "1 % changed" run touches (issue 19, item 4).
EDIT_PERCENT, DELETE_PERCENT, ADD_PERCENT = 1.0, 0.5, 0.5
# The targets (issue 19, item 4): printed as reached / not reached, never asserted.
UNCHANGED_MAX_SHARE = 0.05  # an unchanged incremental run: at most 5 % of the full build's wall clock
CHANGED_MAX_SHARE = 0.10  # 1 % of the files changed: at most 10 %
PEAK_MAX_MB = 1024.0  # peak memory of any one task (step)
SCALE_TOLERANCE = 1.10  # "no more at the bigger corpus": within 10 % (RSS varies by some MB run to run)


def share(percent: float, files: int) -> int:
    """How many of ``files`` make ``percent`` % of them: rounded, at least 1 of a non-empty corpus."""
    return max(1, round(files * percent / 100)) if files else 0


@dataclass(frozen=True)
class ChangePlan:
    edited: list[str]
    deleted: list[str]
    added: list[str]

    def to_json(self) -> dict:
        return {"edited": len(self.edited), "deleted": len(self.deleted), "added": len(self.added)}


def change_plan(
    names: Iterable[str],
    *,
    seed: int,
    edit_percent: float = EDIT_PERCENT,
    delete_percent: float = DELETE_PERCENT,
    add_percent: float = ADD_PERCENT,
) -> ChangePlan:
    """Which of the corpus's ``doc-<n>.md`` files are edited and deleted (disjoint, drawn with
    ``seed``), and the names of the new files (numbered after the highest existing one)."""
    names = sorted(names)
    indices = []
    for name in names:
        match = NAME.match(name)
        if not match:
            raise ValueError(f"not a generated corpus file: {name!r}")
        indices.append(int(match.group(1)))
    n_edit, n_delete, n_add = (share(p, len(names)) for p in (edit_percent, delete_percent, add_percent))
    if n_edit + n_delete > len(names):
        raise ValueError(f"{len(names)} files: too few to edit {n_edit} and delete {n_delete}")
    drawn = random.Random(seed).sample(names, n_edit + n_delete)
    start = max(indices, default=-1) + 1
    return ChangePlan(
        edited=sorted(drawn[:n_edit]),
        deleted=sorted(drawn[n_edit:]),
        added=[f"doc-{i:05d}.md" for i in range(start, start + n_add)],
    )


def edited_text(text: str, name: str) -> str:
    """The file after a small edit: one new paragraph at the end of its middle section (what a
    writer's fix looks like). Chunk ids come from the content, so only the chunks of that
    section change; the others keep their ids and are not embedded again."""
    headers = [m.start() for m in re.finditer(r"^## ", text, flags=re.MULTILINE)]
    if len(headers) < 2:
        return text + f"\nEdited: a new closing paragraph for {name}.\n"
    cut = headers[len(headers) // 2]  # the start of the section after the middle one
    paragraph = f"\nEdited: the forecast for {name} now covers the late season and the cold storage.\n"
    return text[:cut] + paragraph + text[cut:]


def expected_count(name: str, data: bytes, settings) -> int:
    """The chunks ``name`` splits into, with the toolkit's reader and splitter called directly
    (not the pipeline): the independent split the collection is checked against."""
    from milvus_toolkit.ingest.documents import BadFile, read_document
    from milvus_toolkit.ingest.splitting import split_document

    doc = read_document(name, data)
    if isinstance(doc, BadFile):
        raise ValueError(f"{name}: {doc.reason}")
    return len(split_document(doc, settings))


def count_mismatches(expected: dict[str, int], found: dict[str, int], limit: int = 10) -> list[str]:
    """Sources whose row count differs from their split (sources that split into nothing hold
    no rows); empty when the collection is exact."""
    wanted = {source: n for source, n in expected.items() if n}
    wrong = sorted(set(wanted) | set(found), key=str)
    lines = [
        f"{source}: {found.get(source, 0)} rows, split gives {wanted.get(source, 0)}"
        for source in wrong
        if found.get(source, 0) != wanted.get(source, 0)
    ]
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


@dataclass(frozen=True)
class Verdict:
    target: str
    value: str
    reached: bool | None  # None: not measured in this run

    def line(self) -> str:
        mark = {True: "reached", False: "NOT reached", None: "not measured"}[self.reached]
        return f"{self.target}: {self.value} -> {mark}"


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def verdicts(
    full_s: float,
    unchanged_s: float,
    changed_s: float,
    peak_mb: float,
    *,
    smaller_scale_peak_mb: float | None = None,
    scales: tuple[int, int] | None = None,
) -> list[Verdict]:
    """The four targets for one corpus (wall clocks of its full, unchanged and 1 % runs; the
    highest peak of any of its tasks), and the peak against a smaller corpus's, when known."""
    unchanged = unchanged_s / full_s if full_s else None  # not rounded: the printed ratios are the same
    changed = changed_s / full_s if full_s else None
    out = [
        Verdict(
            f"unchanged <= {UNCHANGED_MAX_SHARE:.0%} of full",
            f"{unchanged:.1%}" if unchanged is not None else "n/a",
            None if unchanged is None else unchanged <= UNCHANGED_MAX_SHARE,
        ),
        Verdict(
            f"1 % changed <= {CHANGED_MAX_SHARE:.0%} of full",
            f"{changed:.1%}" if changed is not None else "n/a",
            None if changed is None else changed <= CHANGED_MAX_SHARE,
        ),
        Verdict(f"peak per task <= {PEAK_MAX_MB:.0f} MB", f"{peak_mb:.0f} MB", peak_mb <= PEAK_MAX_MB),
    ]
    if smaller_scale_peak_mb is None or scales is None or scales[0] >= scales[1]:
        out.append(Verdict("peak per task no higher at the bigger corpus", "no smaller corpus measured", None))
    else:
        small, big = scales
        out.append(
            Verdict(
                f"peak per task at {big:,} chunks no higher than at {small:,} (within {SCALE_TOLERANCE - 1:.0%})",
                f"{peak_mb:.0f} MB vs {smaller_scale_peak_mb:.0f} MB",
                peak_mb <= smaller_scale_peak_mb * SCALE_TOLERANCE,
            )
        )
    return out
