"""The generic hook (issue 18, item 5) and common-ai 1.0.0 interop (issue 20, item 6) against
the real servers of the test session: Milvus 2.3.5 and Milvus Lite 3.2.2 (``server_hook``),
Lite alone where a Milvus 2.5 feature is the point (BM25, hybrid search)."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from langchain_core.embeddings import DeterministicFakeEmbedding

from milvus_provider.hooks.milvus import MilvusHook, UnsupportedFeatureError
from milvus_provider.operators.milvus import MilvusIngestOperator, MilvusSearchOperator

pytestmark = pytest.mark.integration

LITE_ONLY = pytest.mark.parametrize("server_conn_id", ["milvus-lite"], indirect=True)
DOCS = {
    "dock": "The charging dock blinks red when the battery is full",
    "tyres": "Winter tyres fit the all-terrain kit",
    "pump": "The greenhouse pump runs every morning at six",
}


def _hybrid_collection(hook: MilvusHook, name: str) -> None:
    hook.create_collection(name, 3, varchar_fields={"text": 500}, bm25_input_field="text")
    vectors = {"dock": [1.0, 0.0, 0.0], "tyres": [0.0, 1.0, 0.0], "pump": [0.0, 0.0, 1.0]}
    hook.upsert(name, [{"id": key, "text": DOCS[key], "vector": vectors[key]} for key in DOCS])


@LITE_ONLY
def test_ahybrid_search_answers_like_hybrid_search_on_milvus_lite(server_hook, collection_name):
    hook = server_hook
    _hybrid_collection(hook, collection_name)
    for ranker, params in (("rrf", {"k": 60}), ("weighted", {"weights": [0.2, 0.8]})):
        kwargs = dict(limit=2, ranker=ranker, ranker_params=params, output_fields=["text"], consistency_level="Strong")
        queries, texts = [[0.0, 0.0, 1.0], [0.1, 0.9, 0.0]], ["greenhouse pump", "winter tyres"]
        sync_hits = hook.hybrid_search(collection_name, queries, texts, **kwargs)
        async_hits = asyncio.run(hook.ahybrid_search(collection_name, queries, texts, **kwargs))
        assert [[h["id"] for h in q] for q in async_hits] == [[h["id"] for h in q] for q in sync_hits]
        assert [q[0]["id"] for q in async_hits] == ["pump", "tyres"], ranker
        assert async_hits[1][0]["text"] == DOCS["tyres"]


def test_ahybrid_search_is_refused_on_milvus_2_3_before_any_request(hook, collection_name):
    hook.create_collection(collection_name, 3)
    with pytest.raises(UnsupportedFeatureError, match="hybrid_search|bm25"):
        asyncio.run(hook.ahybrid_search(collection_name, [[1.0, 0.0, 0.0]], ["pump"], limit=1))


def test_get_reads_every_id_in_batches_on_both_servers(server_hook, collection_name):
    hook = server_hook
    hook.create_collection(collection_name, 2)
    hook.upsert(collection_name, [{"id": f"r{i:02d}", "vector": [1.0, float(i)], "n": i} for i in range(7)])
    ids = [f"r{i:02d}" for i in range(7)] + ["missing"]
    rows = hook.get(collection_name, ids, output_fields=["n"], batch_size=3)
    assert sorted((row["id"], row["n"]) for row in rows) == [(f"r{i:02d}", i) for i in range(7)]
    arows = asyncio.run(hook.aget(collection_name, ids, output_fields=["n"], batch_size=3))
    assert sorted(row["id"] for row in arows) == [f"r{i:02d}" for i in range(7)]


def test_search_text_embeds_the_query_on_both_servers(server_hook, collection_name):
    hook = server_hook
    embedding = DeterministicFakeEmbedding(size=8)
    texts = list(DOCS.values())
    hook.create_collection(collection_name, 8)
    hook.upsert(
        collection_name,
        [{"id": key, "text": text, "vector": embedding.embed_query(text)} for key, text in DOCS.items()],
    )
    hits = hook.search_text(
        collection_name, texts[1], embedding=embedding, limit=2, output_fields=["text"], consistency_level="Strong"
    )
    assert hits[0]["id"] == "tyres" and hits[0]["text"] == texts[1] and len(hits) == 2
    with pytest.raises(ValueError, match="needs an embedding, or anns_field"):
        hook.search_text(collection_name, "tyres")


@LITE_ONLY
def test_search_text_without_embedding_is_a_bm25_keyword_search_on_milvus_lite(server_hook, collection_name):
    _hybrid_collection(server_hook, collection_name)
    hits = server_hook.search_text(collection_name, "greenhouse", anns_field="sparse", consistency_level="Strong")
    assert [hit["id"] for hit in hits] == ["pump"]


# ---- the operators' one log line, on the real servers ---------------------------------------------------


def _info_lines(op) -> list[str]:
    with structlog.testing.capture_logs() as logs:
        result = op.execute(context={})
    return result, [e["event"] for e in logs if e["log_level"] == "info"]


def test_ingest_and_search_log_what_they_did(server_conn_id, collection_name):
    result, lines = _info_lines(
        MilvusIngestOperator(
            task_id="ingest",
            collection_name=collection_name,
            data=[{"id": "a", "vector": [1.0, 0.0]}, {"id": "b", "vector": [0.0, 1.0]}],
            dimension=2,
            milvus_conn_id=server_conn_id,
        )
    )
    assert result["written"] == 2
    assert lines[-1] == (
        f"Ingested into '{collection_name}' (upsert): 2 rows written of 2, in 1 batch(es); 0 embedded; "
        "collection created"
    )
    hits, lines = _info_lines(
        MilvusSearchOperator(
            task_id="search",
            collection_name=collection_name,
            data=[[0.9, 0.1], [0.1, 0.9]],
            limit=1,
            milvus_conn_id=server_conn_id,
        )
    )
    assert lines == [
        f"Searched '{collection_name}': 2 queries; "
        f"#0: 1 hit(s), top 'a' at {hits[0][0]['distance']}; #1: 1 hit(s), top 'b' at {hits[1][0]['distance']}"
    ]


def test_create_alias_and_drop_log_what_they_did(server_hook, server_conn_id, collection_name):
    from milvus_provider.operators.milvus import (
        MilvusAliasOperator,
        MilvusCreateCollectionOperator,
        MilvusDropCollectionOperator,
    )

    alias, other = f"{collection_name}_live", f"{collection_name}_b"
    try:
        for name in (collection_name, other):
            made, lines = _info_lines(
                MilvusCreateCollectionOperator(
                    task_id="create", collection_name=name, dimension=3, milvus_conn_id=server_conn_id
                )
            )
            assert made["created"] and lines[-1] == f"Collection '{name}' created (3-dim)"
        _, lines = _info_lines(
            MilvusAliasOperator(
                task_id="a", alias=alias, collection_name=collection_name, milvus_conn_id=server_conn_id
            )
        )
        assert lines == [f"Alias '{alias}' created for '{collection_name}'"]
        _, lines = _info_lines(
            MilvusAliasOperator(task_id="a", alias=alias, collection_name=other, milvus_conn_id=server_conn_id)
        )
        assert lines == [f"Alias '{alias}' moved to '{other}' (was on '{collection_name}')"]
        dropped, lines = _info_lines(
            MilvusDropCollectionOperator(task_id="d", collection_name=other, milvus_conn_id=server_conn_id)
        )
        assert dropped["aliases_dropped"] == [alias]
        assert lines == [f"Dropped collection '{other}' (aliases dropped: ['{alias}'])"]
    finally:
        if server_hook.describe_alias(alias):
            server_hook.drop_alias(alias)
        if server_hook.has_collection(other):
            server_hook.drop_collection(other)


# ---- common-ai 1.0.0 -------------------------------------------------------------------------------------


def test_ingest_writes_the_llamaindex_embedding_operators_output(server_hook, server_conn_id, collection_name):
    """The output of common-ai's real ``LlamaIndexEmbeddingOperator`` (LlamaIndex's splitter and
    a local mock embedding: nothing downloaded) goes into Milvus as it is, twice: same ids."""
    from airflow.providers.common.ai.operators.llamaindex_embedding import LlamaIndexEmbeddingOperator
    from llama_index.core.embeddings import MockEmbedding

    output = LlamaIndexEmbeddingOperator(
        task_id="embed",
        documents=[
            {"text": DOCS["dock"], "metadata": {"file": "dock.md"}},
            {"text": DOCS["pump"], "metadata": {"file": "pump.md"}},
        ],
        embed_model=MockEmbedding(embed_dim=4),
    ).execute(context={})
    assert output["chunk_count"] == 2 and set(output["chunks"][0]) == {"text", "metadata", "vector"}

    def ingest():
        return MilvusIngestOperator(
            task_id="ingest", collection_name=collection_name, data=output, dimension=4, milvus_conn_id=server_conn_id
        ).execute(context={})

    assert ingest()["written"] == 2
    assert ingest()["written"] == 2
    assert server_hook.count(collection_name) == 2, "a rerun replaced the chunks (same ids), added nothing"
    rows = server_hook.query(collection_name, output_fields=["text", "file"], limit=10)
    assert sorted((row["file"], row["text"]) for row in rows) == [("dock.md", DOCS["dock"]), ("pump.md", DOCS["pump"])]


def _toolsets(conn_id: str, collection: str, embedding) -> list:
    """``search`` (vectors) and ``search_text`` (a question, embedded by the pinned embedding),
    each pinned to one collection; two toolsets because ``search`` takes no embedding."""
    from airflow.providers.common.ai.toolsets import HookToolset

    pins = {"collection_name": collection, "output_fields": ["text"], "consistency_level": "Strong"}
    return [
        HookToolset(MilvusHook(conn_id), allowed_methods=["search"], pinned_arguments=pins, tool_prefix="milvus"),
        HookToolset(
            MilvusHook(conn_id),
            allowed_methods=["search_text"],
            pinned_arguments={**pins, "embedding": embedding},
            tool_prefix="milvus",
        ),
    ]


def test_an_agent_lists_the_milvus_search_tools_and_answers_from_their_hits(
    server_hook, server_conn_id, collection_name
):
    """A pydantic-ai agent with common-ai's ``HookToolset`` over ``MilvusHook``: the model (a
    ``FunctionModel``: scripted, offline) sees both search tools without the pinned arguments,
    asks Milvus the user's question, and answers with the text of the hit Milvus returned."""
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    embedding = DeterministicFakeEmbedding(size=8)
    server_hook.create_collection(collection_name, 8)
    server_hook.upsert(
        collection_name, [{"id": k, "text": t, "vector": embedding.embed_query(t)} for k, t in DOCS.items()]
    )
    seen: dict[str, object] = {}

    def model(messages, info: AgentInfo) -> ModelResponse:
        seen["tools"] = {tool.name: sorted(tool.parameters_json_schema["properties"]) for tool in info.function_tools}
        returns = {
            p.tool_name: p.content for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)
        }
        if not returns:
            question = messages[0].parts[-1].content
            return ModelResponse(
                parts=[
                    ToolCallPart("milvus_search_text", {"query": question, "limit": 1}),
                    ToolCallPart("milvus_search", {"data": [embedding.embed_query(DOCS["pump"])], "limit": 1}),
                ]
            )
        seen["returns"] = returns
        return ModelResponse(parts=[TextPart(returns["milvus_search_text"])])

    agent = Agent(FunctionModel(model), toolsets=_toolsets(server_conn_id, collection_name, embedding))
    answer = agent.run_sync(DOCS["tyres"]).output
    tools = seen["tools"]
    assert sorted(tools) == ["milvus_search", "milvus_search_text"]
    for pinned in ("collection_name", "output_fields", "consistency_level", "embedding"):
        assert pinned not in tools["milvus_search_text"] and pinned not in tools["milvus_search"]
    assert "query" in tools["milvus_search_text"] and "data" in tools["milvus_search"]
    assert '"id":"tyres"' in answer.replace(" ", "") and DOCS["tyres"] in answer
    assert '"id":"pump"' in seen["returns"]["milvus_search"].replace(" ", "")
