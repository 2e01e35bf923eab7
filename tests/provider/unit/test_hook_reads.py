"""The hook's read path heals "collection not loaded" (Milvus reloads in the background
after a restart) by loading once, and passes every other error through (a fake client)."""

from __future__ import annotations

import pytest
from pymilvus.exceptions import MilvusException

from milvus_provider.hooks.milvus import MilvusHook, MilvusHookError, is_not_loaded


class FakeClient:
    """Answers ``query`` with the given errors first, then a count; records loads."""

    def __init__(self, errors: list[Exception]):
        self.errors = list(errors)
        self.loads: list[str] = []

    def query(self, name, **kwargs):
        if self.errors:
            raise self.errors.pop(0)
        return [{"count(*)": 7}]

    def load_collection(self, name):
        self.loads.append(name)


def hook_with(client: FakeClient, monkeypatch) -> MilvusHook:
    monkeypatch.setenv("AIRFLOW_CONN_MILVUS_FAKE", "milvus://root:secret@127.0.0.1:1/default")
    hook = MilvusHook("milvus_fake")
    hook._client = client  # get_conn() hands this out instead of connecting
    return hook


NOT_LOADED = MilvusException(code=101, message="failed to query: collection not loaded[collection=1]")


def test_a_not_loaded_collection_is_loaded_once_and_the_read_retried(monkeypatch):
    client = FakeClient([NOT_LOADED])
    assert hook_with(client, monkeypatch).count("docs") == 7
    assert client.loads == ["docs"]


def test_a_loaded_collection_is_never_reloaded(monkeypatch):
    client = FakeClient([])
    assert hook_with(client, monkeypatch).count("docs") == 7
    assert client.loads == []


def test_other_errors_pass_through_with_the_action_and_server_named(monkeypatch):
    client = FakeClient([MilvusException(code=100, message="collection not found[database=default][collection=docs]")])
    with pytest.raises(
        MilvusHookError, match=r"count rows in 'docs' on http://127\.0\.0\.1:1 failed: collection not found"
    ):
        hook_with(client, monkeypatch).count("docs")
    assert client.loads == []


def test_still_not_loaded_after_loading_is_an_error_not_a_loop(monkeypatch):
    client = FakeClient([NOT_LOADED, NOT_LOADED])
    with pytest.raises(MilvusHookError, match="not loaded"):
        hook_with(client, monkeypatch).count("docs")
    assert client.loads == ["docs"]


def test_not_loaded_is_recognised_through_the_cause_chain():
    try:
        try:
            raise NOT_LOADED
        except MilvusException as exc:
            raise MilvusHookError("count rows failed") from exc
    except MilvusHookError as wrapped:
        assert is_not_loaded(wrapped)
    assert not is_not_loaded(MilvusHookError("connection refused"))


def test_a_self_caused_exception_does_not_loop():
    """pymilvus re-raises with ``raise e from e``: its exception is its own cause."""
    exc = MilvusException(code=100, message="collection not found")
    exc.__cause__ = exc
    assert not is_not_loaded(exc)
