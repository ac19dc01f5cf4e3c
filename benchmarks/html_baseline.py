"""The HTML reader qa had before trafilatura (BeautifulSoup), kept to compare extractors.

benchmarks/extraction.py runs it and qa.corpus.extract on the same test pages.
"""

from __future__ import annotations

from typing import Any

from qa.corpus.dates import normalize_date

_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "svg", "head", "form")
_BLOCK_TAGS = ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "article",
               "section", "blockquote", "pre", "header", "footer", "main", "aside", "table",
               "ul", "ol", "dd", "dt", "figcaption"]


def read_html(html: str) -> dict[str, Any] | None:
    """{"title", "text", "url", "date"} as the old reader made them, or None."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    meta: dict[str, Any] = {}
    tag = soup.find("title")
    title = tag.get_text(" ", strip=True) if tag else ""
    h1 = soup.find("h1")
    if not title and h1:
        title = h1.get_text(" ", strip=True)
    for m in soup.find_all("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
        value = m.get("content")
        if not key or not isinstance(value, str):
            continue
        if key in ("og:title", "twitter:title") and not title:
            title = value.strip()
        elif key in ("article:published_time", "date", "pubdate", "publishdate",
                     "datepublished", "dc.date", "dc.date.issued", "og:published_time"):
            meta.setdefault("date", value)
        elif key in ("og:url",):
            meta.setdefault("url", value)
        elif key in ("author", "article:author", "dc.creator"):
            meta.setdefault("author", value)
        elif key in ("og:site_name", "dc.publisher"):
            meta.setdefault("source", value)
    link = soup.find("link", rel="canonical")
    if link and isinstance(link.get("href"), str):
        meta.setdefault("url", link["href"])
    if "date" not in meta:
        t = soup.find("time", datetime=True)
        if t:
            meta["date"] = t["datetime"]
    for name in _DROP_TAGS:
        for el in soup.find_all(name):
            el.decompose()
    body_el = soup.body or soup
    for el in body_el.find_all(_BLOCK_TAGS):
        el.insert_before("\n")
        el.insert_after("\n")
    for br in body_el.find_all("br"):
        br.replace_with("\n")
    lines = (" ".join(line.split()) for line in body_el.get_text("").splitlines())
    # One paragraph per block element, separated by a blank line like the other readers.
    body = "\n\n".join(line for line in lines if line)
    if not body:
        return None
    if not title:
        title = body.splitlines()[0][:200]
    return {"title": title, "text": body, "url": meta.get("url", ""),
            "date": normalize_date(meta.get("date"))}


