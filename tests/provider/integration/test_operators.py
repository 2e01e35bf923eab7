"""The operators against the real Milvus servers that the test session started, each test on
both (``server_conn_id``: ``milvus_default``, the 2.3.5 server, and ``milvus_lite``, Milvus
Lite 3.2.2; ``server_hook`` is a hook on the same server for the checks)."""

from __future__ import annotations

import pytest

from milvus_provider.hooks.milvus import DimensionMismatchError
from milvus_provider.operators.milvus import (
    MilvusAliasOperator,
    MilvusCreateCollectionOperator,
    MilvusDropCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)

pytestmark = pytest.mark.integration


def test_ingest_two_rows_with_dimension_then_search_returns_the_nearest_first(
    server_hook, server_conn_id, collection_name
):
    hook = server_hook
    ingest = MilvusIngestOperator(
        task_id="ingest",
        collection_name=collection_name,
        data=[
            {"id": "a", "vector": [1.0, 0.0, 0.0, 0.0], "text": "alpha"},
            {"id": "b", "vector": [0.0, 1.0, 0.0, 0.0], "text": "beta"},
        ],
        dimension=4,
        milvus_conn_id=server_conn_id,
    )
    assert ingest.execute(context={}) == {
        "collection_name": collection_name,
        "mode": "upsert",
        "rows": 2,
        "written": 2,
        "embedded": 0,
        "batches": 1,
        "created_collection": True,
    }
    search = MilvusSearchOperator(
        task_id="search",
        collection_name=collection_name,
        data=[[0.1, 0.9, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0]],
        limit=2,
        output_fields=["text"],
        milvus_conn_id=server_conn_id,
    )
    hits = search.execute(context={})
    assert [[hit["id"] for hit in per_query] for per_query in hits] == [["b", "a"], ["a", "b"]]
    assert hits[0][0]["text"] == "beta" and hits[0][0]["distance"] > hits[0][1]["distance"]
    info = hook.describe_collection(collection_name)
    fields = {f["name"]: f for f in info["fields"]}
    assert fields["id"]["is_primary"] and fields["id"]["type"].name == "VARCHAR"
    assert info["enable_dynamic_field"] is True


def test_ingest_integer_ids_in_insert_mode_with_several_batches_in_flight(server_hook, server_conn_id, collection_name):
    hook = server_hook
    rows = [{"id": i, "vector": [float(i), 1.0, 0.0], "n": i} for i in range(1, 26)]
    result = MilvusIngestOperator(
        milvus_conn_id=server_conn_id,
        task_id="ingest",
        collection_name=collection_name,
        data=rows,
        dimension=3,
        mode="insert",
        batch_size=4,
        max_concurrency=3,
    ).execute(context={})
    assert result["written"] == 25 and result["batches"] == 7
    assert hook.count(collection_name) == 25
    assert hook.count(collection_name, filter="n > 20") == 5, "metadata lands in the dynamic field"
    fields = {f["name"]: f for f in hook.describe_collection(collection_name)["fields"]}
    assert fields["id"]["type"].name == "INT64"


def test_ingest_embeds_texts_and_a_text_search_finds_them(server_conn_id, collection_name):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    embedding = DeterministicFakeEmbedding(size=8)
    texts = ["the dock blinks red", "tyres for winter", "battery range in cold weather"]
    rows = [{"id": f"t{i}", "text": text} for i, text in enumerate(texts)]
    result = MilvusIngestOperator(
        milvus_conn_id=server_conn_id,
        task_id="ingest",
        collection_name=collection_name,
        data=rows,
        dimension=8,
        embedding=embedding,
    ).execute(context={})
    assert result["embedded"] == 3
    hits = MilvusSearchOperator(
        milvus_conn_id=server_conn_id,
        task_id="search",
        collection_name=collection_name,
        data=["tyres for winter"],
        embedding=embedding,
        limit=1,
    ).execute(context={})
    assert hits[0][0]["id"] == "t1"


def test_create_collection_is_idempotent_and_refuses_another_dimension(server_hook, server_conn_id, collection_name):
    hook = server_hook

    def create(dimension, **kwargs):
        return MilvusCreateCollectionOperator(
            milvus_conn_id=server_conn_id,
            task_id="create",
            collection_name=collection_name,
            dimension=dimension,
            **kwargs,
        ).execute(context={})

    first = create(
        6,
        index_type="HNSW",
        index_params={"M": 8, "efConstruction": 32},
        metric_type="L2",
        properties={"owner": "provider-tests"},
        description="created by a test",
    )
    assert first == {"collection_name": collection_name, "dimension": 6, "created": True, "hybrid": False}
    assert create(6) == {"collection_name": collection_name, "dimension": 6, "created": False, "hybrid": False}
    with pytest.raises(DimensionMismatchError, match="6-dim"):
        create(8)
    assert hook.collection_dim(collection_name) == 6, "nothing was changed"
    assert hook.collection_properties(collection_name)["owner"] == "provider-tests"
    index = hook.get_conn().describe_index(collection_name, "vector")
    assert index["index_type"] == "HNSW" and index["metric_type"] == "L2"
    if server_conn_id != "milvus_lite":  # Milvus Lite 3.2.2 keeps no collection description (raw pymilvus too)
        assert hook.describe_collection(collection_name)["description"] == "created by a test"


def test_alias_is_created_then_moved_and_drop_removes_the_aliases_too(server_hook, server_conn_id, collection_name):
    hook = server_hook
    other = f"{collection_name}_b"
    alias = f"{collection_name}_live"
    try:
        for name, vector in ((collection_name, [1.0, 0.0]), (other, [0.0, 1.0])):
            MilvusIngestOperator(
                milvus_conn_id=server_conn_id,
                task_id="ingest",
                collection_name=name,
                data=[{"id": name, "vector": vector}],
                dimension=2,
            ).execute(context={})
        point = MilvusAliasOperator(
            milvus_conn_id=server_conn_id, task_id="alias", alias=alias, collection_name=collection_name
        )
        assert point.execute(context={}) == {"alias": alias, "collection_name": collection_name, "previous": None}
        search = MilvusSearchOperator(
            milvus_conn_id=server_conn_id, task_id="search", collection_name=alias, data=[[0.5, 0.5]], limit=5
        )
        assert [h["id"] for h in search.execute(context={})[0]] == [collection_name]

        moved = MilvusAliasOperator(
            milvus_conn_id=server_conn_id, task_id="alias", alias=alias, collection_name=other
        ).execute(context={})
        assert moved["previous"] == collection_name
        assert hook.describe_alias(alias) == other
        assert [h["id"] for h in search.execute(context={})[0]] == [other], "the alias serves the new collection"

        dropped = MilvusDropCollectionOperator(
            milvus_conn_id=server_conn_id, task_id="drop", collection_name=other
        ).execute(context={})
        assert dropped == {"collection_name": other, "dropped": True, "aliases_dropped": [alias]}
        assert not hook.has_collection(other) and hook.describe_alias(alias) is None
        again = MilvusDropCollectionOperator(
            milvus_conn_id=server_conn_id, task_id="drop", collection_name=other
        ).execute(context={})
        assert again["dropped"] is False
    finally:
        if hook.describe_alias(alias):
            hook.drop_alias(alias)
        if hook.has_collection(other):
            hook.drop_collection(other)
