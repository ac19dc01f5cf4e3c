"""Serving the API beside the UI: tokens and admin tokens, loopback only without auth, one LLM
slot shared fairly by 16 API clients and the UI, a dropped stream freeing it, and MCP tools."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from starlette.requests import Request

from qa import Settings
from qa.api.auth import ApiAuth, read_token_file
from qa.api.errors import ApiError
from qa.errors import ConfigError
from qa.models.fifo import FairLock

from .api_server import REPLY, FakeLLM, Served, seed_index
from .helpers import SEED, SEED_QUESTION, free_port, qa

USER = "user-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder) -> Settings:
    return seed_index(tmp_path_factory.mktemp("serving"), embedder)


@pytest.fixture
def served(indexed, embedder):
    s = Served(indexed, embedder)
    yield s
    s.close()


@pytest.fixture
def tokens(tmp_path) -> Path:
    f = tmp_path / "tokens"
    f.write_text(f"# API tokens\n{USER}\n\n{ADMIN} admin\n")
    return f


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- auth ----------------------------------------------------------------------------------------


def test_tokens_guard_the_api_and_admin_tokens_rebuild(served, tokens) -> None:
    url, _ = served(api_tokens=tokens)
    with httpx.Client(base_url=url, timeout=60) as http:
        for headers in ({}, _bearer("not-a-token-of-this-server"), {"Authorization": USER}):
            for r in (http.get("/v1/models", headers=headers),
                      http.post("/v1/ask", json={"question": SEED_QUESTION}, headers=headers),
                      http.post("/mcp", json={}, headers=headers)):
                assert r.status_code == 401, (headers, r.request.url)
                assert r.headers["www-authenticate"] == "Bearer"
                assert "QA_API_TOKENS" in r.json()["error"]["message"]
                assert r.json()["error"]["type"] == "authentication_error"
        for r in (http.post("/v1/rebuild", headers=_bearer(USER)),
                  http.delete(f"/v1/corpus/{SEED.name}", headers=_bearer(USER))):
            assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
        assert http.get("/v1/corpus", headers=_bearer(USER)).json()["files"] == [SEED.name]
        r = http.post("/v1/rebuild", headers=_bearer(ADMIN))
        assert r.status_code == 200 and r.json()["unchanged"] == 1
        assert http.post("/v1/ask", json={"question": SEED_QUESTION},
                         headers=_bearer(USER)).json()["citations"]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=USER, max_retries=0)
    assert client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": SEED_QUESTION}]).model_extra["citations"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()


def test_a_login_for_the_page_closes_the_api_until_tokens_are_set(served, tmp_path,
                                                                  tokens) -> None:
    users = tmp_path / "users"
    users.write_text("alice:wonderland\n")
    url, _ = served(auth_file=users)
    r = httpx.get(f"{url}/v1/models")
    assert r.status_code == 401 and "set QA_API_TOKENS" in r.json()["error"]["message"]
    url, _ = served(auth_file=users, api_tokens=tokens)
    assert httpx.get(f"{url}/v1/models", headers=_bearer(USER)).status_code == 200
    assert httpx.get(f"{url}/config", headers=_bearer(USER)).status_code in (401, 403)


def test_without_auth_only_this_machine_is_answered() -> None:
    def request(host: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/v1/models", "headers": [],
                        "client": (host, 40000)})

    auth = ApiAuth(tokens=None, login=False)
    assert auth.admin(request("127.0.0.1")) == "admin" and auth.user(request("::1")) == "admin"
    with pytest.raises(ApiError) as err:
        auth.user(request("192.0.2.7"))
    assert err.value.status == 401 and "QA_API_TOKENS" in err.value.message
    with_tokens = ApiAuth(tokens={USER: False}, login=False)
    with pytest.raises(ApiError):
        with_tokens.user(request("127.0.0.1"))  # a token is needed from loopback too


def test_read_token_file(tmp_path) -> None:
    f = tmp_path / "tokens"
    f.write_text(f"{USER}\n# comment\n{ADMIN}   admin\n")
    assert read_token_file(f) == {USER: False, ADMIN: True}
    for text, match in ((f"{USER} root\n", ":1: expected"), ("short\n", "shorter than 16"),
                        ("# none\n", "has no token")):
        f.write_text(text)
        with pytest.raises(ConfigError, match=match):
            read_token_file(f)
    with pytest.raises(ConfigError, match="Cannot read"):
        read_token_file(tmp_path / "missing")


def test_serve_refuses_a_bad_token_file_before_starting(tmp_path) -> None:
    (tmp_path / "tokens").write_text("short\n")
    r = qa("serve", "--api-tokens", str(tmp_path / "tokens"), "--port", str(free_port()))
    assert r.returncode == 2 and "shorter than 16" in r.stderr
    assert "Traceback" not in r.stderr and "serving" not in r.stderr


# --- one LLM slot --------------------------------------------------------------------------------


def test_fair_lock_serves_in_arrival_order() -> None:
    lock, order, threads = FairLock(), [], []
    lock.acquire()
    for i in range(8):
        t = threading.Thread(target=lambda i=i: (lock.acquire(), order.append(i), lock.release()))
        t.start()
        threads.append(t)
        while lock.queued < i + 2:  # thread i waits in line before the next one starts
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(30)
    assert order == list(range(8))


def test_sixteen_api_clients_and_the_ui_at_once_are_all_answered(served) -> None:
    from gradio_client import Client

    llm = FakeLLM(delay=0.002)
    url, _ = served(llm)
    questions = [f"Who did Russia invite to Moscow for talks {i}?" for i in range(16)]

    def api(q: str) -> str:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=300)
        got = client.chat.completions.create(model="qa", messages=[{"role": "user",
                                                                    "content": q}])
        return got.model_extra["question"]

    ui = Client(url, verbose=False)
    with ThreadPoolExecutor(17) as pool:
        page = pool.submit(ui.predict, SEED_QUESTION, api_name="/ask")
        answered = list(pool.map(api, questions))
        assert page.result(300)["citations"]
    assert answered == questions  # each client its own answer, none lost
    assert len(llm.calls) == 17  # every question reached the model


class Gated(FakeLLM):
    """Holds the model, once it has it, until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate, self.held = threading.Event(), threading.Event()

    def stream(self, messages, max_tokens):
        with self.slot:
            self.held.set()
            self.gate.wait(120)
        yield from super().stream(messages, max_tokens)


def test_a_crowd_waiting_for_the_model_starves_neither_page_nor_stream(served) -> None:
    llm = Gated()
    url, _ = served(llm)
    ask = {"messages": [{"role": "user", "content": SEED_QUESTION}]}

    def post(stream: bool) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=300) as http:
            return http.post("/v1/chat/completions", json={**ask, "stream": stream})

    with ThreadPoolExecutor(46) as pool:
        first = pool.submit(post, True)  # takes the model and keeps it until the gate opens
        assert llm.held.wait(60)
        crowd = [pool.submit(post, False) for _ in range(45)]  # more than Gradio's 40 threads
        time.sleep(1.0)  # the crowd arrives and waits for its turn behind the stream
        with httpx.Client(base_url=url, timeout=60) as http:
            assert http.get("/v1/health").json()["status"] == "ok"
            assert http.get("/config").status_code == 200
        llm.gate.set()
        assert '"finish_reason": "stop"' in first.result(300).text
        assert all(r.result(300).json()["citations"] for r in crowd)


def test_a_client_leaving_mid_stream_frees_the_slot(served) -> None:
    long = " ".join(["Moscow"] * 5000)
    llm = FakeLLM(reply=lambda m: long if not llm.calls[1:] else REPLY, delay=0.005)
    url, _ = served(llm)
    body = {"model": "qa", "stream": True, "messages": [{"role": "user",
                                                         "content": SEED_QUESTION}]}
    with httpx.Client(base_url=url, timeout=60) as http:
        with http.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            kept_alive = 0
            for line in r.iter_lines():
                kept_alive += line.startswith(": writing")
                if kept_alive == 3:
                    break
    assert llm.closed.wait(60)
    assert llm.sent[0] < 5000  # the model stopped writing when the client left
    got = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0).chat.completions \
        .create(model="qa", messages=body["messages"])
    assert got.model_extra["citations"] and len(llm.calls) == 2


# --- MCP -----------------------------------------------------------------------------------------


def test_mcp_client_lists_the_tools_and_calls_ask_and_get_article(served, tokens) -> None:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    url, _ = served(api_tokens=tokens)

    async def session() -> tuple:
        http = create_mcp_http_client(headers=_bearer(USER))
        async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as c:
            tools = await c.list_tools()
            asked = await c.call_tool("ask", {"question": SEED_QUESTION})
            cite = asked.structured_content["citations"][0]
            article = await c.call_tool("get_article", {"article_id": cite["article_id"]})
            missing = await c.call_tool("get_article", {"article_id": "nope.txt"})
            found = await c.call_tool("search_articles", {"query": SEED_QUESTION, "top_k": 2})
            return tools, asked, article, missing, found

    tools, asked, article, missing, found = asyncio.run(session())
    assert {t.name for t in tools.tools} == {"ask", "search_articles", "get_article"}
    ask_tool = next(t for t in tools.tools if t.name == "ask")
    assert ask_tool.input_schema["required"] == ["question"]
    assert "citations" in ask_tool.output_schema["properties"]
    assert not asked.is_error and asked.structured_content["refused"] is False
    cite = asked.structured_content["citations"][0]
    text = article.structured_content["text"]
    assert text[cite["start"]:cite["end"]] == cite["quote"]
    assert missing.is_error and "No article 'nope.txt'" in missing.content[0].text
    assert len(found.structured_content["result"]) == 2
