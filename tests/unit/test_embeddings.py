"""The embeddings factory: names, dimensions, offline local model, OpenAI retry on 429."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from milvus_toolkit.embeddings import EmbeddingConfigError, get_embeddings


def test_deterministic_is_repeatable_and_sized():
    choice = get_embeddings("deterministic", dim=16)
    a = choice.embeddings.embed_documents(["alpha", "beta"])
    b = get_embeddings("deterministic", dim=16).embeddings.embed_documents(["alpha", "beta"])
    assert choice.dim == 16 and len(a[0]) == 16
    assert a == b and a[0] != a[1]


def test_default_name_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MILVUS_TOOLKIT_EMBEDDING", "deterministic")
    assert get_embeddings().name == "deterministic"


def test_unknown_name_and_wrong_local_dim_are_clear_errors():
    with pytest.raises(EmbeddingConfigError, match="unknown embedding 'bert'"):
        get_embeddings("bert")
    with pytest.raises(EmbeddingConfigError, match="384-dim"):
        get_embeddings("local", dim=768)


def test_local_model_loads_offline_and_ranks_related_text_higher():
    choice = get_embeddings("local")
    query, related, unrelated = choice.embeddings.embed_documents(
        ["How do I charge the robot battery?", "Plug the robot into the charging dock to recharge its battery.", "The harvest festival starts in October."]
    )
    assert choice.dim == 384 and len(query) == 384

    def cos(u, v):
        return sum(x * y for x, y in zip(u, v))  # vectors are normalised

    assert cos(query, related) > cos(query, unrelated) + 0.2


def test_openai_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EmbeddingConfigError, match="needs an API key"):
        get_embeddings("openai", openai_conn_id="no_such_connection")


class _FakeOpenAI(BaseHTTPRequestHandler):
    """A stand-in for the paid OpenAI API on loopback: the first request gets a 429."""

    calls: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"auth": self.headers.get("Authorization"), "body": body})
        if len(type(self).calls) == 1:
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"error": {"message": "rate limited", "type": "rate_limit"}}).encode())
            return
        dims = body.get("dimensions") or 8
        data = [{"object": "embedding", "index": i, "embedding": [float(i + 1)] * dims} for i, _ in enumerate(body["input"])]
        payload = {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args):
        pass


def test_openai_uses_key_and_base_url_from_env_and_retries_on_429(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _FakeOpenAI.calls = []
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        choice = get_embeddings("openai", dim=8, openai_conn_id="no_such_connection")
        vectors = choice.embeddings.embed_documents(["one", "two", "three"])
    finally:
        server.shutdown()
    assert choice.dim == 8 and choice.model == "text-embedding-3-small"
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0]
    assert len(_FakeOpenAI.calls) == 2, "one 429, then one successful retry"
    assert _FakeOpenAI.calls[1]["auth"] == "Bearer sk-test-not-real"
    assert _FakeOpenAI.calls[1]["body"]["input"] == ["one", "two", "three"]
