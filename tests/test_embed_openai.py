"""The openai embedding backend's client: batches, requests in flight, retries, errors, settings.

The server is `httpx.MockTransport` here (scripted answers, recorded requests); the real server
(infinity-emb on loopback) is in test_embed_server.py.
"""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from qa import ConfigError, EmbeddingServerError, Settings
from qa.models.embed import Embedder, backend_hint
from qa.models.openai_embed import OpenAIEmbeddings

URL = "http://embed.test:7997/v1"


class ScriptedServer:
    """Answers /v1/embeddings with a vector made from each text (its length, then 1s), after
    the statuses queued with `fail`; records every request and the most in flight at once."""

    def __init__(self, delay: float = 0.0, together: int = 0) -> None:
        # together: each request waits until that many are in flight (a barrier), so a
        # client that sends fewer at once fails with BrokenBarrierError instead of passing.
        self.gate = threading.Barrier(together, timeout=20) if together else None
        self.failures: list[int] = []
        self.requests: list[dict] = []
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def fail(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        with self._lock:
            self.requests.append({"path": request.url.path, "auth": request.headers.get(
                "authorization"), **body})
            if self.failures:
                return httpx.Response(self.failures.pop(0), text="busy")
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.gate is not None:
            self.gate.wait()
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 1.0]}
                for i, t in enumerate(body["input"])]
        data.reverse()  # servers may answer out of order: `index` says where each goes
        return httpx.Response(200, json={"object": "list", "data": data})


def _client(server: ScriptedServer, **kw) -> OpenAIEmbeddings:
    sleeps: list[float] = []
    kw = {"batch_size": 4, "concurrency": 2, "retries": 3, **kw}
    client = OpenAIEmbeddings(URL, "minilm", transport=httpx.MockTransport(server),
                              sleep=sleeps.append, **kw)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client


def _expected(texts: list[str]) -> np.ndarray:
    v = np.array([[len(t), 1.0, 1.0] for t in texts], dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_batches_in_order_and_unit_vectors() -> None:
    server = ScriptedServer()
    texts = [f"text {'x' * i}" for i in range(10)]
    got = _client(server, api_key="s3cret").encode(texts)
    assert np.allclose(got, _expected(texts))
    assert sorted(len(r["input"]) for r in server.requests) == [2, 4, 4]
    assert {r["path"] for r in server.requests} == {"/v1/embeddings"}
    assert {r["model"] for r in server.requests} == {"minilm"}
    assert {r["auth"] for r in server.requests} == {"Bearer s3cret"}


def test_requests_run_concurrently_up_to_the_pool() -> None:
    server = ScriptedServer(together=3)
    _client(server, concurrency=3, batch_size=1).encode([f"t{i}" for i in range(9)])
    assert server.most_in_flight == 3 and len(server.requests) == 9
    server = ScriptedServer(delay=0.05)
    _client(server, concurrency=1, batch_size=1).encode([f"t{i}" for i in range(4)])
    assert server.most_in_flight == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retries_busy_and_failing_servers_with_backoff(status: int) -> None:
    server = ScriptedServer()
    server.fail(status, status)
    client = _client(server, backoff=0.5)
    assert np.allclose(client.encode(["a", "bb"]), _expected(["a", "bb"]))
    assert client.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]
    assert len(server.requests) == 3


def test_gives_up_after_the_retries_naming_the_server() -> None:
    server = ScriptedServer()
    server.fail(*[503] * 4)
    with pytest.raises(EmbeddingServerError, match=r"embed\.test:7997.*HTTP 503"):
        _client(server, retries=3).encode(["a"])
    assert len(server.requests) == 4


def test_a_client_error_is_not_retried() -> None:
    server = ScriptedServer()
    server.fail(404)
    with pytest.raises(EmbeddingServerError, match="HTTP 404.*QA_EMBED_MODEL"):
        _client(server).encode(["a"])
    assert len(server.requests) == 1


def test_a_server_that_is_down_is_named() -> None:
    # A loopback port nobody listens on: connection refused, for real.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = OpenAIEmbeddings(f"http://127.0.0.1:{port}/v1", "minilm", retries=1,
                              backoff=0.01)
    with pytest.raises(EmbeddingServerError,
                       match=rf"Cannot reach the embedding server at http://127.0.0.1:{port}/v1"
                       r".*QA_EMBED_BASE_URL"):
        client.encode(["a"])


def test_settings_need_a_url_and_a_model() -> None:
    with pytest.raises(ConfigError, match="QA_EMBED_BASE_URL"):
        Settings(embed_backend="openai", embed_model="minilm")
    with pytest.raises(ConfigError, match="QA_EMBED_MODEL"):
        Settings(embed_backend="openai", embed_base_url=URL)
    with pytest.raises(ConfigError, match="embed_base_url"):
        Settings(embed_backend="openai", embed_model="m", embed_base_url="embed.test/v1")


def test_embedder_names_the_served_model_and_bounds_chunks_with_a_local_tokenizer() -> None:
    s = Settings(embed_backend="openai", embed_base_url=URL, embed_model="minilm",
                 embed_concurrency=3)
    e = Embedder.from_settings(s)
    assert e.name == "minilm:openai"
    assert e.server.concurrency == 3 and e.server.url == f"{URL}/embeddings"
    assert e.max_tokens == 256  # the bundled all-MiniLM-L6-v2's tokenizer folder
    with pytest.raises(ConfigError, match="QA_EMBED_BACKEND=openai.*QA_EMBED_MODEL=minilm"):
        Embedder().for_index("minilm:openai")
    with pytest.raises(ConfigError, match="rebuild --full"):
        e.for_index("sentence-transformers/all-MiniLM-L6-v2:onnx-int8")
    assert "QA_EMBED_BACKEND=openai" in backend_hint("minilm:openai",
                                                     "x:onnx-int8")
