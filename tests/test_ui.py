"""The UI's pieces without a browser: rendering is escaped, uploads are safe, the served API
answers like the Python API, auth guards every route. Real index, scripted LLM (fast)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest

from qa import rebuild
from qa.engine import Engine
from qa.errors import ConfigError, CorpusError
from qa.index.events import Committing
from qa.models import ScriptedLLM
from qa.records import Answer, Citation, Passage
from qa.ui.uploads import corpus_files, delete_file, safe_name, save_upload

from .helpers import SEED_QUESTION, free_port

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
REPLY = "Russia invited opposition representatives to Moscow [1]."


# --- rendering ---------------------------------------------------------------------------------


def _answer(text: str, quote_start: int = 6, quote_end: int = 11) -> Answer:
    passage = Passage(chunk_id="a:0", article_id="a", title=f"T {XSS}", text=f"Hello {XSS} world",
                      start=0, end=30, url="javascript:alert(1)", source_path="a.txt")
    cite = Citation(number=1, article_id="a", title=passage.title, url=passage.url, date="",
                    source_path="a.txt", passage=passage.text, quote="x", start=quote_start,
                    end=quote_end, score=0.5)
    return Answer(question=f"q {XSS}", text=text, refused=False, citations=[cite],
                  passages=[passage])


def test_answer_markdown_makes_chips_and_escapes_everything_else() -> None:
    from qa.ui.render import answer_markdown

    md = answer_markdown(_answer(f"Said {XSS} [1] and [7] [x](javascript:alert(1))."), turn=3)
    assert "[\\[1\\]](#qa-cite-3-1)" in md  # a chip for the real citation
    assert "[7]" not in md and "\\[7\\]" in md  # not a citation of this answer: plain text
    assert "<img" not in md and "<script" not in md and "&lt;img" in md
    assert "](javascript" not in md  # no markdown link survives from the model's text


def test_sources_html_highlights_by_offsets_and_escapes_article_text() -> None:
    from qa.records import Article
    from qa.ui.render import panel_html, sources_html

    article = Article(id="a", title="T", text=f"Hello {XSS} world and more text")
    a = _answer("Hi [1].", quote_start=6, quote_end=6 + len(XSS))
    out = sources_html(a, 2, {"a": article}, a.question)
    assert "<img" not in out and "<script" not in out
    assert f'<mark class="qa-quote">{__import__("html").escape(XSS)}</mark>' in out
    assert 'id="qa-art-2-1" hidden' in out and 'data-target="qa-art-2-1"' in out
    assert "javascript:" not in out  # only http(s) URLs become links
    page = panel_html([{"turn": 2, "question": f"q {XSS}", "html": out}])
    assert page.count("<script") == 0 and page.count("<img") == 0


def test_refusal_lists_the_closest_passages() -> None:
    from qa.ui.render import answer_markdown, sources_html

    p = Passage(chunk_id="a:0", article_id="a", title="Near", text="Some passage", start=0,
                end=12, score=0.3)
    a = Answer(question="q", text="The articles don't say.", refused=True, passages=[p])
    assert "closest passages" in answer_markdown(a, 1)
    out = sources_html(a, 1, {}, "q")
    assert "Closest passages" in out and "Near" in out and "score" not in out
    assert "Searched for" not in out
    assert "Searched for: q<" in sources_html(a, 1, {}, "and then?")  # a rewritten follow-up


# --- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("story.txt", "story.txt"),
    ("../../etc/evil.txt", "evil.txt"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    ("/abs/path/Report 2024.HTML", "Report 2024.html"),
    ("記事" * 100 + ".txt", "記事" * 32 + "記.txt"),  # at most 200 bytes of UTF-8
    ("we<i>rd;name.jsonl", "we_i_rd_name.jsonl"),
])
def test_safe_name_strips_folders_and_odd_characters(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["evil.exe", "noext", "..", ".txt", "a.txt.sh", "../.."])
def test_safe_name_rejects_disallowed_names(name: str) -> None:
    with pytest.raises(CorpusError):
        safe_name(name)


def test_save_upload_stays_in_the_corpus_and_enforces_the_size_limit(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    src = tmp_path / "upload.bin"
    src.write_text("Title\n\nBody text.")
    saved = save_upload(corpus, "../../outside.txt", src, max_bytes=1000)
    assert saved.name == "outside.txt" and not saved.replaced
    assert (corpus / "outside.txt").read_text() == "Title\n\nBody text."
    assert not (tmp_path / "outside.txt").exists()
    assert save_upload(corpus, "outside.txt", src, max_bytes=1000).replaced
    with pytest.raises(CorpusError, match="limit"):
        save_upload(corpus, "big.txt", src, max_bytes=5)
    (tmp_path / "empty").write_text("")
    with pytest.raises(CorpusError, match="empty"):
        save_upload(corpus, "e.txt", tmp_path / "empty", max_bytes=1000)
    # A symlink planted in the corpus is never written through.
    (tmp_path / "target.txt").write_text("keep")
    (corpus / "link.txt").symlink_to(tmp_path / "target.txt")
    with pytest.raises(CorpusError, match="outside"):
        save_upload(corpus, "link.txt", src, max_bytes=1000)
    assert (tmp_path / "target.txt").read_text() == "keep"
    assert corpus_files(corpus) == ["link.txt", "outside.txt"]
    delete_file(corpus, "outside.txt")
    assert corpus_files(corpus) == ["link.txt"]
    for bad in ("../target.txt", "missing.txt", ".", "/etc/passwd"):
        with pytest.raises(CorpusError):
            delete_file(corpus, bad)
    delete_file(corpus, "link.txt")  # removes the link, never what it points to
    assert not (corpus / "link.txt").is_symlink() and (tmp_path / "target.txt").exists()
    assert not list(corpus.glob(".upload-*"))  # no temporary files left behind


@pytest.mark.parametrize("name,data,reason", [
    ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
     "binary data, not text"),
    ("cut.json", b'[{"title": "A", "text": "Unterminated', "malformed JSON"),
    ("lines.jsonl", b'{"text": "one"\n{"title": "no text"}\n', "lines.jsonl, line 1: malformed"),
])
def test_an_upload_a_rebuild_would_skip_is_refused_with_the_reason(tmp_path: Path, name, data,
                                                                   reason) -> None:
    corpus = tmp_path / "corpus"
    src = tmp_path / "upload"
    src.write_bytes(data)
    with pytest.raises(CorpusError, match=f"^'{name}' was not added: .*{re.escape(reason)}"):
        save_upload(corpus, name, src, max_bytes=100_000)
    assert corpus_files(corpus) == [] and not list(corpus.glob(".upload-*"))


def test_an_upload_with_one_readable_record_is_added(tmp_path: Path) -> None:
    src = tmp_path / "upload"
    src.write_text('{"text": "A readable record."}\n{broken\n')
    assert save_upload(tmp_path / "corpus", "mixed.jsonl", src, max_bytes=100_000).name \
        == "mixed.jsonl"


def test_read_auth_file(tmp_path: Path) -> None:
    from qa.ui import read_auth_file

    f = tmp_path / "auth"
    f.write_text("# users\nalice:s3cret:with:colons\n\n bob : pw \n")
    assert read_auth_file(f) == [("alice", "s3cret:with:colons"), ("bob", " pw")]
    f.write_text("alice\n")
    with pytest.raises(ConfigError, match=":1: expected"):
        read_auth_file(f)
    with pytest.raises(ConfigError, match="Cannot read"):
        read_auth_file(tmp_path / "missing")


# --- the served app (in-process, scripted LLM) -------------------------------------------------


@pytest.fixture
def served(settings, embedder, tmp_path):
    """Start the real UI on a free loopback port; yields a function launching it."""
    from qa.ui import build_ui, launch

    rebuild(settings, embedder=embedder)
    demos = []

    def start(replies, auth_file=None):
        engine = Engine(settings, llm=ScriptedLLM(replies), embedder=embedder)
        demo = build_ui(settings, engine)
        url = launch(demo, settings, port=free_port(), auth_file=auth_file, block=False)
        demos.append(demo)
        return url, engine

    yield start
    for d in demos:
        d.close()


def test_api_endpoint_answers_like_the_python_api(served, settings, embedder) -> None:
    from gradio_client import Client

    url, _ = served(lambda messages: REPLY)
    assert url.startswith("http://127.0.0.1:")
    got = Client(url, verbose=False).predict(SEED_QUESTION, api_name="/ask")
    want = Engine(settings, llm=ScriptedLLM([REPLY]), embedder=embedder).ask(SEED_QUESTION)
    expected = want.public()
    assert got["answer"] == expected["answer"] and not got["refused"]
    assert got["citations"] == expected["citations"]
    assert "invite opposition representatives" in got["citations"][0]["quote"]


def test_api_errors_are_messages_not_tracebacks(served) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, _ = served(lambda messages: REPLY)
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="limit is 2,000"):
        client.predict("why " * 1000, api_name="/ask")
    with pytest.raises(AppError, match="YYYY-MM-DD"):
        client.predict(SEED_QUESTION, 5, None, "last week", "", api_name="/ask")
    assert client.predict(SEED_QUESTION, api_name="/ask")["citations"]  # still serving


def test_llm_failure_is_reported_and_the_next_question_works(served) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from qa.errors import LLMError

    calls = {"n": 0}

    def flaky(messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise LLMError("The LLM server at http://127.0.0.1:9 is not reachable.")
        return REPLY

    url, _ = served(flaky)
    client = Client(url, verbose=False)
    with pytest.raises(AppError, match="not reachable"):
        client.predict(SEED_QUESTION, api_name="/ask")
    assert client.predict(SEED_QUESTION, api_name="/ask")["citations"]


def test_missing_index_offers_the_rebuild(tmp_path, embedder) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from qa import Settings
    from qa.ui import build_ui, launch

    settings = Settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "none")
    demo = build_ui(settings, Engine(settings, llm=ScriptedLLM([REPLY]), embedder=embedder))
    url = launch(demo, settings, port=free_port(), block=False)
    try:
        with pytest.raises(AppError, match="Rebuild index"):
            Client(url, verbose=False).predict(SEED_QUESTION, api_name="/ask")
    finally:
        demo.close()


def test_auth_guards_the_page_and_the_api(served, tmp_path) -> None:
    from gradio_client import Client

    auth = tmp_path / "users"
    auth.write_text("alice:wonderland\n")
    url, _ = served(lambda messages: REPLY, auth_file=auth)
    with httpx.Client(base_url=url, timeout=30) as http:
        for path in ("/gradio_api/info", "/config", "/gradio_api/queue/data?session_hash=x"):
            r = http.get(path)
            assert r.status_code in (401, 403), (path, r.status_code)
        for path in ("/gradio_api/call/ask", "/gradio_api/run/ask", "/gradio_api/queue/join"):
            r = http.post(path, json={"data": [SEED_QUESTION], "fn_index": 0,
                                      "session_hash": "x"})
            assert r.status_code in (401, 403), (path, r.status_code)
        assert http.post("/login", data={"username": "alice", "password": "nope"}).status_code \
            >= 400
    with pytest.raises(Exception):  # noqa: B017 - the client refuses to connect
        Client(url, verbose=False)
    client = Client(url, auth=("alice", "wonderland"), verbose=False)
    assert client.predict(SEED_QUESTION, api_name="/ask")["citations"]


def test_binds_loopback_by_default(settings) -> None:
    assert settings.host == "127.0.0.1" and settings.port == 7860


def test_questions_during_a_rebuild_use_the_last_complete_index(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    engine = Engine(settings, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder)
    before = engine.ask(SEED_QUESTION)
    seed = settings.corpus_dir / "russia-pushes-for-peace-talks.txt"
    seed.write_text(seed.read_text().replace("Moscow", "Minsk"))
    paused, resume = threading.Event(), threading.Event()

    def progress(event):
        if isinstance(event, Committing):
            paused.set()
            resume.wait(60)

    worker = threading.Thread(target=engine.rebuild, kwargs={"progress": progress})
    worker.start()
    try:
        assert paused.wait(120)  # the new generation is written but not yet committed
        during = engine.ask(SEED_QUESTION)
        assert during.citations[0].quote == before.citations[0].quote
        assert "Moscow" in during.citations[0].quote
    finally:
        resume.set()
        worker.join(120)
    after = engine.article("russia-pushes-for-peace-talks.txt").text
    assert "Minsk" in after and "Moscow" not in after


def test_status_line_and_examples_in_plain_words() -> None:
    from qa.ui.render import example_questions, status_markdown

    described = {"model": "qwen-0.5b (llama.cpp)", "articles": 5, "chunks": 40,
                 "updated": "2026-12-01T18:49:03+0000"}
    assert status_markdown(described) == \
        "5 articles · updated 1 Dec 2026, 18:49 · answers by qwen\\-0.5b \\(llama.cpp\\)"
    assert status_markdown({**described, "articles": 1, "updated": ""}).startswith("1 article ·")
    rows = [{"title": "COMPUTER MAKER COMPLETES SALE"}, {"title": ""},
            {"title": "Harbour cranes return."}, {"title": "Harbour cranes return"},
            {"title": "Third one"}, {"title": "Fourth one"}]
    assert example_questions(rows) == [
        "What do the articles say about “Computer maker completes sale”?",
        "What do the articles say about “Harbour cranes return”?",
        "What do the articles say about “Third one”?"]
