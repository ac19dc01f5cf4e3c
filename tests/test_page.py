"""The page's layout and controls in a real browser (Debian's Chromium via Playwright) against
the real UI, index and embeddings with a scripted LLM: no language model is loaded, so these
run fast and need no LLM lock. Walked at desktop and phone sizes; screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from qa import Settings, rebuild
from qa.engine import Engine
from qa.models import ScriptedLLM

from .helpers import ROOT, SEED_QUESTION, dev_articles, free_port

ARTIFACTS = ROOT / "test-artifacts"
LONG_FILE = "reuters-commodities-and-company-news-february-1987.jsonl"
REPLY = "Russia invited opposition representatives to a consultation in Moscow [1]."
SIZES = {"desktop": (1280, 900), "mobile": (390, 844)}


@pytest.fixture(scope="module")
def url(tmp_path_factory, embedder):
    from qa.ui import build_ui, launch

    root = tmp_path_factory.mktemp("page")
    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / LONG_FILE).write_text("\n".join(json.dumps(a) for a in dev_articles(6)) + "\n")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index")
    rebuild(settings, embedder=embedder)
    engine = Engine(settings, llm=ScriptedLLM(lambda messages: REPLY), embedder=embedder)
    demo = build_ui(settings, engine)
    address = launch(demo, settings, port=free_port(), block=False)
    yield address
    demo.close()


@pytest.fixture(params=list(SIZES))
def page(browser, url, request):
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.size_name = request.param
    page.goto(url)
    page.locator("#qa-question textarea").wait_for()
    yield page
    context.close()


def shot(page, what: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{what}-{page.size_name}.png"), full_page=True)


def test_header_status_and_examples_from_the_index(page) -> None:
    """The page says what it is, the status line is plain words, and the examples are made
    from the indexed articles (clicking one puts it in the box)."""
    from playwright.sync_api import expect

    expect(page.locator("#qa-header")).to_contain_text("questions over your news articles")
    expect(page.locator("#qa-status")).to_contain_text(re.compile(
        r"^\s*7 articles · updated \d{1,2} \w{3} \d{4}, \d\d:\d\d · answers by qwen"))
    examples = page.locator("#qa-examples button")
    expect(examples.first).to_be_visible(timeout=30_000)
    texts = [t.strip() for t in examples.all_inner_texts()]
    assert len(texts) == 3 and SEED_QUESTION not in texts, texts
    assert all(t.startswith("What do the articles say about “") for t in texts), texts
    examples.nth(1).click()
    expect(page.locator("#qa-question textarea")).to_have_value(texts[1])
    shot(page, "ask")


def test_articles_table_and_delete_control(page) -> None:
    """Proportional font, one-line column headers, a cut file name whole on hover, and a
    destructive Delete button under "File to delete" that asks before deleting."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Articles").click()
    table = page.locator("#qa-articles")
    expect(table).to_contain_text(LONG_FILE[:20])
    cell = table.locator("[role=gridcell]", has_text=LONG_FILE[:20]).first
    font = cell.evaluate("e => getComputedStyle(e.querySelector('.cell-wrap') || e).fontFamily")
    assert "monospace" not in font, font
    for header in ("Title", "Date", "Source", "Chunks", "File"):
        span = table.locator("[role=columnheader]:visible span", has_text=header).first
        assert span.evaluate("e => e.getClientRects().length") == 1, header
        assert span.evaluate("e => e.offsetHeight < 2.2 * parseFloat(getComputedStyle(e)"
                             ".lineHeight || 20)"), header
    cell.hover()
    assert cell.get_attribute("title") == LONG_FILE
    expect(page.locator("#qa-delete-file")).to_contain_text("File to delete")
    red, green, blue = map(int, re.findall(r"\d+", page.locator("#qa-delete").evaluate(
        "e => getComputedStyle(e).backgroundColor"))[:3])
    assert red > 150 and green < 90 and blue < 90, (red, green, blue)
    shot(page, "articles")


def test_delete_asks_first_and_a_cancel_keeps_the_file(page, url) -> None:
    page.get_by_role("tab", name="Articles").click()
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator("#qa-delete-file input").click()
    page.get_by_role("option", name=LONG_FILE).click()
    page.locator("#qa-delete").click()
    page.wait_for_timeout(1000)
    assert asked and asked[0].startswith(f"Delete {LONG_FILE} from the corpus folder?"), asked
    assert "deleted" not in page.locator("#qa-delete-result").inner_text()


def ask(page, question: str) -> None:
    from playwright.sync_api import expect

    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator('#qa-chat a[href^="#qa-cite-"]').first).to_be_visible(timeout=60_000)


def test_source_viewer_keeps_its_head_in_view_and_closes(page) -> None:
    """The chip opens the article with its head (title, date, file) at the top of the scroll
    box, the quote below the head rather than under it, no bare score, and a Close control."""
    from playwright.sync_api import expect

    ask(page, SEED_QUESTION)
    page.locator('#qa-chat a[href^="#qa-cite-"]').first.click()
    article = page.locator("#qa-panel .qa-article:visible").first
    expect(article).to_be_visible()
    head = article.locator(".qa-article-head")
    expect(head).to_contain_text("Russia Pushes For Peace Talks")
    expect(head).to_contain_text("russia-pushes-for-peace-talks.txt")
    page.wait_for_timeout(500)  # the smooth scroll settles
    box, top, mark = (el.bounding_box() for el in (article, head, article.locator("mark")))
    assert abs(top["y"] - box["y"]) < 2  # the head sits at the top of the scroll box
    assert mark["y"] >= top["y"] + top["height"] - 1, (mark, top)  # the quote is not under it
    assert "score" not in page.locator("#qa-panel").inner_text()
    shot(page, "viewer")
    head.locator(".qa-close").click()
    expect(article).to_be_hidden()
    expect(page.locator("#qa-panel .qa-source.qa-active")).to_have_count(0)


def test_phone_layout_puts_sources_under_the_answer_and_scrolls_the_table(browser, url) -> None:
    """At 390×844 the Sources come right after the question box (before the examples and
    filters), a refusal points "under Sources", and the article table scrolls sideways with a
    hint, its headers whole."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.size_name = "mobile"
        page.goto(url)
        ask(page, SEED_QUESTION)
        y = {name: page.locator(sel).first.bounding_box()["y"] for name, sel in {
            "box": "#qa-question", "sources": "#qa-right", "examples": "#qa-examples",
            "filters": "#qa-filters"}.items()}
        assert y["box"] < y["sources"] < y["examples"] < y["filters"], y
        page.get_by_role("tab", name="Articles").click()
        expect(page.locator("#qa-table-hint")).to_be_visible()
        scroller = page.locator("#qa-articles").evaluate_handle(
            "t => [...t.querySelectorAll('*')].find(e => e.scrollWidth > e.clientWidth + 20 "
            "&& getComputedStyle(e).overflowX !== 'visible' "
            "&& getComputedStyle(e).overflowX !== 'hidden')")
        assert scroller.evaluate("e => !!e"), "no sideways-scrolling table container"
        header = page.locator("#qa-articles [role=columnheader]:visible span",
                              has_text="File").first
        assert header.evaluate("e => e.getBoundingClientRect().left") > 390  # off screen...
        scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        page.wait_for_timeout(300)
        assert header.evaluate("e => e.getBoundingClientRect().right") <= 392  # ...scrolled in
        for name in ("Date", "Source", "Chunks"):
            span = page.locator("#qa-articles [role=columnheader]:visible span", has_text=name)
            assert span.first.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), name
        shot(page, "articles-scrolled")
    finally:
        context.close()


def test_refusal_note_does_not_say_beside() -> None:
    from qa.records import Answer, Passage
    from qa.ui.render import answer_markdown

    p = Passage(chunk_id="a:0", article_id="a", title="T", text="x", start=0, end=1)
    note = answer_markdown(Answer(question="q", text="The articles don't say.", refused=True,
                                  passages=[p]), 1)
    assert "under Sources" in note and "beside" not in note


def test_active_filters_stay_visible_as_chips(page) -> None:
    from playwright.sync_api import expect

    page.get_by_text("Filters and settings").click()
    page.get_by_label("From date").fill("1987-02-26")
    page.get_by_label("From date").press("Tab")
    page.get_by_text("Filters and settings").click()  # closed again
    expect(page.get_by_label("From date")).to_be_hidden()
    chips = page.locator("#qa-filter-chips .qa-chip-filter")
    # A server round trip, which can wait behind the page's load events on a busy machine
    # (in CI the 5 s default once saw no chip): the same allowance as the examples' load.
    expect(chips).to_have_text(["dated on or after 1987-02-26"], timeout=30_000)
    chat = page.locator("#qa-chat").bounding_box()
    assert chips.first.bounding_box()["y"] < chat["y"]  # above the chat
    page.get_by_text("Filters and settings").click()
    page.get_by_label("From date").fill("")
    page.get_by_label("From date").press("Tab")
    expect(chips).to_have_count(0, timeout=30_000)


def test_upload_is_pending_at_once_and_rebuild_clears_the_hint(browser, url) -> None:
    """Runs last in this module: it changes the index the other tests read."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.size_name = "desktop"
        page.goto(url)
        page.get_by_role("tab", name="Articles").click()
        page.locator("#qa-upload input[type=file]").set_input_files([{
            "name": "kestrel.txt", "mimeType": "text/plain",
            "buffer": b"Kestrel Bay Gets New Cranes\n\nFour cranes arrive in April.\n"}])
        expect(page.locator("#qa-upload-result")).to_contain_text("kestrel.txt added")
        expect(page.locator("#qa-upload-result")).to_contain_text("Rebuild index")
        row = page.locator("#qa-articles [role=row]", has_text="kestrel.txt")
        expect(row).to_contain_text("(pending rebuild)")
        page.locator("#qa-rebuild").click()
        expect(page.locator("#qa-rebuild-result")).to_contain_text("1 added", timeout=60_000)
        expect(page.locator("#qa-upload-result")).not_to_contain_text("Rebuild index")
        expect(row).to_contain_text("Kestrel Bay Gets New Cranes")
        expect(page.locator("#qa-articles")).not_to_contain_text("(pending rebuild)")
        assert "%" not in page.locator("#qa-status").inner_text()  # no progress drawn there
        shot(page, "rebuilt")
    finally:
        context.close()
