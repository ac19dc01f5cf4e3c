"""The API's REST endpoints and its schema, by plain HTTP (curl's view), on the real server
over a real index (scripted LLM: fast)."""

from __future__ import annotations

import httpx
import pytest

from qa import Settings
from qa.api.models import PassageOut
from qa.engine import Engine
from qa.models import ScriptedLLM

from .api_server import REPLY, Served, seed_index
from .helpers import SEED, SEED_QUESTION, dev_articles


@pytest.fixture
def indexed(tmp_path, embedder) -> Settings:
    return seed_index(tmp_path, embedder)


@pytest.fixture
def http(indexed, embedder):
    served = Served(indexed, embedder)
    url, _ = served()
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client
    served.close()


def test_ask_answers_like_qa_ask_json(http, indexed, embedder) -> None:
    want = Engine(indexed, llm=ScriptedLLM([REPLY]), embedder=embedder).ask(SEED_QUESTION)
    r = http.post("/v1/ask", json={"question": SEED_QUESTION, "top_k": 3})
    assert r.status_code == 200
    got = r.json()
    assert set(got) == {"answer", "refused", "citations", "seconds"}
    public = want.public()
    assert got["answer"] == public["answer"] and got["refused"] is False
    for mine, theirs in zip(got["citations"], public["citations"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs  # plus the outlet, `source`
    r = http.post("/v1/ask", json={"question": SEED_QUESTION,
                                   "filters": {"sources": ["No Such Outlet"]}})
    assert r.status_code == 200 and r.json()["refused"] and r.json()["citations"] == []


def test_retrieve_gives_the_passages_of_engine_retrieve(http, indexed, embedder) -> None:
    want = Engine(indexed, embedder=embedder).retrieve(SEED_QUESTION, top_k=2)
    r = http.post("/v1/retrieve", json={"question": SEED_QUESTION, "top_k": 2})
    assert r.status_code == 200
    assert r.json()["passages"] == [PassageOut(**p.to_dict()).model_dump() for p in want]


def test_articles_and_the_text_citation_offsets_point_into(http) -> None:
    rows = http.get("/v1/articles").json()["articles"]
    assert [row["article_id"] for row in rows] == [SEED.name]
    assert rows[0]["chunks"] >= 1 and rows[0]["title"].startswith("Russia Pushes")
    cite = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()["citations"][0]
    article = http.get(f"/v1/articles/{cite['article_id']}").json()
    assert article["text"][cite["start"]:cite["end"]] == cite["quote"]
    r = http.get("/v1/articles/no-such-article.txt")
    assert r.status_code == 404 and "qa rebuild" in r.json()["error"]["message"]


def test_health_then_rebuild_picks_up_a_new_article(http, indexed) -> None:
    before = http.get("/v1/health").json()
    assert before["status"] == "ok" and before["articles"] == 1 and before["generation"] >= 1
    assert before["model"]
    row = dev_articles(1)[0]
    (indexed.corpus_dir / "extra.txt").write_text(f"{row['title']}\n\n{row['text']}")
    r = http.post("/v1/rebuild")  # no auth configured: this machine may rebuild
    assert r.status_code == 200 and r.json()["added"] == 1 and r.json()["unchanged"] == 1
    after = http.get("/v1/health").json()
    assert after["articles"] == 2 and after["generation"] > before["generation"]
    assert http.post("/v1/rebuild", json={"full": "yes please"}).status_code == 422


def test_delete_a_corpus_file_then_rebuild(http, indexed) -> None:
    assert http.get("/v1/corpus").json() == {"files": [SEED.name]}
    (indexed.corpus_dir.parent / "outside.txt").write_text("keep")
    for missing in ("nope.txt", "..%2Foutside.txt"):
        r = http.delete(f"/v1/corpus/{missing}")
        assert r.status_code == 404 and "GET /v1/corpus" in r.json()["error"]["message"]
    assert (indexed.corpus_dir.parent / "outside.txt").exists()
    row = dev_articles(1)[0]
    (indexed.corpus_dir / "extra.txt").write_text(f"{row['title']}\n\n{row['text']}")
    r = http.delete(f"/v1/corpus/{SEED.name}")
    assert r.status_code == 200 and r.json()["deleted"] == SEED.name
    assert http.get("/v1/corpus").json() == {"files": ["extra.txt"]}
    assert http.get("/v1/health").json()["articles"] == 1  # the seed, until the rebuild
    summary = http.post("/v1/rebuild").json()
    assert (summary["added"], summary["removed"]) == (1, 1)
    assert [a["article_id"] for a in http.get("/v1/articles").json()["articles"]] == \
        ["extra.txt"]


def test_no_index_is_503_naming_the_fix(tmp_path, embedder) -> None:
    settings = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "none")
    served = Served(settings, embedder)
    try:
        url, _ = served()
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/v1/health").json()["status"] == "no_index"
            for r in (client.post("/v1/ask", json={"question": SEED_QUESTION}),
                      client.post("/v1/chat/completions", json={
                          "messages": [{"role": "user", "content": SEED_QUESTION}]}),
                      client.post("/v1/chat/completions", json={"stream": True, "messages": [
                          {"role": "user", "content": SEED_QUESTION}]}),
                      client.get("/v1/articles")):
                assert r.status_code == 503, r.text
                assert "qa rebuild" in r.json()["error"]["message"]
                assert r.json()["error"]["code"] == "no_index"
    finally:
        served.close()


def test_rest_errors(http) -> None:
    r = http.post("/v1/ask", json={"question": ""})
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]
    r = http.post("/v1/ask", json={"question": "why " * 1000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "question_too_long"
    r = http.post("/v1/ask", json={"question": 3})
    assert r.status_code == 422 and r.json()["error"]["param"] == "question"
    r = http.post("/v1/ask", json={"question": SEED_QUESTION, "top_k": 0})
    assert r.status_code == 422 and r.json()["error"]["param"] == "top_k"
    r = http.post("/v1/ask", json={"question": SEED_QUESTION, "filters": {"since": "last week"}})
    assert r.status_code == 400 and "YYYY-MM-DD" in r.json()["error"]["message"]
    r = http.post("/v1/retrieve", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]
    r = http.delete("/v1/ask")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_openapi_documents_the_api_and_its_citation_fields(http) -> None:
    schema = http.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/v1/chat/completions", "/v1/models", "/v1/ask", "/v1/retrieve", "/v1/articles",
        "/v1/articles/{article_id}", "/v1/health", "/v1/rebuild", "/v1/corpus",
        "/v1/corpus/{path}"}
    schemas = schema["components"]["schemas"]
    cite = schemas["CitationOut"]["properties"]
    for field in ("number", "article_id", "title", "url", "date", "source", "quote", "start",
                  "end"):
        assert cite[field]["description"], field
    assert "citations" in schemas["ChatCompletion"]["properties"]
    assert "refused" in schemas["ChatCompletion"]["properties"]
    assert "citations" in schemas["ChatCompletionChunk"]["properties"]
    chat = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"200", "401", "413", "422", "502", "503"} <= set(chat)
    assert "text/event-stream" in chat["200"]["content"]


def test_api_and_ui_run_on_one_server(http) -> None:
    assert "<html" in http.get("/").text.lower()
    assert http.get("/config").status_code == 200  # Gradio's own routes are untouched
    assert http.get("/v1/models").json()["data"][0]["id"] == "qa"

