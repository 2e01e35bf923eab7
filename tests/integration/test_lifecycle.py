"""A model-checked lifecycle (issue 21, part 2): hypothesis's ``RuleBasedStateMachine`` changes
a small corpus the way people and file systems do, and runs ingest, incremental and full
reindexes and rollbacks in the DAGs' order (``lifecycle_support``) against a real Milvus Lite
server. After every run the serving collection is compared with a model that is updated only
by runs that succeeded.

Rules (files: a few short Markdown and text files of distinct paragraphs, chunk_size 120-320):
add (new text, or a copy of another file), edit a paragraph, insert a paragraph before
repeated paragraphs, a same-size edit, delete, rename, case-rename, truncate to empty, make
unreadable, dangling link, restore a file that could not be read; move the ``guide`` folder
elsewhere and link it back; change chunk_size; shift the next run's worker clock (+/- 1 h);
runs: ingest, incremental, full, rollback (each with a deletion budget of 10, 50 or 100 %,
and a source given absolute or relative to the working directory).

"Unreadable" while the tests run as root (chmod 000 does not stop root): a symlink to
``/proc/self/mem`` (reading it fails with EIO, a real OSError for root too), or a sparse file
over ``max_file_mb`` (1 MB; skipped without being read). A dangling link is its own rule.

Invariants, after every run:
- serving == model: every readable, listed source holds exactly the ids an independent split
  (the model's listing, ``load`` + ``split_document`` with the run's settings) gives; ingest
  keeps unlisted sources (it never deletes them); a refused run (``PermanentError``) changed
  nothing that is served;
- rows of listed sources that cannot be read are unchanged (by every run but a rollback);
- a run deleted at most ``max_delete_percent`` of the rows served when it started (ingest and
  incremental: the rows it deleted; a full rebuild: the rows of the sources the new build
  leaves out of the collection it replaces, as the README's promise says);
- no source that is still listed exists only in a dropped collection (one that served);
- no duplicate ids; after an incremental or full reindex of the folder, no unlisted source.

``make test``: LIFECYCLE_EXAMPLES (20) examples of up to LIFECYCLE_STEPS (20) steps, derandomized;
``make fuzz-lifecycle``: 200 examples, random seed. A failure prints the minimal sequence of
steps and a ``@reproduce_failure`` blob.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from milvus_toolkit.ingest.splitting import SplitSettings
from tests.integration import lifecycle_support as ls

pytestmark = [pytest.mark.integration, pytest.mark.lifecycle, pytest.mark.usefixtures("private_staging")]

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "20"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "20"))
RANDOM_SEED = os.environ.get("LIFECYCLE_SEED", "") == "random"  # make fuzz-lifecycle
MAX_FILES = 6
MAX_FILE_MB = 1
OVERLAP = 20
NAMES = ["alpha.md", "beta.txt", "gamma.md", "notes.txt", "guide/intro.md", "guide/setup.txt", "guide/deep/faq.md"]
WORDS = (
    "harvest soil tomato irrigation pump valve sensor greenhouse ledger invoice tractor orchard frost "
    "compost seedling pallet crate nozzle filter gasket warranty spindle bearing calibration humidity "
    "trellis mulch drainage auger"
).split()


def paragraph(n: int) -> str:
    """Paragraph ``n``: distinct text of about 100 characters, the same on every run."""
    pick = random.Random(n)
    return f"Note {n}: " + " ".join(pick.choice(WORDS) for _ in range(12)) + "."


@dataclass
class Entry:
    """One listed name of the corpus, as the model knows it."""

    kind: str  # text | empty | eio | too_big | dangling
    text: str = ""
    version: int = 0  # its mtime's: every write or touch gives a new one, a sneaky edit keeps it

    @property
    def readable(self) -> bool:
        return self.kind == "text" and bool(self.text.strip())


def lifecycle_machine(hook):
    """The machine class, bound to this test's hook (fixtures are function-scoped)."""

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.hook = hook
            self.home = Path(tempfile.mkdtemp(prefix="lifecycle-"))
            self.root, self.elsewhere = self.home / "corpus", self.home / "elsewhere"
            self.root.mkdir()
            self.elsewhere.mkdir()
            self.alias = f"lc_{uuid.uuid4().hex[:10]}"
            self.files: dict[str, Entry] = {}
            self.chunk_size = 200
            self.next_offset = 0.0
            self.clock = ls.SchedulerClock()
            self.paragraphs = 100  # fresh paragraph numbers from here
            self.linked = False
            self.expected: dict[str, frozenset[str]] = {}  # the serving collection, as the model has it
            self.model_of: dict[str, dict[str, frozenset[str]]] = {}  # physical collection -> contents
            self.previous_of: dict[str, str | None] = {}  # physical collection -> rollback target
            self.runs: list[str] = []
            # physical collection -> source -> (chunk_size, file version) its rows were split from: what
            # their fingerprints record (a run skips a source whose recorded pair is the current one)
            self.recorded_of: dict[str, dict[str, tuple[int, int]]] = {}
            self.mtime_base = time.time_ns() - 10 * 86_400 * 10**9  # files older than a moment: mtimes trusted
            self.versions = 0

        # ---- the corpus on disk --------------------------------------------------------------

        def fresh(self, count: int = 1) -> list[str]:
            self.paragraphs += count
            return [paragraph(n) for n in range(self.paragraphs - count, self.paragraphs)]

        def write(self, name: str, entry: Entry) -> None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.exists():
                path.unlink()
            if entry.kind == "text":
                path.write_text(entry.text)
            elif entry.kind == "empty":
                path.write_bytes(b"")
            elif entry.kind == "too_big":
                path.write_text(entry.text or "x")
                os.truncate(path, MAX_FILE_MB * 2**20 + 1)  # sparse: no disk used
            elif entry.kind == "eio":
                os.symlink("/proc/self/mem", path)  # read_bytes() raises OSError EIO, for root too
            elif entry.kind == "dangling":
                os.symlink(self.elsewhere / "gone" / name.replace("/", "_"), path)
            if entry.kind in ("text", "empty", "too_big"):
                self.new_mtime(name, entry)
            self.files[name] = entry

        def new_mtime(self, name: str, entry: Entry) -> None:
            """A new mtime (in the past, one second per change), as an edit or a touch gives."""
            self.versions += 1
            entry.version = self.versions
            mtime = self.mtime_base + self.versions * 10**9
            os.utime(self.root / name, ns=(mtime, mtime))

        def pick(self, index: int, *, readable: bool | None = None) -> str | None:
            names = sorted(n for n, e in self.files.items() if readable is None or e.readable == readable)
            return names[index % len(names)] if names else None

        @initialize()
        def corpus(self):
            self.write("alpha.md", Entry("text", "# Alpha\n\n" + "\n\n".join(paragraph(n) for n in (0, 1, 2))))
            self.write("beta.txt", Entry("text", "\n\n".join(paragraph(n) for n in (3, 4))))
            self.write("guide/intro.md", Entry("text", "# Intro\n\n" + "\n\n".join(paragraph(n) for n in (5, 6, 7))))
            self.write("guide/deep/faq.md", Entry("text", "\n\n".join(paragraph(n) for n in (8, 9, 9, 9))))

        @precondition(lambda self: len(self.files) < MAX_FILES)
        @rule(index=st.integers(0, 20), copy=st.booleans(), size=st.integers(1, 4))
        def add_file(self, index, copy, size):
            free = [n for n in NAMES if n not in self.files and n.lower() not in {f.lower() for f in self.files}]
            name = free[index % len(free)]
            source = self.pick(index, readable=True)
            text = self.files[source].text if copy and source else "\n\n".join(self.fresh(size))
            note(f"add {name} ({'copy of ' + source if copy and source else f'{size} new paragraphs'})")
            self.write(name, Entry("text", text))

        @precondition(lambda self: any(e.readable for e in self.files.values()))
        @rule(
            index=st.integers(0, 20), how=st.sampled_from(["paragraph", "insert_before_repeats", "same_size", "append"])
        )
        def edit_file(self, index, how):
            name = self.pick(index, readable=True)
            parts = self.files[name].text.split("\n\n")
            if how == "paragraph":
                parts[index % len(parts)] = self.fresh()[0]
            elif how == "insert_before_repeats":
                repeated = next((i for i, p in enumerate(parts) if parts.count(p) > 1), None)
                if repeated is None:  # make repeats first: the last paragraph three times
                    parts += [parts[-1], parts[-1]]
                    repeated = next(i for i, p in enumerate(parts) if parts.count(p) > 1)
                parts.insert(repeated, self.fresh()[0])
            elif how == "same_size":
                text = "\n\n".join(parts)
                at = [i for i, ch in enumerate(text) if ch.islower()][index % 7]
                parts = (text[:at] + ("q" if text[at] != "q" else "z") + text[at + 1 :]).split("\n\n")
            else:
                parts.append(self.fresh()[0])
            note(f"edit {name} ({how})")
            self.write(name, Entry("text", "\n\n".join(parts)))

        @precondition(lambda self: any(e.readable for e in self.files.values()))
        @rule(index=st.integers(0, 20))
        def touch(self, index):
            """Only the mtime changes: the next skipping run reads the file, and finds the same chunks."""
            name = self.pick(index, readable=True)
            self.new_mtime(name, self.files[name])
            note(f"touch {name}")

        @precondition(lambda self: any(e.readable and any(c.islower() for c in e.text) for e in self.files.values()))
        @rule(index=st.integers(0, 20))
        def sneaky_edit(self, index):
            """A same-size edit that keeps the mtime (a tool that restores it): only verify_content (or a
            change of split settings, a full rebuild) reads it; a plain incremental run keeps its old rows."""
            name = self.pick(index, readable=True)
            path, entry = self.root / name, self.files[name]
            if not any(c.islower() for c in entry.text):
                return
            before = path.stat()
            lower = [i for i, ch in enumerate(entry.text) if ch.islower()]
            at = lower[index % len(lower)]
            text = entry.text[:at] + ("q" if entry.text[at] != "q" else "z") + entry.text[at + 1 :]
            path.write_text(text)
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
            assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
            entry.text = text
            note(f"sneaky edit {name} (same size, same mtime)")

        @precondition(lambda self: bool(self.files))
        @rule(
            index=st.integers(0, 20),
            how=st.sampled_from(
                ["delete", "rename", "case_rename", "truncate", "eio", "too_big", "dangling", "restore"]
            ),
        )
        def change_file(self, index, how):
            name = self.pick(index)
            entry = self.files[name]
            path = self.root / name
            if how == "delete":
                path.unlink()
                del self.files[name]
            elif how in ("rename", "case_rename"):
                if how == "rename":
                    free = [
                        n for n in NAMES if n not in self.files and n.lower() not in {f.lower() for f in self.files}
                    ]
                    new = free[index % len(free)] if free else None
                else:
                    base = name.rsplit("/", 1)[-1]
                    new = name[: len(name) - len(base)] + base[0].swapcase() + base[1:]
                if new is None:
                    return
                (self.root / new).parent.mkdir(parents=True, exist_ok=True)
                os.rename(path, self.root / new)
                self.files[new] = self.files.pop(name)
                name = f"{name} -> {new}"
            elif how == "restore":
                if entry.readable:
                    return
                self.write(name, Entry("text", "\n\n".join(self.fresh(2))))
            else:
                self.write(name, Entry({"truncate": "empty"}.get(how, how), entry.text))
            note(f"{how} {name}")

        @precondition(lambda self: not self.linked and any(n.startswith("guide/") for n in self.files))
        @rule()
        def move_guide_behind_link(self):
            moved = self.elsewhere / "guide-moved"
            shutil.move(self.root / "guide", moved)
            os.symlink(moved, self.root / "guide")
            self.linked = True
            note("guide/ moved elsewhere and linked back")

        @rule(chunk_size=st.sampled_from([120, 200, 320]))
        def change_splitter(self, chunk_size):
            self.chunk_size = chunk_size

        @rule(offset=st.sampled_from([3600.0, -3600.0]))
        def skew_worker_clock(self, offset):
            self.next_offset = offset

        # ---- runs --------------------------------------------------------------------------

        @rule(budget=st.sampled_from([10, 50, 100]), relative=st.booleans())
        def ingest(self, budget, relative):
            self.run("ingest", budget, relative)

        @rule(budget=st.sampled_from([10, 50, 100]), relative=st.booleans(), verify=st.booleans())
        def incremental(self, budget, relative, verify):
            self.run("incremental", budget, relative, verify)

        @rule(budget=st.sampled_from([10, 50, 100]), relative=st.booleans())
        def full(self, budget, relative):
            self.run("full", budget, relative)

        @precondition(lambda self: bool(self.model_of))  # something was served (else: refused, trivially)
        @rule()
        def rollback(self):
            self.run("rollback", 100, False)

        def conf(self, kind: str, budget: int, relative: bool, verify: bool = False) -> dict:
            conf = {
                "source": "corpus" if relative else str(self.root),
                "collection": self.alias,
                "embedding": "deterministic",
                "milvus_conn_id": "milvus_lite",
                "chunk_size": self.chunk_size,
                "chunk_overlap": OVERLAP,
                "max_file_mb": MAX_FILE_MB,
                "max_delete_percent": budget,
                "batch_size": 8,
                "verify_content": verify,
            }
            return conf if kind == "ingest" else {**conf, "strategy": kind}

        def run(self, kind: str, budget: int, relative: bool, verify: bool = False) -> None:
            hook, offset = self.hook, self.next_offset
            self.next_offset = 0.0
            listed = sorted(self.files)
            settings_ = SplitSettings("auto", self.chunk_size, OVERLAP)
            split, bad = ls.independent_split(self.root, listed, settings_, MAX_FILE_MB * 2**20)
            assert set(split) == {n for n, e in self.files.items() if e.readable}, "harness: model and files disagree"

            serving = ls.serving_collection(hook, self.alias)
            before = ls.by_source(ls.rows_of(hook, serving))
            assert before == self.expected, "something changed the serving collection between runs"
            everything_before = self.everything()

            conf = self.conf(kind, budget, relative, verify)
            cwd = os.getcwd()
            os.chdir(self.home)
            try:
                with ls.worker_clock(offset):
                    started = self.clock.next()
                    outcome = (ls.run_ingest if kind == "ingest" else ls.run_reindex)(hook, conf, run_started=started)
            finally:
                os.chdir(cwd)
            label = (
                f"{kind} (budget {budget} %{', relative source' if relative else ''}"
                f"{', verify_content' if verify else ''}"
                f"{f', worker clock {offset:+.0f} s' if offset else ''}, chunk_size {self.chunk_size})"
            )
            note(f"run {label}: {outcome}")
            self.runs.append(f"{kind}:{'ok' if outcome.ok else type(outcome.refusal).__name__}")

            after_serving = ls.serving_collection(hook, self.alias)
            try:
                rows = ls.rows_of(hook, after_serving)
            except Exception as exc:
                raise AssertionError(f"after {label}, the serving name cannot answer a query: {exc}") from exc
            after = ls.by_source(rows)
            everything_after = self.everything()

            # -- no duplicate ids
            pks = [pk for pk, _ in rows]
            assert len(pks) == len(set(pks)), f"duplicate ids in '{after_serving}'"
            if after_serving:
                assert hook.count(after_serving) == len(pks), "count(*) disagrees with the rows read"

            # -- rows of listed sources that cannot be read are unchanged (a rollback goes back on purpose)
            for source in bad if kind != "rollback" else ():
                assert after.get(source) == before.get(source), (
                    f"{label}: rows of {source!r} (listed, not readable: {self.files[source].kind}) changed: "
                    f"{len(before.get(source, ()))} -> {len(after.get(source, ()))}"
                )

            # -- no source still listed exists only in a dropped collection (one that served: a
            # build whose run was refused never held anybody's data)
            for name in (set(everything_before) - set(everything_after)) & set(self.model_of):
                for source in everything_before[name]:
                    if source in self.files:
                        assert any(source in contents for contents in everything_after.values()), (
                            f"{label}: dropping '{name}' lost the last rows of listed source {source!r}"
                        )

            if not outcome.ok:
                # -- a refused run changed nothing that is served
                assert (after_serving, after) == (serving, before), f"{label} was refused but changed what is served"
                return

            old_ids = set().union(*before.values()) if before else set()
            new_ids = set().union(*after.values()) if after else set()
            if kind == "rollback":
                wanted = self.previous_of.get(serving)
                assert after_serving == wanted, f"rollback served '{after_serving}', the model expected '{wanted}'"
                expected = self.model_of[wanted]
            else:
                # -- the deletion budget, of the rows served when the run started: the rows an
                # ingest or incremental run deleted; the rows of the sources a new build left out
                if outcome.kind == "full":
                    removed = set().union(*(ids for source, ids in before.items() if source not in after))
                else:
                    removed = old_ids - new_ids
                assert not removed or len(removed) <= len(old_ids) * budget / 100, (
                    f"{label} removed {len(removed)} of the {len(old_ids)} rows served (budget {budget} %)"
                )
                recorded = self.recorded_of.get(serving, {})
                # -- skipped unread: the serving rows of a source whose fingerprint (split settings and
                # mtime) is the current one stay as they are (an incremental run without verify_content)
                kept = {
                    s: before[s]
                    for s in split
                    if outcome.kind == "incremental"
                    and not verify
                    and s in before
                    and recorded.get(s) == (self.chunk_size, self.files[s].version)
                }
                read = {s: (self.chunk_size, self.files[s].version) for s in split if s not in kept}
                if kind == "ingest":
                    expected = {**self.expected, **split}
                    now_recorded = {**recorded, **read}
                elif outcome.kind == "incremental":
                    expected = {**{s: ids for s, ids in self.expected.items() if s in bad}, **split, **kept}
                    now_recorded = {**{s: r for s, r in recorded.items() if s in bad or s in kept}, **read}
                else:  # a new build: only what was read (unreadable served sources must refuse it)
                    expected = dict(split)
                    now_recorded = dict(read)
                # -- no chunk of an unlisted source after a reindex of the folder
                if kind != "ingest":
                    unlisted = sorted(set(after) - set(self.files))
                    assert not unlisted, f"{label}: unlisted sources still served: {unlisted}"

            # -- serving == model: each readable listed source is its independent split
            for source in sorted(set(expected) | set(after)):
                assert after.get(source) == expected.get(source), (
                    f"{label}: {source!r} holds {len(after.get(source, ()))} rows, the model "
                    f"{len(expected.get(source, ()))} "
                    f"(missing {len(expected.get(source, set()) - after.get(source, set()))}, "
                    f"extra {len(after.get(source, set()) - expected.get(source, set()))})"
                )

            # the model follows the run
            if kind == "rollback":
                self.previous_of[after_serving] = serving
            elif outcome.swap.get("swapped"):
                previous = outcome.swap.get("previous")
                if serving == self.alias and previous:  # the plain collection was renamed
                    self.model_of[previous] = self.model_of.pop(self.alias, self.expected)
                    self.recorded_of[previous] = self.recorded_of.pop(self.alias, {})
                self.previous_of[after_serving] = previous
            if kind != "rollback":
                self.recorded_of[after_serving] = now_recorded
            self.expected = expected
            self.model_of[after_serving] = expected
            for name in set(self.model_of) - set(everything_after):
                del self.model_of[name]
                self.recorded_of.pop(name, None)

        def everything(self) -> dict[str, dict[str, frozenset[str]]]:
            """Every physical collection of the serving name and its contents (loaded to be read)."""
            return {
                c: ls.by_source(ls.rows_of(self.hook, c, load=True)) for c in ls.collections_of(self.hook, self.alias)
            }

        def teardown(self):
            try:
                ls.drop_serving_name(self.hook, self.alias)
            finally:
                shutil.rmtree(self.home, ignore_errors=True)
                note(f"runs: {self.runs}")
                if os.environ.get("LIFECYCLE_VERBOSE"):
                    print("runs:", self.runs)

    return Lifecycle


def lifecycle_settings() -> settings:
    return settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not RANDOM_SEED,
        database=None,
        print_blob=True,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink, Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


@pytest.mark.timeout(0 if RANDOM_SEED else 1800)  # a failure's shrinking may take minutes (hypothesis stops at 5)
def test_the_lifecycle_keeps_every_promise(lite_hook):
    """Sequences of file changes and runs; after every run the serving collection is what the
    model says (see the module docstring for the rules and invariants)."""
    run_state_machine_as_test(lifecycle_machine(lite_hook), settings=lifecycle_settings())
