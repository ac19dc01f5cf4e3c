"""`qa feeds`: pulls from a real loopback server of RSS, Atom and JSON feeds and their pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from qa import Settings
from qa.corpus import read_corpus
from qa.feeds import add_feed, list_feeds, pull, remove_feed
from qa.records import Article

from .newspages import Page, article_pages
from .newsserver import NewsServer, Route

PAGES = article_pages(24)


def _when(day: int) -> str:
    return format_datetime(datetime(2023, 11, day, 8, tzinfo=UTC), usegmt=True)


def rss(items: list[tuple[str, Page, int]], title: str = "Example RSS") -> bytes:
    """An RSS 2.0 feed of (link, page, day of November) items."""
    body = "".join(
        f"<item><title>{escape(p.title)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{escape(p.path)}</guid><pubDate>{_when(day)}</pubDate>"
        f"<description>{escape(p.text[:200])}</description></item>" for link, p, day in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.com/</link>{body}</channel></rss>").encode()


def atom(base: str, pages: list[Page]) -> bytes:
    entries = "".join(
        f"<entry><title>{escape(p.title)}</title><link href='{base}{p.path}'/>"
        f"<id>urn:test:{p.path}</id><updated>2023-11-0{i + 1}T10:00:00Z</updated>"
        f"<summary>{escape(p.text[:100])}</summary></entry>" for i, p in enumerate(pages))
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Example Atom</title><id>urn:test:atom</id>"
            f"<updated>2023-11-09T10:00:00Z</updated>{entries}</feed>").encode()


def json_feed(base: str, pages: list[Page]) -> bytes:
    items = [{"id": p.path, "url": base + p.path, "title": p.title,
              "content_text": p.text, "date_published": f"{p.date}T00:00:00Z"} for p in pages]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Example JSON",
                       "items": items}).encode()


@pytest.fixture
def server():
    with NewsServer() as srv:
        for p in PAGES:
            srv.routes[p.path] = Route(p.html.encode())
        b = srv.base
        srv.routes["/rss.xml"] = Route(
            rss([(b + p.path + "?utm_source=rss", p, i + 1) for i, p in enumerate(PAGES[:6])]),
            content_type="application/rss+xml", etag='"v1"')
        srv.routes["/atom.xml"] = Route(atom(b, PAGES[6:10]), content_type="application/atom+xml",
                                        last_modified=_when(9))
        srv.routes["/relative.xml"] = Route(rss([(p.path, p, 3) for p in PAGES[10:13]]),
                                            content_type="application/xml")
        srv.routes["/feed.json"] = Route(json_feed(b, PAGES[13:16]),
                                         content_type="application/feed+json")
        srv.routes["/not-a-feed"] = Route(b"<html><body><p>Just a page.</p></body></html>")
        yield srv


def _settings(tmp_path: Path) -> Settings:
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
                    allow_private_urls=True, fetch_timeout=2.0)


def _stored(settings: Settings) -> dict[str, Article]:
    return {a.source_path: a for a in read_corpus(settings.corpus_dir)
            if isinstance(a, Article)}


def _files(settings: Settings) -> dict[str, int]:
    root = Path(settings.corpus_dir)
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file()}


def test_first_pull_adds_every_entry_and_a_second_fetches_no_page(tmp_path: Path,
                                                                  server: NewsServer) -> None:
    s = _settings(tmp_path)
    for path in ("/rss.xml", "/atom.xml", "/relative.xml", "/feed.json", "/not-a-feed"):
        assert add_feed(s, server.url(path))
    assert not add_feed(s, server.url("/rss.xml"))
    first = pull(s)
    assert len(first.added) == 16 and first.updated == []
    assert [u for u, _ in first.failed] == [server.url("/not-a-feed")]
    assert "not an RSS, Atom or JSON feed" in first.failed[0][1]
    stored = _stored(s)
    by_title = {a.title: a for a in stored.values()}
    for p in PAGES[:16]:  # every entry's page, extracted, under corpus/feeds/<site>/
        a = by_title[p.title]
        assert a.text == p.text and a.date == p.date
        assert a.source_path.startswith("feeds/")
    pages_fetched, files = server.page_hits(), _files(s)
    assert pages_fetched == 16

    second = pull(s)
    assert server.page_hits() == pages_fetched  # no page fetched again
    assert _files(s) == files  # nothing written
    assert (second.added, second.updated) == ([], [])
    assert second.not_modified == 2  # the ETag and the Last-Modified feed answered 304
    listed = {f["url"]: f for f in list_feeds(s)}
    assert listed[server.url("/rss.xml")]["entries"] == 6
    assert listed[server.url("/rss.xml")]["title"] == "Example RSS"


def test_an_entry_edited_upstream_updates_its_article(tmp_path: Path,
                                                      server: NewsServer) -> None:
    s = _settings(tmp_path)
    add_feed(s, server.url("/rss.xml"))
    pull(s)
    before = {a.title: a for a in _stored(s).values()}[PAGES[0].title]
    edited = PAGES[0].html.replace(PAGES[0].text.split("\n\n")[0][:40],
                                   "CORRECTION: an edited opening")
    server.routes[PAGES[0].path] = Route(edited.encode())
    items = [(server.url(p.path), p, i + 1) for i, p in enumerate(PAGES[:6])]
    items[0] = (items[0][0], items[0][1], 20)  # a new pubDate: the entry changed
    server.routes["/rss.xml"] = Route(rss(items), content_type="application/rss+xml",
                                      etag='"v2"')
    report = pull(s)
    assert report.updated == [before.source_path] and report.added == []
    after = _stored(s)[before.source_path]
    assert after.id == before.id and "CORRECTION: an edited opening" in after.text


def test_url_variants_collapse_to_one_article(tmp_path: Path, server: NewsServer) -> None:
    p = PAGES[3]  # a page that declares no canonical URL of its own is keyed by its address
    link = server.url(p.path)
    variants = [link, link + "?utm_source=x&utm_medium=y", link + "?fbclid=abc#comments"]
    server.routes["/variants.xml"] = Route(rss([(v, p, i + 1) for i, v in enumerate(variants)]))
    s = _settings(tmp_path)
    add_feed(s, server.url("/variants.xml"))
    report = pull(s)
    assert len(report.added) == 1 and report.unchanged == 2
    assert list(_stored(s)) == report.added


def test_a_failing_page_falls_back_to_the_feed_text_and_bad_feeds_do_not_stop_a_pull(
        tmp_path: Path, server: NewsServer) -> None:
    gone = Page("/news/gone.html", "A story whose page is gone", "", "", "", "")
    body = ("The feed carries the full story. " * 8).strip()
    server.routes["/full.xml"] = Route(
        f'<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/'
        f'modules/content/"><channel><title>Full</title><item><title>{gone.title}</title>'
        f"<link>{server.url(gone.path)}</link><pubDate>{_when(5)}</pubDate><content:encoded>"
        f"<![CDATA[<p>{body}</p>]]></content:encoded></item></channel></rss>".encode())
    s = _settings(tmp_path)
    unreachable = "http://127.0.0.1:9/feed.xml"  # the discard port: nothing listens
    for url in (unreachable, server.url("/full.xml"), server.url("/missing.xml")):
        add_feed(s, url)
    report = pull(s)
    assert [u for u, _ in report.failed] == [unreachable, server.url("/missing.xml")]
    assert "HTTP 404" in report.failed[1][1]
    [stored] = _stored(s).values()
    assert stored.title == gone.title and stored.text == body and stored.date == "2023-11-05"


def test_remove_keeps_the_stored_articles(tmp_path: Path, server: NewsServer) -> None:
    s = _settings(tmp_path)
    add_feed(s, server.url("/feed.json"))
    pull(s)
    remove_feed(s, server.url("/feed.json"))
    assert list_feeds(s) == [] and len(_stored(s)) == 3
    with pytest.raises(Exception, match="not on the feed list"):
        remove_feed(s, server.url("/feed.json"))
    leftovers = [p for p in Path(s.corpus_dir).rglob("*") if p.name.startswith(".qa-partial-")]
    assert leftovers == []


@pytest.mark.slow
def test_a_kill_during_a_pull_leaves_no_half_written_article(tmp_path: Path,
                                                              server: NewsServer) -> None:
    import signal
    import subprocess
    import sys
    import time

    for p in PAGES[:10]:
        server.routes[p.path].delay = 0.4  # slow pages: the kill lands mid-pull
    server.routes["/ten.xml"] = Route(rss([(server.url(p.path), p, 1) for p in PAGES[:10]]))
    s = _settings(tmp_path)
    add_feed(s, server.url("/ten.xml"))
    cmd = [sys.executable, "-m", "qa", "feeds", "pull", "--corpus", str(s.corpus_dir),
           "--index", str(s.index_dir), "--allow-private"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and len(_stored(s)) < 3:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    texts = {p.title: p.text for p in PAGES[:10]}
    first = _stored(s)
    assert 3 <= len(first) < 10  # killed part-way
    assert all(a.text == texts[a.title] for a in first.values())  # each one whole
    report = pull(s)  # the next pull completes the rest
    assert len(report.added) == 10 - len(first) and report.failed == []
    assert {a.title: a.text for a in _stored(s).values()} == texts


def test_an_entry_stored_from_the_feed_text_is_retried_though_the_feed_is_unchanged(
        tmp_path: Path, server: NewsServer) -> None:
    p = PAGES[20]
    server.routes["/one.xml"] = Route(rss([(server.url(p.path), p, 1)]), etag='"same"')
    server.routes[p.path] = Route(b"down for maintenance", status=503)
    s = _settings(tmp_path)
    add_feed(s, server.url("/one.xml"))
    [stored] = pull(s).added  # the feed's 200-character description, for now
    assert _stored(s)[stored].text == p.text[:200].strip()
    server.routes[p.path] = Route(p.html.encode())
    second = pull(s)
    assert second.updated == [stored] and second.not_modified == 0
    assert _stored(s)[stored].text == p.text
    third = pull(s)
    assert third.not_modified == 1 and server.hits[p.path] == 2  # the ETag is kept now
