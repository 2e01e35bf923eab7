"""The embeddings factory: names, dimensions, offline local model, OpenAI retry on 429;
the local model's device, threads and concurrent calls."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.embeddings import Embeddings

from milvus_toolkit import embeddings as emb
from milvus_toolkit.embeddings import (
    EmbeddingConfigError,
    LocalEmbeddings,
    LocalRuntime,
    available_cores,
    cgroup_cpu_limit,
    get_embeddings,
    local_runtime,
    requested_device,
    resolve_device,
)


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
        [
            "How do I charge the robot battery?",
            "Plug the robot into the charging dock to recharge its battery.",
            "The harvest festival starts in October.",
        ]
    )
    assert choice.dim == 384 and len(query) == 384

    def cos(u, v):
        return sum(x * y for x, y in zip(u, v, strict=True))  # vectors are normalised

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
        data = [
            {"object": "embedding", "index": i, "embedding": [float(i + 1)] * dims} for i, _ in enumerate(body["input"])
        ]
        payload = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
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


# ---- the local model: device, threads, concurrent calls --------------------------------


@pytest.mark.parametrize(
    ("concurrency", "cores", "calls", "threads"),
    [
        (8, 2, 2, 1),  # the DAG default on 2 cores: 2 calls of 1 thread, not 8 calls of 2 threads
        (1, 2, 1, 2),  # one call uses every core
        (2, 2, 2, 1),
        (3, 8, 3, 2),  # 3 x 2 = 6 of 8 cores: never more threads than cores
        (8, 16, 8, 2),
        (64, 4, 4, 1),
        (0, 4, 1, 4),  # a nonsense concurrency counts as 1
    ],
)
def test_cpu_threads_times_calls_never_exceed_the_cores(concurrency, cores, calls, threads):
    runtime = local_runtime(concurrency, "cpu", cores=cores, env={})
    assert runtime == LocalRuntime("cpu", calls, threads)
    assert runtime.calls * runtime.threads <= cores


def test_gpu_runs_at_most_two_calls_and_leaves_torch_threads_alone():
    assert local_runtime(8, "cuda", cores=2, env={}) == LocalRuntime("cuda", 2, None)
    assert local_runtime(1, "cuda:1", cores=2, env={}) == LocalRuntime("cuda:1", 1, None)


def test_calls_and_threads_can_be_set_and_bad_settings_are_errors():
    env = {emb.CALLS_ENV: "3", emb.THREADS_ENV: "4"}
    assert local_runtime(8, "cpu", cores=2, env=env) == LocalRuntime("cpu", 3, 4)
    assert local_runtime(8, "cpu", cores=8, env={emb.CALLS_ENV: "1"}) == LocalRuntime("cpu", 1, 8)
    assert local_runtime(8, "cuda", cores=8, env={emb.THREADS_ENV: "2"}) == LocalRuntime("cuda", 2, 2)
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(EmbeddingConfigError, match=emb.THREADS_ENV):
            local_runtime(1, "cpu", cores=2, env={emb.THREADS_ENV: bad})
    with pytest.raises(EmbeddingConfigError, match=emb.CALLS_ENV):
        local_runtime(1, "cpu", cores=2, env={emb.CALLS_ENV: "0"})


def test_device_setting_is_checked_and_auto_takes_a_gpu_only_when_there_is_one():
    assert requested_device({}) == "auto"
    assert requested_device({emb.DEVICE_ENV: " CUDA:1 "}) == "cuda:1"
    with pytest.raises(EmbeddingConfigError, match="choose auto, cpu, cuda or cuda:N"):
        requested_device({emb.DEVICE_ENV: "tpu"})
    assert resolve_device("auto", cuda_available=lambda: True) == "cuda"
    assert resolve_device("auto", cuda_available=lambda: False) == "cpu"
    assert resolve_device("cpu", cuda_available=lambda: True) == "cpu"
    assert resolve_device("cuda:1", cuda_available=lambda: True) == "cuda:1"
    with pytest.raises(EmbeddingConfigError, match="no CUDA device"):
        resolve_device("cuda", cuda_available=lambda: False)


@pytest.mark.parametrize(("key", "value"), [(emb.DEVICE_ENV, "gpu0"), (emb.CALLS_ENV, "0"), (emb.THREADS_ENV, "many")])
def test_bad_settings_fail_when_the_embedding_is_chosen_not_when_the_model_loads(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    monkeypatch.setattr(emb, "_local_model", lambda device="cpu": pytest.fail("the model must not load"))
    with pytest.raises(EmbeddingConfigError, match=key):
        get_embeddings("local")


def test_choosing_the_local_model_for_its_name_and_dimension_does_not_load_it(monkeypatch):
    monkeypatch.setattr(emb, "_local_model", lambda device="cpu": pytest.fail("the model must not load"))
    choice = get_embeddings("local", concurrency=8)
    assert (choice.name, choice.model, choice.dim) == ("local", "all-MiniLM-L6-v2", 384)


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "200000 100000\n"}, 2),
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 cores: rounded up
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_a_containers_cpu_quota_caps_the_cores(tmp_path, files, limit):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == limit
    affinity = available_cores(tmp_path / "nowhere")
    assert available_cores(tmp_path) == (min(affinity, limit) if limit else affinity)


class _Recorder(Embeddings):
    """Counts how many calls run at once."""

    def __init__(self):
        self.running = self.most = 0
        self.lock = threading.Lock()

    def embed_documents(self, texts):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return [[float(len(t))] for t in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def test_local_embeddings_run_at_most_calls_at_once_async_and_sync():
    inner = _Recorder()
    local = LocalEmbeddings(inner, LocalRuntime("cpu", calls=2, threads=1))

    async def eight_in_flight():
        return await asyncio.gather(*(local.aembed_documents([f"text {i}"]) for i in range(8)))

    assert asyncio.run(eight_in_flight()) == [[[float(len(f"text {i}"))]] for i in range(8)]
    assert inner.most == 2
    inner.most = 0
    threads = [threading.Thread(target=local.embed_query, args=("x",)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inner.most == 2


def test_known_vectors_answer_without_loading_and_anything_else_loads():
    loads = []
    choice = emb.EmbeddingChoice("fake", "fake-1", 1, lambda: loads.append(1) or _Recorder())
    answering = choice.answering({"smoke text": [0.5]})
    assert answering.embed_query("smoke text") == [0.5]
    assert asyncio.run(answering.aembed_query("smoke text")) == [0.5]
    assert answering.embed_documents(["smoke text"]) == [[0.5]]
    assert loads == []
    assert answering.embed_query("other") == [5.0]
    assert loads == [1]


def test_the_local_model_runs_with_the_thread_count_that_fits_the_concurrency():
    import torch

    choice = get_embeddings("local", concurrency=8)
    model = choice.embeddings
    expected = local_runtime(8, model.runtime.device)
    assert model.runtime == expected
    if expected.threads is not None:
        assert torch.get_num_threads() == expected.threads
    assert len(asyncio.run(model.aembed_documents(["one", "two"]))[1]) == 384
