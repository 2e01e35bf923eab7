"""Loading, splitting and the diff in shards (issue 19, item 3): the split is mapped over
shards of sources, the ids are staged in parts, and planning deletes reads only the rows of the
sources a run read or lost, never the whole collection. Against an in-memory stand-in for the
hook that records what was read."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from milvus_toolkit import sync
from milvus_toolkit.ingest import pipeline
from milvus_toolkit.ingest.documents import Corpus, discover
from milvus_toolkit.ingest.params import parse_params
from milvus_toolkit.ingest.staging import IdsWriter, read_batch_file, read_json, read_new_ids, run_folder
from milvus_toolkit.sync import Scope


class RecordingHook:
    """The hook's read methods over rows in memory; ``reads`` lists (filter, sources) per read."""

    def __init__(self, rows: list[dict] | None = None, *, exists: bool = True):
        self.rows, self.exists = rows or [], exists
        self.reads: list[tuple[str, list[str] | None]] = []

    def has_collection(self, name):
        return self.exists

    def describe_alias(self, name):
        return None

    def collection_properties(self, name):
        return {}

    def _match(self, filter, filter_params):
        sources = (filter_params or {}).get("sources")
        tenant = re.search(r'tenant == "([^"]+)"', filter or "")
        return [
            row
            for row in self.rows
            if (sources is None or row["source"] in sources) and (not tenant or row.get("tenant") == tenant.group(1))
        ]

    def iter_rows(self, name, fields, *, filter="", batch_size=5000, filter_params=None):
        self.reads.append((filter, (filter_params or {}).get("sources")))
        rows = self._match(filter, filter_params)
        for start in range(0, len(rows), batch_size):
            yield [{f: row.get(f) for f in ["pk", *fields]} for row in rows[start : start + batch_size]]

    def count(self, name, filter="", *, filter_params=None):
        return len(self._match(filter, filter_params))


def chunk_rows(source: str, n: int, stamp: float = 1.0) -> list[dict]:
    return [{"pk": f"{source}#{i}", "source": source, "run_stamp": stamp} for i in range(n)]


def test_planning_deletes_reads_only_the_rows_of_sources_read_or_lost():
    """1,000 sources of 5 rows; the run read two (one now splits into 3 of its old ids, one is
    unchanged in ids) and its listing lost one: exactly those rows are read and judged."""
    rows = [row for i in range(1000) for row in chunk_rows(f"docs/{i:04d}.md", 5)]
    hook = RecordingHook(rows)
    census = {f"docs/{i:04d}.md": 5 for i in range(1000)}
    listed_unchanged = [f"docs/{i:04d}.md" for i in range(3, 1000)]
    scope = Scope(loaded=["docs/0000.md", "docs/0001.md"], unchanged=listed_unchanged, listed_prefix="docs")
    new_ids = [
        {
            "docs/0000.md": {f"docs/0000.md#{i}" for i in range(3)},
            "docs/0001.md": {f"docs/0001.md#{i}" for i in range(5)},
        }
    ]

    plan = sync.plan_deletes(hook, "c", iter(new_ids), scope, run_stamp=2.0, max_percent=50, census=census)

    assert sorted(plan.ids) == ["docs/0000.md#3", "docs/0000.md#4", *[f"docs/0002.md#{i}" for i in range(5)]]
    read_sources = {source for _, sources in hook.reads for source in sources or ["<every source>"]}
    assert read_sources == {"docs/0000.md", "docs/0001.md", "docs/0002.md"}, "no read of the 997 others"


def test_without_a_census_the_one_full_read_is_the_census_itself():
    hook = RecordingHook(chunk_rows("a.md", 2) + chunk_rows("b.md", 2))
    scope = Scope(loaded=["a.md"], listed_prefix="")
    plan = sync.plan_deletes(hook, "c", iter([{"a.md": {"a.md#0"}}]), scope, run_stamp=2.0, max_percent=100)
    assert sorted(plan.ids) == ["a.md#1", "b.md#0", "b.md#1"]
    assert [sources for _, sources in hook.reads] == [None, ["a.md"], ["b.md"]]


def test_a_lost_source_of_another_tenant_or_a_later_run_is_never_judged_gone():
    rows = [{**row, "tenant": "acme"} for row in chunk_rows("a.md", 2)]
    rows += [{**row, "tenant": "acme"} for row in chunk_rows("late.md", 2, stamp=9.0)]
    rows += [{**row, "tenant": "globex"} for row in chunk_rows("b.md", 2)]
    hook = RecordingHook(rows)
    scope = Scope(loaded=[], listed_prefix="", tenant="acme")
    plan = sync.plan_deletes(
        hook, "c", iter([]), scope, run_stamp=2.0, max_percent=100, census={"a.md": 2, "late.md": 2}
    )
    assert sorted(plan.ids) == ["a.md#0", "a.md#1"], "late.md was written after this run started"


def test_ids_are_staged_in_parts_that_never_split_a_source(tmp_path):
    writer = IdsWriter(tmp_path, part_size=4)
    for name, n in [("a", 3), ("b", 3), ("empty", 0), ("c", 1), ("d", 9)]:
        writer.add(name, [f"{name}{i}" for i in range(n)])
    writer.flush()
    parts = list(read_new_ids(writer.parts))
    assert [sorted(part) for part in parts] == [["a", "b"], ["c", "d", "empty"]]
    assert parts[1]["empty"] == set() and len(parts[1]["d"]) == 9


@pytest.fixture
def staging(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_STAGING", str(tmp_path / "staging"))
    return tmp_path / "staging"


def params(folder, **extra):
    return parse_params(
        {"source": str(folder), "collection": "docs", "embedding": "deterministic", "chunk_size": 200, **extra}
    )


def test_a_sharded_split_stages_exactly_what_one_shard_does(tmp_path, staging):
    folder = tmp_path / "corpus"
    for i in range(7):
        (folder / f"part{i % 2}").mkdir(parents=True, exist_ok=True)
        (folder / f"part{i % 2}" / f"doc{i}.md").write_text(f"# Doc {i}\n\n" + f"Sentence {i} about Milvus. " * 40)
    hook = RecordingHook(exists=False)

    def staged(files_per_shard: int, name: str):
        manifest = pipeline.split_corpus(params(folder, files_per_shard=files_per_shard), hook, run_folder("t", name))
        chunks = [(c.id, c.page_content) for b in manifest.batches for c in read_batch_file(b.path)]
        ids = {s: sorted(i) for part in read_new_ids(manifest.new_ids_parts) for s, i in part.items()}
        return manifest, chunks, ids

    one, one_chunks, one_ids = staged(1000, "one")
    three, three_chunks, three_ids = staged(3, "three")
    assert len(read_json(f"{one.run_folder}/shard-00000.json")["corpus"]["files"]) == 7
    assert [len(read_json(f"{three.run_folder}/shard-{i:05d}.json")["corpus"]["files"]) for i in range(3)] == [3, 3, 1]
    assert three_chunks == one_chunks and three_ids == one_ids and len(one_ids) == 7
    assert [b.index for b in three.batches] == list(range(len(three.batches)))
    assert three.record().expected_counts == one.record().expected_counts
    assert three.scope == one.scope and three.files_loaded == one.files_loaded == 7
    assert three.record().smoke_chunk == one.record().smoke_chunk, "the run's first chunk, in batch 0"
    assert three.batches[0].first_source == "part0/doc0.md"


def test_two_files_of_one_name_in_nfc_stay_in_one_shard_and_are_both_refused(tmp_path, staging):
    folder = tmp_path / "corpus"
    folder.mkdir()
    name = "café.md"
    (folder / "a.md").write_text("Alpha text about vectors. " * 20)
    (folder / unicodedata.normalize("NFC", name)).write_text("one spelling " * 20)
    (folder / unicodedata.normalize("NFD", name)).write_text("other spelling " * 20)
    manifest = pipeline.split_corpus(
        params(folder, files_per_shard=1), RecordingHook(exists=False), run_folder("t", "n")
    )
    assert manifest.scope.failed == [name, name] and manifest.scope.loaded == ["a.md"]


def test_a_shard_of_a_corpus_rebuilds_the_same_files_and_listing(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.md", "sub/b.md", "sub/c.md"):
        (folder / name).write_text(name)
    corpus = discover(str(folder))
    staged = json.loads(json.dumps(corpus.shard(corpus.files[1:])))
    rebuilt = Corpus.from_shard(staged)
    assert [rebuilt.relative(p) for p in rebuilt.files] == ["sub/b.md", "sub/c.md"]
    assert [p.read_text() for p in rebuilt.files] == ["sub/b.md", "sub/c.md"]
