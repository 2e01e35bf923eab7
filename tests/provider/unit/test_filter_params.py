"""``filter_params`` (issue 23, item 5) without a server: the literal writer, the native
path on a Milvus 2.5+ server (pymilvus binds the values), and the operator, sensor and
trigger passing it through as a templated field."""

from __future__ import annotations

import asyncio

import pytest

from milvus_provider.hooks.milvus import MilvusHook, render_filter
from milvus_provider.operators.milvus import MilvusSearchOperator
from milvus_provider.sensors.milvus import MilvusCollectionSensor
from milvus_provider.triggers.milvus import MilvusCollectionTrigger

EVIL = 'nobody" or tenant != "'


def test_values_are_written_as_literals_that_cannot_close_their_quotes():
    assert render_filter("tenant == {t}", {"t": EVIL}) == 'tenant == "nobody\\" or tenant != \\""'
    assert render_filter("id in {ids} and n > {n} and ok == {ok}", {"ids": ["a", 'b\\"'], "n": 2.5, "ok": True}) == (
        'id in ["a", "b\\\\\\""] and n > 2.5 and ok == true'
    )
    assert (
        render_filter('note == "{t}" or t == { t }', {"t": "x"}) == 'note == "{t}" or t == "x"'
    )  # inside a literal: text
    assert render_filter("a == {t}", {"t": "line\nbreak"}) == 'a == "line\\nbreak"'
    with pytest.raises(ValueError, match="placeholder {missing}"):
        render_filter("a == {missing}", {"t": 1})
    with pytest.raises(TypeError):
        render_filter("a == {t}", {"t": {"nested": 1}})
    with pytest.raises(ValueError):
        render_filter("a == {t}", {"t": float("nan")})


class FakeClient:
    def __init__(self, version):
        self.version, self.calls = version, []

    def get_server_version(self):
        return self.version

    def query(self, name, **kwargs):
        self.calls.append(("query", kwargs))
        return [{"count(*)": 0}] if kwargs.get("output_fields") == ["count(*)"] else []

    def search(self, name, data, **kwargs):
        self.calls.append(("search", kwargs))
        return [[] for _ in data]

    def delete(self, name, **kwargs):
        self.calls.append(("delete", kwargs))
        return {"delete_count": 0}


def _hook(version):
    hook = MilvusHook("milvus_fake")
    hook._client = FakeClient(version)
    return hook


def test_a_server_with_templates_binds_the_values_itself():
    hook = _hook("v2.5.4")
    hook.query("c", "tenant == {t}", filter_params={"t": EVIL})
    hook.count("c", "tenant == {t}", filter_params={"t": EVIL})
    hook.search("c", [[1.0]], filter="tenant == {t}", filter_params={"t": EVIL})
    hook.delete("c", filter="tenant == {t}", filter_params={"t": EVIL})
    for _, kwargs in hook._client.calls:
        assert kwargs["filter"] == "tenant == {t}" and kwargs["filter_params"] == {"t": EVIL}


def test_a_server_without_templates_gets_the_escaped_literal():
    hook = _hook("v2.3.5")
    hook.query("c", "tenant == {t}", filter_params={"t": EVIL})
    ((_, kwargs),) = hook._client.calls
    assert kwargs["filter"] == 'tenant == "nobody\\" or tenant != \\""' and "filter_params" not in kwargs


def test_filter_params_need_a_filter_and_delete_by_ids_takes_none():
    hook = _hook("v2.5.4")
    with pytest.raises(ValueError, match="without a filter"):
        hook.query("c", "", filter_params={"t": 1})
    with pytest.raises(ValueError, match="not both"):
        hook.delete("c", ids=["a"], filter_params={"t": 1})


class RecordingHook:
    def __init__(self):
        self.calls = []

    def search(self, **kwargs):
        self.calls.append(kwargs)
        return [[]]

    def collection_state(self, name, **kwargs):
        self.calls.append(kwargs)
        return {"collection_name": name, "exists": True, "loaded": True, "row_count": 5}

    def close(self):
        pass


def test_search_operator_templates_and_passes_filter_params():
    assert "filter_params" in MilvusSearchOperator.template_fields
    op = MilvusSearchOperator(
        task_id="s",
        collection_name="c",
        data=[[1.0]],
        filter="tenant == {t}",
        filter_params={"t": "{{ params.tenant }}"},
    )
    op.__dict__["hook"] = hook = RecordingHook()
    op.filter_params = {"t": EVIL}  # as rendered
    op.execute({})
    assert hook.calls[0]["filter"] == "tenant == {t}" and hook.calls[0]["filter_params"] == {"t": EVIL}


def test_sensor_and_trigger_pass_filter_params():
    assert "filter_params" in MilvusCollectionSensor.template_fields
    sensor = MilvusCollectionSensor(
        task_id="w", collection_name="c", min_row_count=1, filter="tenant == {t}", filter_params={"t": EVIL}
    )
    sensor.__dict__["hook"] = hook = RecordingHook()
    assert sensor.poke({}).is_done
    assert hook.calls[0]["filter_params"] == {"t": EVIL}

    trigger = MilvusCollectionTrigger("c", filter="tenant == {t}", filter_params={"t": EVIL}, min_row_count=1)
    classpath, kwargs = trigger.serialize()
    assert kwargs["filter_params"] == {"t": EVIL}
    seen = {}

    class AsyncHook:
        async def aget_config(self):
            return object()

        async def acollection_state(self, name, **kw):
            seen.update(kw)
            return {"collection_name": name, "exists": True, "loaded": True, "row_count": 1}

    trigger._hook = AsyncHook

    async def first():
        return await trigger.run().__anext__()

    assert asyncio.run(first()).payload["status"] == "success"
    assert seen["filter_params"] == {"t": EVIL}
