"""Web articles in the index: `add_urls` updates it, and one copy of each article is indexed."""

from __future__ import annotations

from pathlib import Path

from qa import Settings, add_urls, rebuild
from qa.index.schema import live
from qa.index.store import Store

from .newspages import article_pages
from .newsserver import NewsServer, Route

PAGES = article_pages(4)


def _indexed(settings: Settings) -> dict[str, str]:
    """article id -> text hash of the live articles."""
    store = Store(settings)
    gen = store.read_state().generation
    return {m["article_id"]: m.get("text_hash", "")
            for _, m, _ in store.iter_records("articles", live(gen), include=["metadatas"])}


def test_add_url_stores_front_matter_and_updates_the_index(tmp_path: Path, corpus_dir: Path
                                                           ) -> None:
    s = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "ix", allow_private_urls=True)
    with NewsServer() as srv:
        srv.routes[PAGES[1].path] = Route(PAGES[1].html.encode())
        report = add_urls([srv.url(PAGES[1].path) + "?utm_source=newsletter"], s)
        [added] = report.added
        assert report.rebuild is not None and report.rebuild.added == 2  # the seed and this
        stored = (corpus_dir / added.file).read_text()
        assert added.file.startswith("web/") and stored.startswith("---\ntitle: ")
        assert f"url: {PAGES[1].url}" in stored and stored.endswith(PAGES[1].text + "\n")
        assert added.file in _indexed(s)
        again = add_urls([srv.url(PAGES[1].path) + "?fbclid=zz"], s)
        assert [a.file for a in again.added] == [added.file] and not again.added[0].changed
        assert again.rebuild is None  # nothing changed: the index is left alone


def test_the_same_article_twice_is_indexed_once_and_the_summary_names_the_kept_copy(
        tmp_path: Path, corpus_dir: Path, embedder) -> None:
    p = PAGES[0]
    (corpus_dir / "a-page.html").write_text(p.html)
    (corpus_dir / "b-copy.html").write_text(p.html.replace("<title>", "<title>Copy: "))
    fm = "---\ntitle: Same story\nurl: {}\n---\n\n{}\n"
    (corpus_dir / "c.md").write_text(fm.format("https://example.com/story/?utm_source=x",
                                               "One version of the story, first edit."))
    (corpus_dir / "d.md").write_text(fm.format("http://www.example.com/story",
                                               "Another version of the story, a later edit."))
    s = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "ix")
    summary = rebuild(s, embedder=embedder)
    reasons = {k.path: k.reason for k in summary.skipped}
    assert reasons == {
        "b-copy.html": "duplicate: same canonical URL as a-page.html, which is the copy kept",
        "d.md": "duplicate: same canonical URL as c.md, which is the copy kept",
    }
    assert set(_indexed(s)) == {"a-page.html", "c.md", SEED_NAME}
    (corpus_dir / "e.txt").write_text(SEED_TEXT.read_text())  # the same text, another file
    again = rebuild(s, embedder=embedder)
    assert {k.path: k.reason for k in again.skipped}["e.txt"] == (
        f"duplicate: same text as {SEED_NAME}, which is the copy kept")
    assert again.added == 0 and again.unchanged == 3
    (corpus_dir / "a-page.html").unlink()  # the kept copy goes: the other one is indexed
    third = rebuild(s, embedder=embedder)
    assert third.added == 1 and third.removed == 1 and "b-copy.html" in _indexed(s)


SEED_NAME = "russia-pushes-for-peace-talks.txt"
SEED_TEXT = Path(__file__).resolve().parent.parent / "corpus" / SEED_NAME



def test_ui_add_from_url_stores_rebuilds_and_reports_each_url(tmp_path: Path, settings,
                                                              embedder) -> None:
    from qa.engine import Engine
    from qa.models import ScriptedLLM
    from qa.ui.handlers import Handlers
    from qa.ui.news import add_from_url_handler

    s = settings.model_copy(update={"allow_private_urls": True})
    rebuild(s, embedder=embedder)
    h = Handlers(Engine(s, llm=ScriptedLLM([]), embedder=embedder), s)
    with NewsServer() as srv:
        srv.routes[PAGES[2].path] = Route(PAGES[2].html.encode())
        add = add_from_url_handler(h)
        note, box, _status, table, *_ = add(
            f"{srv.url(PAGES[2].path)}\n{srv.url('/gone')}", "", progress=lambda *a, **k: None)
    assert f"✓ {PAGES[2].title}" in note.replace("\\", "")
    assert f"{srv.url('/gone')}: the server answered HTTP 404" in note.replace("\\", "")
    assert "Index updated: 1 added" in note and box == ""
    assert any(PAGES[2].title in str(row) for row in table)


def test_ui_pull_feeds_reports_and_rebuilds(tmp_path: Path, settings, embedder) -> None:
    from qa.engine import Engine
    from qa.feeds import add_feed
    from qa.models import ScriptedLLM
    from qa.ui.handlers import Handlers
    from qa.ui.news import pull_feeds_handler

    from .test_feeds import rss

    s = settings.model_copy(update={"allow_private_urls": True})
    rebuild(s, embedder=embedder)
    h = Handlers(Engine(s, llm=ScriptedLLM([]), embedder=embedder), s)
    steps: list = []
    with NewsServer() as srv:
        srv.routes[PAGES[0].path] = Route(PAGES[0].html.encode())
        srv.routes["/rss.xml"] = Route(rss([(srv.url(PAGES[0].path), PAGES[0], 2)]))
        add_feed(s, srv.url("/rss.xml"))
        add_feed(s, srv.url("/gone.xml"))
        note, _status, table, *_ = pull_feeds_handler(h)(
            "", progress=lambda *a, **k: steps.append(a[0]))
    assert "1 article added" in note and "Index updated: 1 added" in note
    assert f"{srv.url('/gone.xml')}: the server answered HTTP 404" in note.replace("\\", "")
    assert steps[:3] == [(0, 2), (1, 2), (2, 2)]  # feeds pulled, then the rebuild's own bar
    assert any(PAGES[0].title in str(row) for row in table)


def test_pull_every_pulls_and_updates_the_index(tmp_path: Path, settings, embedder) -> None:
    import threading

    from qa.engine import Engine
    from qa.feeds import add_feed
    from qa.models import ScriptedLLM
    from qa.ui.news import parse_every, start_pulling

    from .test_feeds import rss

    assert parse_every("30m") == 1800 and parse_every("2h") == 7200
    s = settings.model_copy(update={"allow_private_urls": True})
    rebuild(s, embedder=embedder)
    engine = Engine(s, llm=ScriptedLLM([]), embedder=embedder)
    with NewsServer() as srv:
        srv.routes[PAGES[3].path] = Route(PAGES[3].html.encode())
        srv.routes["/rss.xml"] = Route(rss([(srv.url(PAGES[3].path), PAGES[3], 2)]))
        add_feed(s, srv.url("/rss.xml"))
        stop = threading.Event()
        t = start_pulling(engine, s, 3600, stop)
        deadline = 600
        while deadline and len(_indexed(s)) < 2:
            stop.wait(0.1)
            deadline -= 1
        stop.set()
        t.join(timeout=60)
    assert any(aid.startswith("feeds/") for aid in _indexed(s))
    assert srv.hits["/rss.xml"] == 1  # one pull: the next waits for the interval
