"""`qa add` and `qa feeds` as a user runs them, against a real loopback server."""

from __future__ import annotations

import json
from pathlib import Path

from qa.corpus.urls import site_of

from .helpers import qa
from .newspages import article_pages
from .newsserver import NewsServer, Route
from .test_feeds import rss

PAGES = article_pages(3)


def test_add_and_feeds_commands(tmp_path: Path, corpus_dir: Path) -> None:
    ix = str(tmp_path / "ix")
    where = ["--corpus", str(corpus_dir), "--index", ix]
    with NewsServer() as srv:
        for p in PAGES:
            srv.routes[p.path] = Route(p.html.encode())
        srv.routes["/rss.xml"] = Route(rss([(srv.url(p.path), p, 1) for p in PAGES[1:]]))
        refused = qa("add", srv.url(PAGES[0].path), *where)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "allow_private_urls" in refused.stderr and srv.url(PAGES[0].path) in refused.stderr

        out = qa("add", srv.url(PAGES[0].path), srv.url("/missing"), *where, "--allow-private")
        assert out.returncode == 1  # one page failed; the other is stored and indexed
        assert f"stored web/{site_of(PAGES[0].url)}/" in out.stdout  # the page's canonical site
        assert PAGES[0].title in out.stdout and "index: 2 added" in out.stdout
        assert f"{srv.url('/missing')}: the server answered HTTP 404" in out.stderr

        assert qa("feeds", "add", srv.url("/rss.xml"), "--index", ix).returncode == 0
        listed = qa("feeds", "list", "--index", ix)
        assert srv.url("/rss.xml") in listed.stdout and "(not pulled yet)" in listed.stdout
        pulled = qa("feeds", "pull", *where, "--allow-private", "--rebuild")
        assert pulled.returncode == 0, pulled.stderr
        assert "2 articles added" in pulled.stdout and "index: 2 added" in pulled.stdout
        again = json.loads(qa("feeds", "pull", *where, "--allow-private", "--json").stdout)
        assert (again["added"], again["unchanged"], again["failed"]) == ([], 2, [])
        removed = qa("feeds", "remove", srv.url("/rss.xml"), "--index", ix)
        assert "its articles stay" in removed.stdout
        print(out.stdout, listed.stdout, pulled.stdout, sep="\n")
