"""The generic hook (issue 18, item 5) and common-ai's chunk output (issue 20, item 6), without a
server: one way to read by id, one count query, no toolkit reads in the hook; every operator
closes its client on every path and logs one line saying what it did; ``MilvusIngestOperator``
takes ``LlamaIndexEmbeddingOperator``'s output."""

from __future__ import annotations

import json

import pytest
import structlog

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.operators.milvus import (
    MilvusAliasOperator,
    MilvusCreateCollectionOperator,
    MilvusDropCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)
from tests.provider.unit.test_operators import SCHEMA, fake_hook, rendered

# What common-ai 1.0.0's LlamaIndexEmbeddingOperator.execute returns (read from its source).
EMBEDDED = {
    "document_count": 2,
    "chunk_count": 3,
    "persist_dir": None,
    "chunks": [
        {"text": "The dock blinks red when it is full.", "metadata": {"file": "dock.md"}, "vector": [1.0, 0.0]},
        {"text": "Winter tyres fit the kit.", "metadata": {"file": "tyres.md"}, "vector": [0.0, 1.0]},
        {"text": "Winter tyres fit the kit.", "metadata": {"file": "faq.md"}, "vector": [0.0, 1.0]},
    ],
}


def test_the_hook_has_one_way_to_read_by_id_and_no_toolkit_reads():
    for gone in ("get_rows", "count_by_source", "get_client"):
        assert not hasattr(MilvusHook, gone), f"MilvusHook.{gone} should be gone"
    assert hasattr(MilvusHook, "get") and hasattr(MilvusHook, "query")


class CountingClient:
    """Records every query; answers ids with rows and count(*) with a count."""

    def __init__(self):
        self.queries: list[dict] = []

    def query(self, name, **kwargs):
        self.queries.append(kwargs)
        if kwargs.get("output_fields") == ["count(*)"]:
            return [{"count(*)": 4}]
        return [{"pk": i} for i in kwargs["ids"]]

    def has_collection(self, name):
        return True

    def get_load_state(self, name):
        return {"state": "Loaded"}


@pytest.fixture
def fake_client_hook(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_FAKE", "milvus://root:secret@127.0.0.1:1/default")
    hook = MilvusHook("milvus_fake")
    hook._client = CountingClient()
    return hook


def test_get_reads_in_batches_with_strong_consistency(fake_client_hook):
    ids = [f"id{i}" for i in range(5)]
    assert [row["pk"] for row in fake_client_hook.get("c", ids, output_fields=["pk"], batch_size=2)] == ids
    queries = fake_client_hook._client.queries
    assert [q["ids"] for q in queries] == [["id0", "id1"], ["id2", "id3"], ["id4"]]
    assert {q["consistency_level"] for q in queries} == {"Strong"}
    assert fake_client_hook.get("c", []) == [] and len(queries) == 3, "no ids: no query"


def test_count_and_collection_state_send_the_same_count_query(fake_client_hook):
    assert fake_client_hook.count("c", filter="n > 1") == 4
    state = fake_client_hook.collection_state("c", filter="n > 1")
    assert state["row_count"] == 4
    first, second = fake_client_hook._client.queries
    assert first == second == {"filter": "n > 1", "output_fields": ["count(*)"], "consistency_level": "Strong"}


# ---- one client lifecycle, one log line --------------------------------------------------------------


def test_every_operator_closes_its_client_when_the_call_fails():
    cases = [
        (MilvusIngestOperator, {"collection_name": "c", "data": [{"id": "a", "vector": [1.0]}]}, "aupsert"),
        (MilvusSearchOperator, {"collection_name": "c", "data": [[1.0]]}, "search"),
        (
            MilvusSearchOperator,
            {"collection_name": "c", "data": [[1.0]], "hybrid": True, "texts": ["x"]},
            "hybrid_search",
        ),
        (MilvusCreateCollectionOperator, {"collection_name": "c", "dimension": 2}, "create_collection"),
        (MilvusDropCollectionOperator, {"collection_name": "c"}, "has_collection"),
        (MilvusAliasOperator, {"alias": "a", "collection_name": "c"}, "point_alias"),
    ]
    for op_class, kwargs, call in cases:
        op = rendered(op_class, **kwargs)
        hook = fake_hook(op)
        getattr(hook, call).side_effect = RuntimeError("server gone")
        with pytest.raises(RuntimeError, match="server gone"):
            op.execute(context={})
        hook.close.assert_called_once()


def _one_line(op, **kwargs) -> str:
    """Run ``op`` and return the one info line it logged. Airflow 3.3 logs through structlog
    (printed, not stdlib records: pytest's caplog sees nothing), so structlog's own capture."""
    with structlog.testing.capture_logs() as logs:
        op.execute(context={})
    lines = [e["event"] for e in logs if e["log_level"] == "info"]
    assert len(lines) == 1, lines
    return lines[0]


def test_each_operator_logs_one_line_saying_what_it_did():
    op = rendered(MilvusSearchOperator, collection_name="docs", data=[[1.0, 0.0], [0.0, 1.0]], limit=2)
    fake_hook(op, search=[[{"id": "a", "distance": 0.98}, {"id": "b", "distance": 0.5}], []])
    assert _one_line(op) == "Searched 'docs': 2 queries; #0: 2 hit(s), top 'a' at 0.98; #1: 0 hits"

    op = rendered(MilvusIngestOperator, collection_name="docs", data=[{"id": "a", "vector": [1.0, 0.0]}], dimension=2)
    fake_hook(op, create_collection=True, aupsert=1)
    assert _one_line(op) == (
        "Ingested into 'docs' (upsert): 1 rows written of 1, in 1 batch(es); 0 embedded; collection created"
    )

    op = rendered(MilvusAliasOperator, alias="live", collection_name="docs_v2")
    fake_hook(op, point_alias="docs_v1")
    assert _one_line(op) == "Alias 'live' moved to 'docs_v2' (was on 'docs_v1')"

    op = rendered(MilvusDropCollectionOperator, collection_name="docs")
    fake_hook(op, has_collection=True, drop_collection=["live"])
    assert _one_line(op) == "Dropped collection 'docs' (aliases dropped: ['live'])"

    op = rendered(MilvusCreateCollectionOperator, collection_name="docs", dimension=2)
    fake_hook(op, create_collection=False)
    assert _one_line(op) == "Collection 'docs' already existed (2-dim)"


# ---- common-ai's LlamaIndexEmbeddingOperator output --------------------------------------------------


def test_ingest_takes_the_embedding_operators_chunks_with_stable_ids():
    op = rendered(MilvusIngestOperator, collection_name="c", data=EMBEDDED)
    hook = fake_hook(op, aupsert=3, describe_collection=SCHEMA)
    result = op.execute(context={})
    rows = hook.aupsert.await_args.args[1]
    assert result["rows"] == 3 and result["embedded"] == 0
    assert [(r["text"], r["file"], r["vector"]) for r in rows] == [
        (c["text"], c["metadata"]["file"], c["vector"]) for c in EMBEDDED["chunks"]
    ]
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids), "same text, other metadata: another chunk"

    again = rendered(MilvusIngestOperator, collection_name="c", data=EMBEDDED)
    hook = fake_hook(again, aupsert=3)
    again.execute(context={})
    assert [r["id"] for r in hook.aupsert.await_args.args[1]] == ids, "a rerun upserts the same ids"


def test_a_repeated_chunk_is_written_once_and_a_rendered_output_is_parsed():
    output = {**EMBEDDED, "chunk_count": 4, "chunks": [*EMBEDDED["chunks"], EMBEDDED["chunks"][0]]}
    op = rendered(MilvusIngestOperator, collection_name="c", data=json.dumps(output))
    hook = fake_hook(op, aupsert=3)
    assert op.execute(context={})["rows"] == 3
    assert len(hook.aupsert.await_args.args[1]) == 3


def test_chunks_without_vectors_are_embedded_with_the_operators_embedding():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    output = {**EMBEDDED, "chunks": [{**c, "vector": None} for c in EMBEDDED["chunks"]]}
    op = rendered(MilvusIngestOperator, collection_name="c", data=output, embedding=DeterministicFakeEmbedding(size=2))
    hook = fake_hook(op, aupsert=3)
    assert op.execute(context={})["embedded"] == 3
    assert all(len(r["vector"]) == 2 for r in hook.aupsert.await_args.args[1])


@pytest.mark.parametrize(
    ("output", "match"),
    [
        ({**EMBEDDED, "chunk_count": 7}, r"chunk_count=7 but holds 3 chunks"),
        ({**EMBEDDED, "chunks": "nope"}, r"'chunks' of the embedding output is a str"),
        (
            {**EMBEDDED, "chunk_count": 1, "chunks": [{"metadata": {}}]},
            r"data\['chunks'\]\[0\]: a chunk must be an object with a 'text'",
        ),
        (
            {**EMBEDDED, "chunk_count": 1, "chunks": [{"text": "t", "metadata": {"id": "x"}, "vector": [1.0, 0.0]}]},
            r"data\['chunks'\]\[0\]: metadata key\(s\) \['id'\] would overwrite",
        ),
    ],
)
def test_a_bad_embedding_output_is_refused_before_any_call(output, match):
    op = rendered(MilvusIngestOperator, collection_name="c", data=output)
    hook = fake_hook(op)
    with pytest.raises(ValueError, match=match):
        op.execute(context={})
    hook.aupsert.assert_not_called()
