"""Test article pages: known main text from the news eval set, wrapped in realistic layouts."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

from .helpers import SEED, SHARED

NEWS = SHARED / "eval" / "news" / "articles.jsonl"

# Sentences of the layouts around the article: none may reach an extracted text.
BOILERPLATE = [
    "We use cookies to give you the best experience on our website.",
    "Accept all cookies and continue browsing.",
    "Sign up for our morning newsletter and never miss a story.",
    "Leave a Reply",
    "Your email address will not be published.",
    "Required fields are marked with an asterisk.",
    "Most read stories this week across the network",
    "Copyright 2023 Example Media Group. All rights reserved.",
    "Share this article on social media with your friends.",
    "Read more about our editorial standards and corrections policy.",
    "Advertisement continues below this message.",
    "Subscribe now for unlimited access to all our journalism.",
    "Read more:",
]
RELATED = ["Markets slide as investors weigh the latest inflation figures",
           "Storm warnings issued for the northern coast this weekend",
           "City council approves new budget after a long debate"]


@dataclass(frozen=True)
class Page:
    path: str  # on the test server
    title: str
    text: str  # the known main text: paragraphs separated by blank lines
    date: str
    url: str  # the canonical URL the page declares ("" when it declares none)
    html: str


def news_rows(n: int) -> list[dict]:
    rows = [json.loads(line) for line in NEWS.read_text().splitlines() if line]
    picked = []
    for r in rows:
        paras = [p for p in r["text"].split("\n\n") if len(p) >= 80 and not p.isupper()]
        if 6 <= len(r["text"].split("\n\n")) <= 40 and len(paras) >= 5:
            picked.append({**r, "text": "\n\n".join(paras[:7])})
        if len(picked) == n:
            break
    return picked


def _ps(text: str) -> str:
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))


def _nav() -> str:
    return ('<nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/world">World'
            '</a></li><li><a href="/business">Business</a></li><li><a href="/sport">Sport</a>'
            "</li></ul></nav>")


def _cookie() -> str:
    return (f'<div class="cookie-banner" id="cookie-consent"><p>{BOILERPLATE[0]}</p>'
            f'<button>{BOILERPLATE[1]}</button></div>')


def _related() -> str:
    items = "".join(f'<li><a href="/r{i}">{t}</a></li>' for i, t in enumerate(RELATED))
    return (f'<aside class="sidebar related"><h3>{BOILERPLATE[6]}</h3><ul>{items}</ul>'
            f'<div class="newsletter"><p>{BOILERPLATE[2]}</p><form><input name="email">'
            "</form></div></aside>")


def _footer() -> str:
    return (f'<footer class="site-footer"><p>{BOILERPLATE[7]}</p><p>{BOILERPLATE[9]}</p>'
            "</footer>")


def _comments() -> str:
    return ('<div id="comments" class="comments-area"><div id="respond" class="comment-respond">'
            f'<h3 id="reply-title" class="comment-reply-title">{BOILERPLATE[3]}</h3>'
            '<form id="commentform" class="comment-form"><p class="comment-notes">'
            f'{BOILERPLATE[4]} {BOILERPLATE[5]}</p><textarea name="comment"></textarea>'
            "</form></div></div>")


def _head(title: str, extra: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>'
            f'{html.escape(title)} | Example News</title>{extra}'
            "<style>.cookie-banner{position:fixed}</style>"
            "<script>window.dataLayer=[];function track(){}</script></head>")


def wordpress(r: dict) -> tuple[str, str]:
    """A blog theme: entry-title, time element, sidebar widgets, a comment form."""
    head = _head(r["title"], f'<link rel="canonical" href="{r["url"]}">')
    body = (f'<body class="single-post">{_nav()}<div id="content"><main id="main">'
            f'<article class="post hentry"><header class="entry-header"><h1 class="entry-title">'
            f'{html.escape(r["title"])}</h1><div class="entry-meta">Posted on <time '
            f'class="entry-date published" datetime="{r["date"]}T08:00:00+00:00">{r["date"]}'
            f'</time></div></header><div class="entry-content">{_ps(r["text"])}</div>'
            f'<footer class="entry-footer"><p>{BOILERPLATE[8]}</p></footer></article>'
            f"{_comments()}</main>{_related()}</div>{_footer()}</body></html>")
    return head + body, r["url"]


def _inline_extras(text: str) -> str:
    """Paragraphs with what sites put between them: a photo, an inline related box, an ad."""
    paras = _ps(text).split("\n")
    related = "".join(f'<li><a href="/x{i}">{t}</a></li>' for i, t in enumerate(RELATED))
    extras = ('<figure class="photo"><img src="/p.jpg" alt=""><figcaption>Photo: agency'
              '</figcaption></figure>',
              f'<div class="inline-related"><h4>Related</h4><ul>{related}</ul></div>',
              f'<div class="ad-slot"><p>{BOILERPLATE[10]}</p></div>')
    for i, extra in enumerate(extras):
        paras.insert(2 + 2 * i, extra)
    return "\n".join(paras)


def jsonld(r: dict) -> tuple[str, str]:
    """A news site: JSON-LD NewsArticle, OpenGraph, cookie banner, related list, paywall box."""
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                     "headline": r["title"], "datePublished": f'{r["date"]}T06:30:00Z',
                     "author": {"@type": "Person", "name": "Staff Reporter"},
                     "publisher": {"@type": "Organization", "name": r["source"]}})
    extra = (f'<meta property="og:title" content="{html.escape(r["title"])}">'
             f'<meta property="og:url" content="{r["url"]}">'
             f'<meta property="og:site_name" content="{html.escape(r["source"])}">'
             f'<script type="application/ld+json">{ld}</script>')
    body = (f"<body>{_cookie()}<header>{_nav()}</header><main><article>"
            f'<h1>{html.escape(r["title"])}</h1><div class="article-body">'
            f'{_inline_extras(r["text"])}</div></article>'
            f'<section class="paywall"><p>{BOILERPLATE[11]}</p></section></main>'
            f"{_related()}{_footer()}</body></html>")
    return _head(r["title"], extra) + body, r["url"]


def divsoup(r: dict) -> tuple[str, str]:
    """No semantic tags: divs everywhere, the date in a meta tag, share buttons."""
    extra = (f'<meta property="article:published_time" content="{r["date"]}T12:00:00Z">'
             f'<link rel="canonical" href="{r["url"]}?utm_source=rss&amp;utm_medium=feed">')
    paras = "".join(f'<div class="para">{html.escape(p)}</div>' for p in r["text"].split("\n\n"))
    body = (f'<body><div class="top">{_nav()}</div>{_cookie()}<div class="wrap"><div class="story">'
            f'<div class="headline"><h1>{html.escape(r["title"])}</h1></div>'
            f'<div class="share"><span>{BOILERPLATE[8]}</span></div>'
            f'<div class="story-body">{paras}</div></div>{_related()}</div>{_footer()}'
            "</body></html>")
    return _head(r["title"], extra) + body, r["url"].split("?")[0]


def text_date(r: dict) -> tuple[str, str]:
    """The date only in the text of a byline; no canonical link (the page's own URL counts)."""
    day = re.sub(r"^(\d+)-(\d+)-(\d+)$", r"\1/\2/\3", r["date"])
    body = (f"<body>{_nav()}<main><h1>{html.escape(r['title'])}</h1>"
            f'<p class="byline">By Staff Writer, published {day}</p>'
            f"{_ps(r['text'])}{_comments()}</main>{_footer()}</body></html>")
    return _head(r["title"], "") + body, ""


def amp(r: dict) -> tuple[str, str]:
    """The AMP variant of an article: amp components, an amp-ad, canonical to the full page."""
    extra = (f'<link rel="canonical" href="{r["url"]}">'
             f'<meta name="DC.date.issued" content="{r["date"]}">'
             '<script async src="https://cdn.ampproject.org/v0.js"></script>')
    paras = _ps(r["text"]).split("\n")
    paras.insert(3, f'<p class="read-more"><strong>{BOILERPLATE[12]}</strong> <a href="/r1">'
                 f"{RELATED[1]}</a></p>")
    body = (f'<body><amp-sidebar id="menu">{_nav()}</amp-sidebar><header class="amp-header">'
            f'<a href="/">Example News</a></header><div class="amp-story-body">'
            f'<h1 class="amp-title">{html.escape(r["title"])}</h1>'
            f'<amp-img src="/lead.jpg" width="600" height="400"></amp-img>'
            + "\n".join(paras)
            + f'<amp-ad type="doubleclick"><div placeholder>{BOILERPLATE[10]}</div></amp-ad>'
            f'<div class="amp-social-share"><p>{BOILERPLATE[8]}</p></div></div>'
            f"{_footer()}</body></html>")
    return _head(r["title"], extra).replace("<html", "<html amp", 1) + body, r["url"]


def tables(r: dict) -> tuple[str, str]:
    """An old-school site laid out in tables: menu cell, story cell, a cell of links."""
    extra = f'<meta name="date" content="{r["date"]}"><meta name="author" content="Desk">'
    menu = "".join(f'<a href="/{w.lower()}">{w}</a><br>' for w in ("Home", "World", "Sport"))
    links = "".join(f'<p><a href="/l{i}">{t}</a></p>' for i, t in enumerate(RELATED))
    body = (f'<body><table width="100%"><tr><td colspan="3">{_cookie()}</td></tr><tr>'
            f'<td class="menu" width="15%">{menu}</td><td class="story" width="65%">'
            f'<h2 class="title">{html.escape(r["title"])}</h2>{_ps(r["text"])}</td>'
            f'<td class="links" width="20%"><p>{BOILERPLATE[6]}</p>{links}</td></tr>'
            f'<tr><td colspan="3">{_footer()}</td></tr></table></body></html>')
    return _head(r["title"], extra) + body, ""


LAYOUTS = (wordpress, jsonld, divsoup, text_date, amp, tables)


def article_pages(n: int = 32) -> list[Page]:
    pages = []
    for i, r in enumerate(news_rows(n)):
        layout = LAYOUTS[i % len(LAYOUTS)]
        page_html, url = layout(r)
        pages.append(Page(f"/news/{i:02d}-{layout.__name__}.html", " ".join(r["title"].split()),
                          r["text"], r["date"], url, page_html))
    return pages


def seed_page() -> tuple[str, str]:
    """(HTML page, known text) of the seed article as its site served it: the trailing
    "Leave a Reply" box is the comment form, not the article."""
    lines = SEED.read_text().strip().split("\n\n")
    title, body = lines[0], [p for p in lines[1:] if p not in (BOILERPLATE[3], BOILERPLATE[4])]
    text = "\n\n".join(body)
    page = (_head(title, "") + f"<body>{_nav()}<article><h1>{html.escape(title)}</h1>"
            f"{_ps(text)}</article>{_comments()}{_footer()}</body></html>")
    return page, text
