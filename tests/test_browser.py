"""The UI in a real browser (Debian's Chromium driven by Playwright) against `qa serve` with the
real engine: real Chroma, real embeddings, the bundled LLM. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

from qa import Settings, rebuild

from .helpers import ROOT, SEED_QUESTION, dev_articles, free_port

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "test-artifacts"
XSS_ARTICLE = """Monitors Report Calm in Aleppo Ceasefire

Ceasefire monitors in Aleppo reported on Monday that the truce held for a third day.
<img src=x onerror="window.__xss=1; alert('xss')"> <script>window.__xss=2</script>
The monitors said that bread deliveries resumed in the eastern districts of Aleppo.
"""
NEW_ARTICLE = """Harbor City Approves Amberline Footbridge

The Harbor City council voted on Tuesday to build a pedestrian footbridge across the Velt River.
The footbridge will be named the Amberline Bridge and will cost 14 million euros.
Construction is planned to start next spring.
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`qa serve` on a free loopback port over a small real corpus; stopped afterwards."""
    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "aleppo-monitors.txt").write_text(XSS_ARTICLE)
    import json

    (corpus / "reuters.jsonl").write_text(
        "\n".join(json.dumps(a) for a in dev_articles(12)) + "\n")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index")
    rebuild(settings)
    port = free_port()
    env = {**os.environ, "QA_MODEL_CACHE_DIR": str(ROOT / "indexes" / "models"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--corpus", str(corpus), "--index",
         str(root / "index"), "--port", str(port)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"qa serve exited: {(root / 'serve.log').read_text()}")
        if "qa is serving" in (root / "serve.log").read_text():
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("qa serve did not start in 180 s")
    yield {"url": url, "corpus": corpus, "root": root, "pid": proc.pid}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def page(browser, app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []  # any alert() would mean injected script ran
    page.accept_dialogs = False  # a test that expects a confirm() sets this
    page.on("dialog", lambda d: (page.dialogs.append(d.message),
                                 d.accept() if page.accept_dialogs else d.dismiss()))
    page.goto(app["url"])
    page.locator("#qa-question textarea").wait_for()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def ask(page, question: str, timeout: float = 120) -> list[str]:
    """Type a question, press Enter, and return the bot message's successive texts until the
    verified answer is in (a citation chip or a refusal)."""
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    bot = page.locator("#qa-chat [data-testid=bot]").last
    seen: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        if bot.count():
            text = bot.inner_text()
            if not seen or seen[-1] != text:
                seen.append(text)
            done = page.locator("#qa-panel .qa-turn").count() >= 1 and \
                question[:30] in page.locator("#qa-panel").inner_text()
            if done:
                seen.append(bot.inner_text())
                return seen
        time.sleep(0.05)
    raise AssertionError(f"no answer within {timeout} s; saw {seen[-3:]}")


def test_seed_question_streams_and_its_chip_opens_the_article_at_the_quote(page) -> None:
    from playwright.sync_api import expect

    seen = ask(page, SEED_QUESTION)
    assert len({s for s in seen if s.strip() not in ("", "…")}) >= 2, seen  # it streamed
    final = seen[-1]
    assert "opposition" in final.lower(), final
    chip = page.locator('#qa-chat a[href^="#qa-cite-1-"]').first
    expect(chip).to_have_text("[1]")
    source = page.locator("#qa-src-1-1")
    expect(source).to_contain_text("Russia Pushes For Peace Talks")
    expect(source.locator("blockquote mark")).to_contain_text("invite opposition representatives")
    chip.click()
    article = page.locator("#qa-art-1-1")
    expect(article).to_be_visible()
    mark = article.locator("mark.qa-quote")
    expect(mark).to_contain_text("invite opposition representatives")
    expect(mark).to_be_in_viewport()
    # The status line shows the model and the index size.
    expect(page.locator("#qa-status")).to_contain_text("14 articles")
    page.screenshot(path=str(ARTIFACTS / "ui-seed-answer.png"), full_page=True)  # uncropped
    # "New chat" clears everything.
    page.locator("#qa-new").click()
    expect(page.locator("#qa-chat [data-testid=bot]")).to_have_count(0)
    expect(page.locator("#qa-panel .qa-turn")).to_have_count(0)


def test_follow_up_is_rewritten_with_the_chat_history(page) -> None:
    from playwright.sync_api import expect

    ask(page, "Who will Sergei Lavrov meet in Moscow?")
    ask(page, "When will he meet him?")
    expect(page.locator("#qa-panel .qa-turn")).to_have_count(2)
    searched = page.locator("#qa-turn-2 .qa-searched")
    expect(searched).to_contain_text("Searched for:")
    assert re.search("lavrov|mistura", searched.inner_text(), re.I), searched.inner_text()


def test_refused_question_shows_the_closest_passages(page) -> None:
    from playwright.sync_api import expect

    final = ask(page, "What is the capital of France?")[-1]
    assert "The articles don't say" in final, final
    expect(page.locator("#qa-panel")).to_contain_text("Closest passages")
    assert page.locator("#qa-panel .qa-source").count() >= 1
    assert page.locator('#qa-chat a[href^="#qa-cite-"]').count() == 0


def test_script_in_articles_and_questions_stays_inert(page) -> None:
    from playwright.sync_api import expect

    q = 'What did the ceasefire monitors in Aleppo report? <img src=x onerror="window.__xss=3">'
    ask(page, q)
    panel = page.locator("#qa-panel")
    panel.locator(".qa-open").first.click()  # open the article (the payload's full text)
    expect(panel).to_contain_text("<script>window.__xss=2</script>")
    expect(page.locator("#qa-chat")).to_contain_text('<img src=x onerror="window.__xss=3">')
    time.sleep(0.5)
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    assert page.locator("#qa-panel img, #qa-panel script, #qa-chat img[src=x]").count() == 0


def test_upload_rebuild_and_ask_about_the_new_article(page, app) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files([
        {"name": "amberline.txt", "mimeType": "text/plain", "buffer": NEW_ARTICLE.encode()},
    ])
    expect(page.locator("#qa-upload-result")).to_contain_text("amberline.txt added")
    assert (app["corpus"] / "amberline.txt").read_text() == NEW_ARTICLE
    page.locator("#qa-rebuild").click()
    expect(page.locator("#qa-rebuild-result")).to_contain_text("1 added", timeout=120_000)
    page.locator("#qa-search input, #qa-search textarea").first.fill("amberline")
    expect(page.locator("#qa-articles")).to_contain_text("Harbor City Approves Amberline")
    page.get_by_role("tab", name="Ask").click()
    final = ask(page, "What will the new footbridge across the Velt River be named?")[-1]
    # The answer comes from the uploaded article and cites it. Which of its sentences the 0.5B
    # model copies varies with the rest of the prompt ("...named the Amberline Bridge", or the
    # council's vote); answer quality is measured by `qa eval` and the floors in test_e2e.py.
    assert "The articles don't say" not in final and "[1]" in final, final
    assert "Velt River" in final or "Amberline" in final, final
    expect(page.locator("#qa-src-1-1")).to_contain_text("Harbor City Approves Amberline")
    # Deleting the file and rebuilding removes it from the index.
    page.get_by_role("tab", name="Articles").click()
    dd = page.locator("#qa-delete-file input")
    dd.click()
    page.get_by_role("option", name="amberline.txt").click()
    page.locator("#qa-delete").click()  # the confirmation is dismissed: nothing is deleted
    expect(page.locator("#qa-delete-file")).to_contain_text("File to delete")
    page.wait_for_timeout(1000)
    assert page.dialogs and page.dialogs[-1].startswith("Delete amberline.txt from the corpus")
    assert (app["corpus"] / "amberline.txt").exists()
    page.accept_dialogs = True
    page.locator("#qa-delete").click()
    expect(page.locator("#qa-delete-result")).to_contain_text("amberline.txt deleted")
    assert not (app["corpus"] / "amberline.txt").exists()
    page.locator("#qa-rebuild").click()
    expect(page.locator("#qa-rebuild-result")).to_contain_text("1 removed", timeout=120_000)


def test_empty_question_is_a_readable_notice(page) -> None:
    from playwright.sync_api import expect

    box = page.locator("#qa-question textarea")
    box.fill("   ")
    box.press("Enter")
    expect(page.get_by_text(re.compile("The question is empty"))).to_be_visible(timeout=30_000)
    assert "Traceback" not in page.content()
    # One message: no "Error" badge over the chat, the question box or the Sources panel.
    page.wait_for_timeout(500)
    assert page.get_by_text("Error", exact=True).count() == 0
    expect(page.locator("#qa-chat")).to_be_visible()


def test_date_filter_and_top_k_reach_retrieval(page) -> None:
    from playwright.sync_api import expect

    page.get_by_text("Filters and settings").click()
    page.get_by_label("From date").fill("2030-01-01")
    final = ask(page, SEED_QUESTION)[-1]
    assert "No article is dated on or after 2030-01-01" in final, final  # and says why
    expect(page.locator("#qa-panel")).not_to_contain_text("Russia Pushes For Peace Talks")
    page.get_by_label("From date").fill("31/12/2015")
    page.locator("#qa-question textarea").fill(SEED_QUESTION)
    page.locator("#qa-question textarea").press("Enter")
    expect(page.get_by_text(re.compile("From date '31/12/2015' is not a date; use YYYY-MM-DD"))
           .last).to_be_visible(timeout=30_000)
    assert page.get_by_text("Error", exact=True).count() == 0


def test_upload_of_a_disallowed_type_is_refused(page, app) -> None:
    page.get_by_role("tab", name="Articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files([
        {"name": "evil.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"},
    ])
    page.wait_for_timeout(1500)
    assert not (app["corpus"] / "evil.exe").exists()
    assert not list(app["corpus"].glob("evil*"))


def test_server_listens_on_loopback_only(app) -> None:
    import psutil

    listening = [c.laddr for c in psutil.Process(app["pid"]).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening


def test_sixteen_concurrent_questions_are_all_answered_in_order(app) -> None:
    """16 clients at once (think: open tabs) through the running UI's queue, real LLM."""
    import psutil
    from gradio_client import Client

    server = psutil.Process(app["pid"])
    Client(app["url"], verbose=False).predict(SEED_QUESTION, api_name="/ask")  # models paged in
    rss_before = server.memory_info().rss
    questions = [SEED_QUESTION if i % 2 == 0 else "Who will Sergei Lavrov meet in Moscow?"
                 for i in range(16)]
    clients = [Client(app["url"], verbose=False) for _ in questions]
    jobs, finished = [], []
    for i, (client, q) in enumerate(zip(clients, questions, strict=True)):
        job = client.submit(q, api_name="/ask")
        job.add_done_callback(lambda _f, i=i: finished.append(i))
        jobs.append(job)
        # A definite arrival order: the next client asks only once the server has queued this
        # one. A fixed pause is not enough on 2 busy cores, where a client's joining thread
        # can be overtaken by the next one's.
        _wait_until_queued(job)
    results = [job.result(timeout=900) for job in jobs]
    assert len(results) == 16  # none lost
    assert finished == list(range(16)), finished  # first come, first served
    article = (ROOT / "corpus" / "russia-pushes-for-peace-talks.txt").read_text()
    for q, got in zip(questions, results, strict=True):
        assert not got["refused"], (q, got)
        c = got["citations"][0]
        assert c["article_id"] == "russia-pushes-for-peace-talks.txt"
        assert article[c["start"]:c["end"]] == c["quote"]
    grown = (server.memory_info().rss - rss_before) / 2**20
    print(f"server RSS {rss_before / 2**20:.0f} MB before, grew {grown:.0f} MB")
    assert grown < 250, f"serving 16 questions grew the server by {grown:.0f} MB"


def _wait_until_queued(job, timeout: float = 120.0) -> None:
    from gradio_client.utils import Status

    deadline = time.monotonic() + timeout
    while job.status().code in (Status.STARTING, Status.JOINING_QUEUE):
        assert time.monotonic() < deadline, "the server did not queue the question"
        time.sleep(0.05)


def test_a_browser_and_sixteen_api_clients_share_the_model_in_order(page, app) -> None:
    """The page and 16 `openai` clients of /v1/chat/completions at once, one real LLM: the
    page gets its answer, every client its own, in the order they came."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    import openai

    questions = [SEED_QUESTION if i % 2 == 0 else "Who will Sergei Lavrov meet in Moscow?"
                 for i in range(16)]
    finished: list[int] = []
    sending = [threading.Event() for _ in questions]

    def announcing(i: int) -> httpx.Client:
        def hook(request: httpx.Request) -> None:
            if request.url.path.endswith("/chat/completions"):
                sending[i].set()
        return httpx.Client(event_hooks={"request": [hook]}, timeout=900)

    # Clients built and their first request made before the race: the openai package loads
    # its resources on first use, which would delay whichever thread came first.
    clients = [openai.OpenAI(base_url=app["url"] + "v1", api_key="unused", max_retries=0,
                             timeout=900, http_client=announcing(i))
               for i in range(len(questions))]
    for client in clients:
        assert client.models.list().data[0].id == "qa"

    def api(i: int, q: str):
        got = clients[i].chat.completions.create(model="qa",
                                                 messages=[{"role": "user", "content": q}])
        finished.append(i)
        return got

    box = page.locator("#qa-question textarea")
    box.fill(SEED_QUESTION)
    box.press("Enter")
    with ThreadPoolExecutor(len(questions)) as pool:
        jobs = []
        for i, q in enumerate(questions):
            jobs.append(pool.submit(api, i, q))
            # A definite arrival order: the next client starts once this one is sending, and
            # a moment later (a thread's start alone can be overtaken on 2 busy cores).
            assert sending[i].wait(120), "the client did not send its question"
            time.sleep(0.3)
        panel = page.locator("#qa-panel")
        deadline = time.time() + 900
        while not (panel.locator(".qa-turn").count() and SEED_QUESTION[:20] in panel.inner_text()):
            assert time.time() < deadline, "the page got no answer"
            time.sleep(0.2)
        results = [job.result(timeout=900) for job in jobs]
    assert "opposition" in page.locator("#qa-chat [data-testid=bot]").last.inner_text().lower()
    assert finished == list(range(16)), finished  # first come, first served; none lost
    article = (ROOT / "corpus" / "russia-pushes-for-peace-talks.txt").read_text()
    for got in results:
        extra = got.model_extra
        assert not extra["refused"] and extra["citations"], extra
        c = extra["citations"][0]
        assert article[c["start"]:c["end"]] == c["quote"]


class _BreaksOnce:
    """An LLM backend that dies after two words on its first answer, then works."""

    name = "breaks-once"

    def __init__(self) -> None:
        self.calls = 0

    def stream(self, messages, max_tokens):
        from qa.errors import LLMError

        self.calls += 1
        yield "Russia"
        yield " invited"
        if self.calls == 1:
            raise LLMError("The LLM server at http://127.0.0.1:9/v1 stopped in the middle of "
                           "the answer. Ask again.")
        yield " opposition representatives to Moscow [1]."


def test_llm_failing_mid_stream_shows_an_error_and_the_next_question_works(
        browser, settings, embedder) -> None:
    from playwright.sync_api import expect

    from qa.engine import Engine
    from qa.ui import build_ui, launch

    rebuild(settings, embedder=embedder)
    demo = build_ui(settings, Engine(settings, llm=_BreaksOnce(), embedder=embedder))
    url = launch(demo, settings, port=free_port(), block=False)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        box = page.locator("#qa-question textarea")
        box.fill(SEED_QUESTION)
        box.press("Enter")
        bot = page.locator("#qa-chat [data-testid=bot]").last
        expect(bot).to_contain_text("stopped in the middle of the answer", timeout=30_000)
        expect(box).to_have_value(SEED_QUESTION)  # nothing lost: the question is back
        assert "Traceback" not in page.content()
        box.press("Enter")
        expect(page.locator('#qa-chat a[href^="#qa-cite-"]').first).to_be_visible(timeout=30_000)
        expect(page.locator("#qa-panel .qa-source")).to_have_count(1)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-llm-failure-then-answer.png"))
    finally:
        context.close()
        demo.close()
