"""Each operator's execute calls the right MilvusHook method with its rendered (Jinja)
arguments, and returns JSON-safe results (a fake hook: no server)."""

from __future__ import annotations

import json
from datetime import datetime
from unittest.mock import Mock

import pytest
from airflow.sdk import DAG
from langchain_core.embeddings import DeterministicFakeEmbedding

from milvus_provider.hooks.milvus import MilvusHook
from milvus_provider.operators.milvus import (
    MilvusAliasOperator,
    MilvusCollectionSensor,
    MilvusCreateCollectionOperator,
    MilvusDropCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)

CONTEXT = {"params": {"collection": "docs", "dim": 4, "batch": 2, "k": 3, "kind": "faq"}, "ds_nodash": "20250101"}
ROWS = [
    {"id": "a", "vector": [1.0, 0.0, 0.0, 0.0], "text": "alpha {{ params.kind }}", "kind": "faq"},
    {"id": "b", "vector": [0.0, 1.0, 0.0, 0.0], "text": "beta", "kind": "faq"},
    {"id": "c", "vector": [0.0, 0.0, 1.0, 0.0], "text": "gamma", "kind": "note"},
]

# describe_collection of a collection made by MilvusHook.create_collection (dynamic fields on)
SCHEMA = {
    "fields": [
        {"name": "id", "type": "VARCHAR", "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 4}},
    ],
    "enable_dynamic_field": True,
}


def rendered(op_class, **kwargs):
    """An operator in a DAG, its template fields rendered as a task run would."""
    with DAG("unit_dag", schedule=None, start_date=datetime(2025, 1, 1)):
        op = op_class(task_id="op", **kwargs)
    op.render_template_fields(CONTEXT)
    return op


def fake_hook(op, **returns) -> Mock:
    hook = Mock(spec=MilvusHook)
    hook.describe_alias.return_value = None  # names are collections unless a test says otherwise
    hook.describe_collection.return_value = SCHEMA
    for name, value in returns.items():
        getattr(hook, name).return_value = value
    op.hook = hook
    return hook


# ---- ingest --------------------------------------------------------------------------------------


def test_ingest_creates_the_collection_then_upserts_with_the_async_client():
    op = rendered(
        MilvusIngestOperator,
        collection_name="{{ params.collection }}_{{ ds_nodash }}",
        data=ROWS,
        dimension="{{ params.dim }}",
        batch_size="{{ params.batch }}",
        max_concurrency=3,
    )
    hook = fake_hook(op, create_collection=True, aupsert=3)
    result = op.execute(context={})

    hook.create_collection.assert_called_once_with(
        "docs_20250101",
        4,
        primary_field_type="VARCHAR",
        primary_field="id",
        vector_field="vector",
        metric_type="COSINE",
        index_type="AUTOINDEX",
        index_params=None,
    )
    hook.aupsert.assert_awaited_once()
    (name, rows), kwargs = hook.aupsert.await_args
    assert name == "docs_20250101"
    assert kwargs == {"batch_size": 2, "max_concurrency": 3, "partition_name": None}
    assert [r["id"] for r in rows] == ["a", "b", "c"] and rows[0]["text"] == "alpha faq", "data is templated"
    hook.ainsert.assert_not_called()
    assert result == {
        "collection_name": "docs_20250101",
        "mode": "upsert",
        "rows": 3,
        "written": 3,
        "embedded": 0,
        "batches": 2,
        "created_collection": True,
    }
    assert "vector" not in json.dumps(result), "counts only, never rows, go to XCom"
    hook.close.assert_called_once()


def test_ingest_insert_mode_integer_ids_and_no_dimension():
    rows = [{"id": 1, "vector": [0.1, 0.2]}, {"id": 2, "vector": [0.3, 0.4]}]
    op = rendered(MilvusIngestOperator, collection_name="c", data=rows, mode="insert", dimension=2)
    hook = fake_hook(op, create_collection=False, ainsert=2)
    result = op.execute(context={})
    assert hook.create_collection.call_args.kwargs["primary_field_type"] == "INT64", "id type follows the data"
    hook.ainsert.assert_awaited_once()
    hook.aupsert.assert_not_called()
    assert result["mode"] == "insert" and result["written"] == 2 and result["created_collection"] is False

    op = rendered(MilvusIngestOperator, collection_name="c", data=rows)
    hook = fake_hook(op, aupsert=2)
    op.execute(context={})
    hook.create_collection.assert_not_called()  # without dimension the collection must exist already


def test_ingest_embeds_the_texts_of_rows_without_vectors():
    embedding = DeterministicFakeEmbedding(size=4)
    data = [{"id": "t1", "text": "first text"}, {"id": "t2", "text": "second text"}, ROWS[2]]
    op = rendered(MilvusIngestOperator, collection_name="c", data=data, embedding=embedding, dimension=4)
    hook = fake_hook(op, create_collection=False, aupsert=3)
    result = op.execute(context={})
    rows = hook.aupsert.await_args.args[1]
    assert rows[0]["vector"] == embedding.embed_documents(["first text"])[0]
    assert rows[1]["vector"] == embedding.embed_documents(["second text"])[0]
    assert rows[2]["vector"] == ROWS[2]["vector"], "given vectors are kept"
    assert result["embedded"] == 2


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ([{"id": "t1", "text": "no vector, no embedding"}], {}, "embedding="),
        ([{"id": "a", "vector": [1.0, 0.0]}], {"dimension": 4}, "2-dim"),
        ([{"vector": [1.0, 0.0, 0.0, 0.0]}], {"dimension": 4}, "primary key"),
        (
            [{"id": 1, "vector": [1.0] * 4}, {"id": "x", "vector": [1.0] * 4}],
            {"dimension": 4},
            "mix integer and string",
        ),
        (ROWS, {"mode": "replace"}, "upsert' or 'insert"),
    ],
)
def test_ingest_refuses_bad_input_before_touching_milvus(data, kwargs, message):
    op = rendered(MilvusIngestOperator, collection_name="c", data=data, **kwargs)
    hook = fake_hook(op)
    with pytest.raises(ValueError, match=message):
        op.execute(context={})
    hook.create_collection.assert_not_called()
    hook.aupsert.assert_not_called()
    hook.ainsert.assert_not_called()


def test_ingest_accepts_rows_rendered_as_json_text():
    op = rendered(MilvusIngestOperator, collection_name="c", data=json.dumps(ROWS[:2]))
    hook = fake_hook(op, aupsert=2)
    assert op.execute(context={})["rows"] == 2
    assert hook.aupsert.await_args.args[1][1]["id"] == "b"


# ---- search --------------------------------------------------------------------------------------


def test_search_passes_rendered_arguments_to_hook_search_and_returns_its_hits():
    op = rendered(
        MilvusSearchOperator,
        collection_name="{{ params.collection }}",
        data=[[0.9, 0.1, 0.0, 0.0]],
        limit="{{ params.k }}",
        filter='kind == "{{ params.kind }}"',
        output_fields=["text"],
        search_params={"params": {"ef": 32}},
    )
    hits = [[{"id": "a", "distance": 0.99, "text": "alpha"}]]
    hook = fake_hook(op, search=hits)
    assert op.execute(context={}) == hits
    hook.search.assert_called_once_with(
        collection_name="docs",
        data=[[0.9, 0.1, 0.0, 0.0]],
        limit=3,
        filter='kind == "faq"',
        output_fields=["text"],
        search_params={"params": {"ef": 32}},
        anns_field=None,
        partition_names=None,
        consistency_level="Strong",
    )


def test_search_embeds_query_texts_and_wraps_a_single_vector():
    embedding = DeterministicFakeEmbedding(size=4)
    op = rendered(MilvusSearchOperator, collection_name="c", data=["where is alpha?"], embedding=embedding, limit=1)
    hook = fake_hook(op, search=[[]])
    op.execute(context={})
    assert hook.search.call_args.kwargs["data"] == [embedding.embed_query("where is alpha?")]

    op = rendered(MilvusSearchOperator, collection_name="c", data=[0.1, 0.2, 0.3, 0.4], consistency_level=None)
    hook = fake_hook(op, search=[[]])
    op.execute(context={})
    assert hook.search.call_args.kwargs["data"] == [[0.1, 0.2, 0.3, 0.4]]
    assert hook.search.call_args.kwargs["consistency_level"] is None


def test_search_texts_without_an_embedding_are_refused():
    op = rendered(MilvusSearchOperator, collection_name="c", data=["a question"])
    hook = fake_hook(op)
    with pytest.raises(ValueError, match="embedding="):
        op.execute(context={})
    hook.search.assert_not_called()


# ---- collections and aliases -------------------------------------------------------------------------


def test_create_collection_calls_hook_create_collection_with_rendered_arguments():
    op = rendered(
        MilvusCreateCollectionOperator,
        collection_name="{{ params.collection }}",
        dimension="{{ params.dim }}",
        primary_field_type="INT64",
        metric_type="L2",
        index_type="HNSW",
        index_params={"M": 8},
        properties={"collection.ttl.seconds": 3600},
        description="for {{ params.kind }}",
    )
    hook = fake_hook(op, create_collection=True)
    assert op.execute(context={}) == {"collection_name": "docs", "dimension": 4, "created": True, "hybrid": False}
    hook.create_collection.assert_called_once_with(
        "docs",
        4,
        primary_field_type="INT64",
        primary_field="id",
        vector_field="vector",
        id_max_length=512,
        metric_type="L2",
        index_type="HNSW",
        index_params={"M": 8},
        enable_dynamic_field=True,
        description="for faq",
        properties={"collection.ttl.seconds": 3600},
        consistency_level=None,
        load=True,
        varchar_fields=None,
        bm25_input_field=None,
        bm25_output_field="sparse",
        analyzer_params=None,
        partition_key_field=None,
        num_partitions=None,
    )


def test_drop_collection_drops_aliases_first_and_tolerates_a_missing_collection():
    op = rendered(MilvusDropCollectionOperator, collection_name="{{ params.collection }}")
    hook = fake_hook(op, has_collection=True, drop_collection=["docs_live"])
    assert op.execute(context={}) == {"collection_name": "docs", "dropped": True, "aliases_dropped": ["docs_live"]}
    hook.drop_collection.assert_called_once_with("docs", drop_aliases=True)

    hook = fake_hook(op, has_collection=False)
    assert op.execute(context={})["dropped"] is False
    hook.drop_collection.assert_not_called()

    strict = rendered(MilvusDropCollectionOperator, collection_name="gone", missing_ok=False)
    fake_hook(strict, has_collection=False)
    with pytest.raises(ValueError, match="does not exist"):
        strict.execute(context={})


def test_alias_operator_points_the_alias():
    op = rendered(
        MilvusAliasOperator, alias="{{ params.collection }}_live", collection_name="{{ params.collection }}_v2"
    )
    hook = fake_hook(op, point_alias="docs_v1")
    assert op.execute(context={}) == {"alias": "docs_live", "collection_name": "docs_v2", "previous": "docs_v1"}
    hook.point_alias.assert_called_once_with("docs_live", "docs_v2")


# ---- conventions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_class", "expected"),
    [
        (MilvusIngestOperator, {"collection_name", "data", "mode", "batch_size", "max_concurrency", "dimension"}),
        (MilvusSearchOperator, {"collection_name", "data", "limit", "filter", "output_fields", "search_params"}),
        (MilvusCreateCollectionOperator, {"collection_name", "dimension", "metric_type", "index_type", "properties"}),
        (MilvusDropCollectionOperator, {"collection_name"}),
        (MilvusAliasOperator, {"alias", "collection_name"}),
        (MilvusCollectionSensor, {"collection_name", "min_row_count", "filter"}),
    ],
)
def test_template_fields_cover_the_runtime_arguments(op_class, expected):
    assert expected <= set(op_class.template_fields)


def test_default_connection_matches_the_hook():
    op = MilvusSearchOperator(task_id="s", collection_name="c", data=[[1.0]])
    assert op.milvus_conn_id == MilvusHook.default_conn_name == "milvus_default"
    assert op.hook.milvus_conn_id == "milvus_default"
    other = MilvusSearchOperator(task_id="t", collection_name="c", data=[[1.0]], milvus_conn_id="milvus_other")
    assert other.hook.milvus_conn_id == "milvus_other"


# ---- aliases where a collection is expected (issue 23, item 10) ----------------------------------------


def test_drop_collection_refuses_an_alias_name_and_drops_nothing():
    op = rendered(MilvusDropCollectionOperator, collection_name="{{ params.collection }}_live")
    hook = fake_hook(op, describe_alias="docs_v2", has_collection=True)
    with pytest.raises(ValueError, match=r"'docs_live' is an alias of collection 'docs_v2'.*drop_alias"):
        op.execute(context={})
    hook.drop_collection.assert_not_called()
    hook.drop_alias.assert_not_called()
    hook.close.assert_called_once()


def test_create_collection_refuses_an_existing_alias_name():
    op = rendered(MilvusCreateCollectionOperator, collection_name="docs_live", dimension=4)
    hook = fake_hook(op, describe_alias="docs_v2")
    with pytest.raises(ValueError, match=r"'docs_live' is an alias of collection 'docs_v2', not a collection"):
        op.execute(context={})
    hook.create_collection.assert_not_called()
