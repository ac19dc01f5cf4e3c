"""The HTTP API's OpenAI chat completions and REST endpoints, spoken to by the official `openai`
client and plain HTTP, on the real server over a real index (scripted LLM: fast)."""

from __future__ import annotations

import httpx
import openai
import pytest

from qa import Settings
from qa.api.models import AskResponse
from qa.engine import Engine
from qa.errors import LLMError
from qa.models import ScriptedLLM

from .api_server import REPLY, FakeLLM, Served, seed_index
from .helpers import SEED_QUESTION

REFUSED_QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder) -> Settings:
    return seed_index(tmp_path_factory.mktemp("api"), embedder)


@pytest.fixture
def served(indexed, embedder):
    s = Served(indexed, embedder)
    yield s
    s.close()


def _client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


def _expected(indexed, embedder, question: str = SEED_QUESTION) -> AskResponse:
    return AskResponse.of(Engine(indexed, llm=ScriptedLLM([REPLY]), embedder=embedder)
                          .ask(question))


def _seed_messages(question: str = SEED_QUESTION) -> list[dict]:
    return [{"role": "user", "content": question}]


# --- OpenAI chat completions --------------------------------------------------------------------


def test_openai_client_gets_the_answer_and_citations_of_engine_ask(served, indexed,
                                                                   embedder) -> None:
    url, _ = served()
    want = _expected(indexed, embedder)
    got = _client(url).chat.completions.create(model="qa", messages=_seed_messages())
    assert got.choices[0].message.content == want.answer and "[1]" in want.answer
    assert got.choices[0].finish_reason == "stop" and got.model == "qa"
    assert got.model_extra["citations"] == [c.model_dump() for c in want.citations]
    assert got.model_extra["refused"] is False
    assert "invite opposition representatives" in got.model_extra["citations"][0]["quote"]


def test_openai_client_streams_the_same_answer_with_citations_last(served, indexed,
                                                                   embedder) -> None:
    url, _ = served()
    want = _expected(indexed, embedder)
    chunks = list(_client(url).chat.completions.create(model="qa", messages=_seed_messages(),
                                                       stream=True))
    assert len(chunks) > 3 and chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == want.answer
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == [c.model_dump() for c in want.citations]
    assert last.model_extra["refused"] is False
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_follow_up_is_condensed_with_the_history(served) -> None:
    rewrite = "Who did Russia invite to a consultation in Moscow?"
    llm = FakeLLM(rewrite=rewrite)
    url, _ = served(llm)
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Who is Mikhail Bogdanov?"},
                {"role": "assistant", "content": "Russia's Deputy Foreign Minister [1]."},
                {"role": "user", "content": "Who did he invite to Moscow?"}]
    got = _client(url).chat.completions.create(model="qa", messages=messages)
    condense_prompt = llm.calls[0][1]["content"]
    assert "User: Who is Mikhail Bogdanov?" in condense_prompt
    assert "Follow-up question: Who did he invite to Moscow?" in condense_prompt
    assert got.model_extra["question"] == rewrite
    assert rewrite in llm.calls[1][-1]["content"]  # the answer was asked of the rewrite
    assert not got.model_extra["refused"] and got.model_extra["citations"]


@pytest.mark.parametrize("stream", [False, True])
def test_refusal_is_a_normal_answer(served, stream) -> None:
    url, _ = served(FakeLLM(reply=lambda m: "The capital of France is Paris [1]."))
    got = _client(url).chat.completions.create(model="qa", messages=_seed_messages(
        REFUSED_QUESTION), stream=stream)
    if stream:
        chunks = list(got)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        extra = chunks[-1].model_extra
    else:
        text, extra = got.choices[0].message.content, got.model_extra
    assert text.startswith("The articles don't say")
    assert extra["refused"] is True and extra["citations"] == []


def test_models_lists_qa(served) -> None:
    url, _ = served()
    assert [m.id for m in _client(url).models.list()] == ["qa"]


@pytest.mark.parametrize("stream", [False, True])
def test_llm_down_is_502_with_the_message(served, stream) -> None:
    url, _ = served(FakeLLM(fail=LLMError("The LLM server at http://127.0.0.1:9 is not "
                                          "reachable. Start it or fix QA_OPENAI_BASE_URL.")))
    with pytest.raises(openai.APIStatusError) as err:
        _client(url).chat.completions.create(model="qa", messages=_seed_messages(),
                                             stream=stream)
    assert err.value.status_code == 502
    assert "not reachable" in err.value.body["message"]


def test_llm_failing_mid_stream_ends_the_stream_with_an_error_event(served) -> None:
    class Breaks(FakeLLM):
        def stream(self, messages, max_tokens):
            yield "Russia"
            raise LLMError("The LLM server stopped answering. Check that it is running.")

    url, _ = served(Breaks())
    stream = _client(url).chat.completions.create(model="qa", messages=_seed_messages(),
                                                  stream=True)
    with pytest.raises(openai.APIError, match="stopped answering"):
        list(stream)


# --- errors of the chat endpoint -----------------------------------------------------------------


def test_chat_errors_are_openai_error_objects(served) -> None:
    url, _ = served()
    with httpx.Client(base_url=url, timeout=30) as http:
        def post(body, **kw):
            return http.post("/v1/chat/completions", json=body, **kw)

        r = post({"model": "qa", "messages": _seed_messages("   ")})
        assert r.status_code == 400 and "empty" in r.json()["error"]["message"]
        assert r.json()["error"]["type"] == "invalid_request_error"
        r = post({"model": "qa", "messages": _seed_messages("why " * 1000)})
        assert r.status_code == 413 and "limit is 2,000" in r.json()["error"]["message"]
        r = post({"model": "qa", "messages": [*_seed_messages(),
                                              {"role": "assistant", "content": "x"}]})
        assert r.status_code == 400 and "last message" in r.json()["error"]["message"]
        r = post({"model": "qa", "messages": []})
        assert r.status_code == 422 and r.json()["error"]["param"] == "messages"
        r = post({"model": "qa", "messages": [{"role": "user", "content": 5}]})
        assert r.status_code == 422 and r.json()["error"]["param"].startswith("messages.0")
        r = http.post("/v1/chat/completions", content=b'{"model": "qa", "messages": [',
                      headers={"content-type": "application/json"})
        assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]
        r = http.get("/v1/chat/completion")
        assert r.status_code == 404 and "/openapi.json" in r.json()["error"]["message"]
        for r in (post({"messages": "x"}), http.get("/v1/nothing")):
            assert "Traceback" not in r.text
    assert _client(url).chat.completions.create(model="qa", messages=_seed_messages())
