"""Operators given hostile or sloppy inputs, on both real servers (issue 23, items 6, 7, 10):
alias names where a collection is expected, templated fields rendered as text, unknown
output fields, and search results bounded for XCom."""

from __future__ import annotations

import pytest

from milvus_provider.operators.milvus import (
    MilvusCreateCollectionOperator,
    MilvusDropCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def aliased(server_hook, collection_name):
    """The test's collection with one row, and an alias of it (dropped afterwards)."""
    server_hook.create_collection(collection_name, 4)
    server_hook.upsert(collection_name, [{"id": "a", "vector": [1.0, 0.0, 0.0, 0.0], "text": "alpha"}])
    alias = f"{collection_name}_al"
    if server_hook.describe_alias(alias) is not None:
        server_hook.drop_alias(alias)
    server_hook.create_alias(alias, collection_name)
    yield alias
    if server_hook.describe_alias(alias) is not None:
        server_hook.drop_alias(alias)


def test_drop_collection_given_an_alias_refuses_and_keeps_collection_and_alias(
    server_hook, server_conn_id, collection_name, aliased
):
    # What the servers do themselves with drop_collection(<alias>): Milvus 2.3.5 refuses
    # ("cannot drop the collection via alias"), Milvus Lite drops the target collection.
    op = MilvusDropCollectionOperator(task_id="drop", collection_name=aliased, milvus_conn_id=server_conn_id)
    with pytest.raises(ValueError, match=f"'{aliased}' is an alias of collection '{collection_name}'"):
        op.execute(context={})
    assert server_hook.has_collection(collection_name)
    assert server_hook.describe_alias(aliased) == collection_name
    assert server_hook.count(collection_name) == 1


def test_create_collection_given_an_alias_refuses_instead_of_reporting_created_false(
    server_hook, server_conn_id, collection_name, aliased
):
    op = MilvusCreateCollectionOperator(
        task_id="create", collection_name=aliased, dimension=4, milvus_conn_id=server_conn_id
    )
    with pytest.raises(
        ValueError, match=f"'{aliased}' is an alias of collection '{collection_name}', not a collection"
    ):
        op.execute(context={})
    assert server_hook.describe_alias(aliased) == collection_name


ROWS = [{"id": f"r{i}", "vector": [1.0, float(i), 0.0, 0.0], "text": f"row {i}", "kind": "k"} for i in range(6)]


def _search(server_conn_id, collection_name, **kwargs):
    return MilvusSearchOperator(
        task_id="search",
        collection_name=collection_name,
        data=[[1.0, 0.0, 0.0, 0.0]],
        limit=3,
        milvus_conn_id=server_conn_id,
        **kwargs,
    )


def test_rendered_text_fields_end_to_end_and_bad_ones_refused_before_writing(
    server_hook, server_conn_id, collection_name
):
    import json

    bad = MilvusIngestOperator(
        task_id="bad", collection_name=collection_name, data=str(ROWS), dimension=4, milvus_conn_id=server_conn_id
    )
    with pytest.raises(ValueError, match="^data: rendered as a Python repr"):
        bad.execute(context={})
    empty = MilvusIngestOperator(
        task_id="empty", collection_name=collection_name, data="[]", dimension=4, milvus_conn_id=server_conn_id
    )
    with pytest.raises(ValueError, match="^data: no rows"):
        empty.execute(context={})
    assert not server_hook.has_collection(collection_name), "nothing was created"

    ingest = MilvusIngestOperator(
        task_id="ingest",
        collection_name=collection_name,
        data=json.dumps(ROWS),
        dimension=4,
        milvus_conn_id=server_conn_id,
    )
    assert ingest.execute(context={})["written"] == 6
    hits = _search(
        server_conn_id,
        collection_name,
        output_fields='["text"]',
        search_params='{"params": {}}',
        filter="kind == {k}",
        filter_params='{"k": "k"}',
    ).execute(context={})
    assert [h["id"] for h in hits[0]] == ["r0", "r1", "r2"] and hits[0][0]["text"] == "row 0"
    assert _search(server_conn_id, collection_name, output_fields="text").execute(context={})[0][0]["text"] == "row 0"


def test_unknown_output_fields_and_vectors_on_a_dynamic_collection(server_hook, server_conn_id, collection_name):
    server_hook.create_collection(collection_name, 4)
    server_hook.upsert(collection_name, ROWS)
    hits = _search(server_conn_id, collection_name, output_fields=["*"]).execute(context={})
    assert hits[0][0]["text"] == "row 0" and "vector" not in hits[0][0], "vectors only when asked for"
    hits = _search(server_conn_id, collection_name, output_fields=["*"], include_vectors=True).execute(context={})
    assert hits[0][0]["vector"] == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="'vector' is a vector field.*include_vectors=True"):
        _search(server_conn_id, collection_name, output_fields=["vector"]).execute(context={})
    # a misspelled dynamic key: the server returns the hits without it; strict refuses it first
    assert "txet" not in _search(server_conn_id, collection_name, output_fields=["txet"]).execute(context={})[0][0]
    with pytest.raises(ValueError, match="'txet' is not a field of collection.*strict_output_fields"):
        _search(server_conn_id, collection_name, output_fields=["txet"], strict_output_fields=True).execute(context={})


def test_unknown_output_field_on_a_collection_without_dynamic_fields_is_refused(
    server_hook, server_conn_id, collection_name
):
    server_hook.create_collection(collection_name, 4, enable_dynamic_field=False, varchar_fields={"text": 64})
    server_hook.upsert(collection_name, [{"id": r["id"], "vector": r["vector"], "text": r["text"]} for r in ROWS])
    assert _search(server_conn_id, collection_name, output_fields=["text"]).execute(context={})[0][0]["text"] == "row 0"
    with pytest.raises(
        ValueError, match="^output_fields: 'kind' is not a field of collection .*no dynamic field.*id, text"
    ):
        _search(server_conn_id, collection_name, output_fields=["text", "kind"]).execute(context={})


def test_search_results_above_max_xcom_bytes_fail_the_task(server_hook, server_conn_id, collection_name):
    server_hook.create_collection(collection_name, 4)
    server_hook.upsert(collection_name, ROWS)
    op = MilvusSearchOperator(
        task_id="search",
        collection_name=collection_name,
        data=[[1.0, 0.0, 0.0, 0.0]] * 50,
        limit=6,
        output_fields=["*"],
        include_vectors=True,
        max_xcom_bytes=10_000,
        milvus_conn_id=server_conn_id,
    )
    with pytest.raises(
        ValueError, match=r"search results are \d+ bytes of JSON \(50 queries, 300 hits\), above max_xcom_bytes=10000"
    ):
        op.execute(context={})
    op.include_vectors, op.limit, op.data = False, 1, [[1.0, 0.0, 0.0, 0.0]]
    assert len(op.execute(context={})[0]) == 1
