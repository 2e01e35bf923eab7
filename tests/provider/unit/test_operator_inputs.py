"""Templated fields typed once, after rendering, with errors that name the field (issue 23,
item 6), and search results bounded for XCom (item 7): fake hooks, no server."""

from __future__ import annotations

import json
from unittest.mock import Mock, PropertyMock, patch

import pytest

from milvus_provider.operators.milvus import (
    MilvusCreateCollectionOperator,
    MilvusIngestOperator,
    MilvusSearchOperator,
)
from tests.provider.unit.test_operators import SCHEMA, fake_hook, rendered

STATIC = {  # a collection without dynamic fields: only its schema fields exist
    "fields": [
        {"name": "id", "type": "VARCHAR", "is_primary": True},
        {"name": "vector", "type": "FLOAT_VECTOR", "params": {"dim": 4}},
        {"name": "text", "type": "VARCHAR"},
        {"name": "sparse", "type": "SPARSE_FLOAT_VECTOR"},
    ],
    "enable_dynamic_field": False,
}


def _refused(op, hook, match):
    with pytest.raises(ValueError, match=match) as info:
        op.execute(context={})
    for call in ("search", "hybrid_search", "aupsert", "ainsert", "create_collection"):
        getattr(hook, call).assert_not_called()
    return str(info.value)


# ---- data --------------------------------------------------------------------------------------------


def test_ingest_data_rendered_as_a_python_repr_names_the_field_and_the_fix():
    text = str([{"id": "a", "vector": [1.0, 0.0], "ok": True, "note": None}])  # "[{'id': 'a', ..."
    op = rendered(MilvusIngestOperator, collection_name="c", data=text)
    message = _refused(op, fake_hook(op), r"^data: .*Python repr.*render_template_as_native_obj")
    assert "[{'id': 'a'" in message


def test_ingest_data_as_plain_text_names_the_field_and_shows_only_the_start_of_the_value():
    text = "not json at all " + "x" * 500
    op = rendered(MilvusIngestOperator, collection_name="c", data=text)
    message = _refused(op, fake_hook(op), r"^data: .*not JSON")
    assert "not json at all" in message and "x" * 80 not in message
    assert len(message) < 400


def test_the_value_shown_in_an_error_is_redacted_of_masked_secrets():
    from airflow.sdk.log import mask_secret

    mask_secret("pl4nted-S3cret-v4lue")
    op = rendered(MilvusIngestOperator, collection_name="c", data="{'token': 'pl4nted-S3cret-v4lue'}")
    message = _refused(op, fake_hook(op), r"^data: ")
    assert "pl4nted-S3cret-v4lue" not in message


@pytest.mark.parametrize("data", [None, [], "", "[]", "null"])
def test_ingest_empty_data_fails_unless_allow_empty(data):
    op = rendered(MilvusIngestOperator, collection_name="c", data=data)
    _refused(op, fake_hook(op), r"^data: .*no rows.*allow_empty=True")

    op = rendered(MilvusIngestOperator, collection_name="c", data=data, allow_empty=True)
    hook = fake_hook(op)
    assert op.execute(context={})["rows"] == 0
    hook.aupsert.assert_not_called()


def test_ingest_data_rendered_as_json_text_of_one_row_or_many():
    op = rendered(MilvusIngestOperator, collection_name="c", data='{"id": "a", "vector": [1.0, 0.0]}')
    hook = fake_hook(op, aupsert=1)
    assert op.execute(context={})["rows"] == 1
    assert hook.aupsert.await_args.args[1] == [{"id": "a", "vector": [1.0, 0.0]}]


def test_search_data_as_a_python_repr_is_refused():
    op = rendered(
        MilvusSearchOperator, collection_name="c", data="[[0.1, 0.2], [0.3, 0.4]]".replace("0.1", "np.float32(0.1)")
    )
    _refused(op, fake_hook(op), r"^data: ")


@pytest.mark.parametrize("data", [None, [], "[]"])
def test_search_without_queries_fails_unless_allow_empty(data):
    op = rendered(MilvusSearchOperator, collection_name="c", data=data)
    _refused(op, fake_hook(op), r"^data: .*no query.*allow_empty=True")
    op = rendered(MilvusSearchOperator, collection_name="c", data=data, allow_empty=True)
    hook = fake_hook(op)
    assert op.execute(context={}) == []
    hook.search.assert_not_called()


# ---- dicts and lists ---------------------------------------------------------------------------------


def test_search_dict_and_list_fields_rendered_as_json_text_are_parsed_once():
    op = rendered(
        MilvusSearchOperator,
        collection_name="c",
        data="[[0.1, 0.2, 0.3, 0.4]]",
        search_params='{"params": {"ef": 32}}',
        filter="kind == {k}",
        filter_params='{"k": "faq"}',
        output_fields='["text", "kind"]',
        partition_names='["p1", "p2"]',
    )
    hook = fake_hook(op, search=[[]])
    op.execute(context={})
    kwargs = hook.search.call_args.kwargs
    assert kwargs["search_params"] == {"params": {"ef": 32}}
    assert kwargs["filter_params"] == {"k": "faq"}
    assert kwargs["output_fields"] == ["text", "kind"]
    assert kwargs["partition_names"] == ["p1", "p2"]


def test_a_plain_string_output_field_or_partition_name_means_one_name():
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields="text", partition_names="p1")
    hook = fake_hook(op, search=[[]])
    op.execute(context={})
    assert hook.search.call_args.kwargs["output_fields"] == ["text"]
    assert hook.search.call_args.kwargs["partition_names"] == ["p1"]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("search_params", "ef=32", r"^search_params: .*not JSON.*'ef=32'"),
        ("search_params", "{'params': {'ef': 32}}", r"^search_params: .*Python repr"),
        ("search_params", '["ef"]', r"^search_params: .*a JSON object"),
        ("output_fields", "['text', 'kind']", r"^output_fields: .*Python repr"),
        ("output_fields", '{"text": 1}', r"^output_fields: .*list of names"),
        ("partition_names", "['p1']", r"^partition_names: .*Python repr"),
        ("filter_params", "{'k': 'v'}", r"^filter_params: .*Python repr"),
        ("ranker_params", "k=60", r"^ranker_params: .*not JSON"),
    ],
)
def test_search_fields_that_are_not_what_they_should_be_name_the_field(field, value, match):
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1, 0.2, 0.3, 0.4]], **{field: value})
    _refused(op, fake_hook(op), match)


def test_create_collection_dict_fields_rendered_as_text():
    op = rendered(
        MilvusCreateCollectionOperator,
        collection_name="c",
        dimension="4",
        index_params='{"M": 16}',
        properties='{"collection.ttl.seconds": 60}',
        varchar_fields='{"kind": 64}',
    )
    hook = fake_hook(op, create_collection=True)
    op.execute(context={})
    kwargs = hook.create_collection.call_args.kwargs
    assert kwargs["index_params"] == {"M": 16}
    assert kwargs["properties"] == {"collection.ttl.seconds": 60}
    assert kwargs["varchar_fields"] == {"kind": 64}

    op = rendered(MilvusCreateCollectionOperator, collection_name="c", dimension=4, index_params="{'M': 16}")
    _refused(op, fake_hook(op), r"^index_params: .*Python repr")


def test_ingest_index_params_rendered_as_text():
    op = rendered(
        MilvusIngestOperator,
        collection_name="c",
        data=[{"id": "a", "vector": [1.0]}],
        dimension=1,
        index_params='{"M": 8}',
    )
    hook = fake_hook(op, create_collection=True, aupsert=1)
    op.execute(context={})
    assert hook.create_collection.call_args.kwargs["index_params"] == {"M": 8}


# ---- unknown output fields ---------------------------------------------------------------------------


def test_an_unknown_output_field_is_refused_before_the_search_on_a_collection_without_dynamic_fields():
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["text", "txet"])
    hook = fake_hook(op, describe_collection=STATIC)
    message = _refused(op, hook, r"^output_fields: 'txet' is not a field of collection 'c'")
    assert "id, text" in message  # the fields it has


def test_strict_output_fields_refuses_dynamic_keys_and_the_default_allows_them():
    op = rendered(
        MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["kind"], strict_output_fields=True
    )
    _refused(
        op,
        fake_hook(op, describe_collection=SCHEMA),
        r"^output_fields: 'kind' is not a field of collection 'c'.*strict_output_fields",
    )

    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["kind"])
    fake_hook(op, describe_collection=SCHEMA, search=[[{"id": "a", "distance": 1.0, "kind": "faq"}]])
    assert op.execute(context={}) == [[{"id": "a", "distance": 1.0, "kind": "faq"}]]


def test_a_dynamic_key_that_no_hit_carries_is_warned_about():
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["knid"])
    fake_hook(op, describe_collection=SCHEMA, search=[[{"id": "a", "distance": 1.0}]])
    log = Mock()
    with patch.object(type(op), "log", new_callable=PropertyMock, return_value=log):
        op.execute(context={})
    warning = log.warning.call_args.args
    assert "misspelled" in warning[0] and "knid" in warning[1:]


# ---- bounded XCom -----------------------------------------------------------------------------------


def test_vectors_are_stripped_from_hits_unless_include_vectors():
    hits = [[{"id": "a", "distance": 1.0, "text": "alpha", "vector": [1.0, 0.0], "sparse": {"1": 0.5}}]]
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["*"])
    fake_hook(op, describe_collection=STATIC, search=json.loads(json.dumps(hits)))
    assert op.execute(context={}) == [[{"id": "a", "distance": 1.0, "text": "alpha"}]]

    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["*"], include_vectors=True)
    fake_hook(op, describe_collection=STATIC, search=json.loads(json.dumps(hits)))
    assert op.execute(context={}) == hits


def test_naming_a_vector_field_without_include_vectors_is_refused():
    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["text", "vector"])
    _refused(
        op,
        fake_hook(op, describe_collection=STATIC),
        r"^output_fields: 'vector' is a vector field.*include_vectors=True",
    )


def test_results_above_max_xcom_bytes_fail_with_the_size_and_how_to_reduce_it():
    hits = [[{"id": f"r{q}-{i}", "distance": 0.5, "text": "t" * 200} for i in range(10)] for q in range(50)]
    size = len(json.dumps(hits, separators=(",", ":")).encode())
    op = rendered(
        MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["text"], max_xcom_bytes=50_000
    )
    fake_hook(op, describe_collection=STATIC, search=hits)
    with pytest.raises(ValueError, match=rf"{size} bytes.*max_xcom_bytes=50000.*limit.*output_fields") as info:
        op.execute(context={})
    assert "tttt" not in str(info.value)

    op = rendered(MilvusSearchOperator, collection_name="c", data=[[0.1]], output_fields=["text"], max_xcom_bytes=None)
    fake_hook(op, describe_collection=STATIC, search=hits)
    assert op.execute(context={}) == hits


def test_max_xcom_bytes_defaults_to_one_megabyte():
    assert MilvusSearchOperator(task_id="s", collection_name="c", data=[[1.0]]).max_xcom_bytes == 1_000_000
