"""Pages by URL from a real server on loopback: extraction quality, safety, errors, `qa add`."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from qa import Settings, add_urls
from qa.corpus.fetch import Limits, fetch, new_client
from qa.corpus.urls import canonical_url
from qa.corpus.webfiles import page_article
from qa.errors import FetchError

from .newspages import BOILERPLATE, article_pages
from .newsserver import NewsServer, Route

PAGES = article_pages(36)


@pytest.fixture(scope="module")
def server():
    with NewsServer() as srv:
        for p in PAGES:
            srv.routes[p.path] = Route(p.html.encode())
        good = PAGES[0].html.encode()
        srv.routes["/moved"] = Route(status=301, headers={"Location": PAGES[0].path})
        srv.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
        srv.routes["/broken"] = Route(b"<html><body>oops</body></html>", status=500)
        srv.routes["/slow"] = Route(good, delay=3.0)
        srv.routes["/trickle"] = Route(good, drip=0.25)
        srv.routes["/huge"] = Route(good + b"<p>" + b"word " * 400_000 + b"</p>")
        srv.routes["/binary"] = Route(bytes(range(256)) * 64)
        srv.routes["/image"] = Route(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
                                     content_type="image/png")
        srv.routes["/empty"] = Route(b"<html><head><title>Menu</title></head><body><nav>"
                                     b"<a href='/'>Home</a></nav></body></html>")
        yield srv


def _settings(tmp_path: Path, **kw) -> Settings:
    kw = {"allow_private_urls": True, "fetch_timeout": 1.0, **kw}
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", **kw)


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def token_f1(got: str, want: str) -> float:
    a, b = _tokens(got), _tokens(want)
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def test_extraction_quality_on_realistic_layouts(server: NewsServer) -> None:
    limits = Limits(allow_private=True)
    f1s, dates, titles, urls, leaks = [], 0, 0, 0, []
    with new_client() as client:
        for p in PAGES:
            url = server.url(p.path)
            got = page_article(url, fetch(url, limits, client))
            f1s.append(token_f1(got.text, p.text))
            dates += got.date == p.date
            titles += got.title == p.title
            urls += canonical_url(got.url) == canonical_url(p.url or url)
            leaks += [(p.path, s) for s in BOILERPLATE if s in got.text]
    n = len(PAGES)
    print(f"\nextraction over {n} pages: mean F1 {sum(f1s) / n:.3f}, dates {dates / n:.2f}, "
          f"titles {titles / n:.2f}, canonical URLs {urls / n:.2f}, boilerplate {len(leaks)}")
    assert n >= 36  # six layouts, six articles each
    assert sum(f1s) / n >= 0.90 and dates / n >= 0.95
    assert titles / n >= 0.95 and urls / n >= 0.95
    assert leaks == []


def test_private_addresses_and_other_schemes_are_refused(tmp_path: Path,
                                                         server: NewsServer) -> None:
    report = add_urls([server.url(PAGES[0].path), "http://169.254.169.254/latest/",
                       "file:///etc/passwd", "ftp://example.com/a"],
                      _settings(tmp_path, allow_private_urls=False), rebuild=False)
    assert report.added == []
    reasons = dict(report.failed)
    assert "allow_private_urls" in reasons[server.url(PAGES[0].path)]
    assert "169.254.169.254" in reasons["http://169.254.169.254/latest/"]
    assert "only http:// and https://" in reasons["file:///etc/passwd"]
    assert "only http:// and https://" in reasons["ftp://example.com/a"]
    assert server.hits["/latest/"] == 0


def test_every_failure_names_the_url_and_the_others_are_still_added(
        tmp_path: Path, server: NewsServer) -> None:
    closed = NewsServer()  # bound, never serving: its port refuses connections
    closed.httpd.server_close()
    bad = {"/nope": "HTTP 404", "/broken": "HTTP 500", "/slow": "timeout",
           "/trickle": "took over 1 s to arrive",
           "/huge": "fetch_max_bytes", "/binary": "not an HTML page",
           "/image": "image/png, not an HTML page", "/empty": "no article text",
           "/loop": "more than 5 redirects"}
    urls = [server.url(p) for p in bad] + [closed.url("/x"), server.url("/moved")]
    report = add_urls(urls, _settings(tmp_path, fetch_max_bytes=1_000_000), rebuild=False)
    reasons = dict(report.failed)
    for path, expected in bad.items():
        assert reasons[server.url(path)].startswith(server.url(path) + ":")
        assert expected in reasons[server.url(path)], path
    assert "cannot connect" in reasons[closed.url("/x")]
    [added] = report.added  # the redirect was followed to the first page
    assert added.title == PAGES[0].title
    assert added.canonical_url == canonical_url(PAGES[0].url)


def test_each_redirect_hop_is_checked(server: NewsServer) -> None:
    server.routes["/to-file"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    with new_client() as client, pytest.raises(FetchError, match="only http:// and https://"):
        fetch(server.url("/to-file"), Limits(allow_private=True), client)
    assert server.hits["/to-file"] == 1


def test_a_page_in_another_charset_is_decoded_by_its_meta_tag(tmp_path: Path,
                                                              server: NewsServer) -> None:
    p = PAGES[5]
    page = p.html.replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">')
    page = page.replace(p.text[:30], "Café owners in Zürich said ")
    server.routes["/latin1"] = Route(page.encode("latin-1", errors="replace"),
                                     content_type="text/html")
    with new_client() as client:
        got = page_article("x", fetch(server.url("/latin1"), Limits(allow_private=True), client))
    assert got.text.startswith("Café owners in Zürich said ")


def test_a_data_table_stays_and_a_read_more_link_goes() -> None:
    from qa.corpus.extract import extract_article

    paras = ["The league table after the weekend shows a tight race at the top, with three "
             "clubs separated by two points and the title still open.",
             "Coaches said the final rounds would decide everything, and fans expect record "
             "crowds at the remaining home games of the season."]
    page = (f"<html><body><nav><a href=/>Home</a></nav><article><h1>League race tightens</h1>"
            f"<p>{paras[0]}</p><table><tr><th>Club</th><th>Points</th></tr><tr><td>Rovers</td>"
            "<td>61</td></tr></table><p><strong>Read more:</strong> <a href=/x>Coach sacked "
            f"after heavy defeat at home on Sunday</a></p><p>{paras[1]}</p></article></body>"
            "</html>")
    got = extract_article(page)
    assert got is not None and got.title == "League race tightens"
    assert got.text == f"{paras[0]}\n\nClub | Points\n\nRovers | 61\n\n{paras[1]}"
