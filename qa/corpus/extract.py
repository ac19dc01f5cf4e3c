"""An HTML page -> the article in it (trafilatura): text without boilerplate, and its metadata."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from qa.corpus.dates import normalize_date
from qa.corpus.urls import tidy_url

log = logging.getLogger(__name__)

LINK_SHARE = 0.5  # a short block whose text is more than this share of links is navigation
LINK_BLOCK_CHARS = 300
_BLOCK_TAGS = {"p", "head", "list", "quote", "table", "code"}


@dataclass(frozen=True)
class Extracted:
    """The article of one page; `text` has one paragraph per block, blank lines between."""

    title: str
    text: str
    url: str = ""  # the page's canonical URL as it declares it (else the URL it was fetched at)
    date: str = ""  # ISO yyyy-mm-dd, or ""
    author: str = ""
    source: str = ""  # the site's name

    def front_matter(self) -> dict[str, str]:
        """The fields written above the text of a stored article."""
        fields = {"title": self.title, "url": self.url, "date": self.date,
                  "source": self.source, "author": self.author}
        return {k: v for k, v in fields.items() if v}


def extract_article(html: str, url: str = "") -> Extracted | None:
    """The article of `html` (fetched at `url`, if known), or None when it holds no article
    text. Scripts are never run: the page is parsed, not rendered."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                          include_tables=True, include_links=True,
                                          include_images=False, deduplicate=False)
    except (ValueError, RecursionError, TypeError, AttributeError) as exc:
        log.debug("trafilatura failed on %s: %s", url or "a page", exc)
        return None
    if doc is None or doc.body is None:
        return None
    title = " ".join((doc.title or "").split())
    paragraphs = _paragraphs(doc.body)
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # the headline opens the text: it is the title
    text = "\n\n".join(paragraphs)
    if not text:
        return None
    tree = _tree(html)
    declared = _canonical_link(tree)
    page_url = tidy_url(urljoin(url, declared) if declared else url)
    return Extracted(
        title=title or paragraphs[0][:200],
        text=text,
        url=page_url,
        date=_markup_date(tree, html) or normalize_date(doc.date),
        author=" ".join((doc.author or "").split()),
        source=" ".join((doc.sitename or "").split()),
    )


def _paragraphs(body: Any) -> list[str]:
    """One line per block of trafilatura's tree, leaving out blocks that are mostly links
    ("Read more: <a>…</a>", lists of related stories, menus), which it keeps."""
    out = []
    for block in _blocks(body):
        line = _line(block, " | " if block.tag == "row" else "")
        if line and not _mostly_links(block, line):
            out.append(line)
    return out


def _blocks(parent: Any) -> Any:
    """The leaf blocks: list items; a data table's rows; a layout table's cells' blocks."""
    for el in parent.iterchildren():
        if el.tag == "list":
            yield from el.iterchildren()
        elif el.tag == "table":
            for row in el.iterchildren("row"):
                cells = list(row.iterchildren("cell"))
                if not any(len(c) and c[0].tag in _BLOCK_TAGS for c in cells):
                    yield row  # a data table: the row is one line
                    continue
                for cell in cells:
                    if not _mostly_links(cell, _line(cell), any_length=True):
                        yield from _blocks(cell) if any(c.tag in _BLOCK_TAGS for c in cell) \
                            else [cell]
        else:
            yield el


def _line(el: Any, between_cells: str = "") -> str:
    if between_cells:
        return between_cells.join(_line(cell) for cell in el.iterchildren("cell"))
    return " ".join("".join(el.itertext()).split())


def _mostly_links(block: Any, line: str, any_length: bool = False) -> bool:
    """A short block (or a table cell of any length) whose text is mostly link text."""
    linked = sum(len(_line(ref)) for ref in block.iter("ref"))
    return (any_length or len(line) < LINK_BLOCK_CHARS) and linked > LINK_SHARE * len(line)


_DATE_XPATHS = (
    '//meta[@property="article:published_time" or @name="article:published_time" or '
    '@itemprop="datePublished" or @name="pubdate" or @name="publishdate" or '
    '@name="dc.date.issued" or @name="DC.date.issued" or @property="og:published_time" '
    'or @name="date"]/@content',
    '//*[@itemprop="datePublished"]/@datetime',
    "//time[@datetime]/@datetime",
)
_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')


def _markup_date(tree: Any, html: str) -> str:
    """The publication date the page states: metadata, JSON-LD, a time element; else what
    htmldate finds (also in the text). trafilatura would take a date in the URL first, which
    sites often write in another time zone than the date they state."""
    if tree is not None:
        scripts = tree.xpath('//script[@type="application/ld+json"]/text()')
        candidates = [*tree.xpath(_DATE_XPATHS[0]), *tree.xpath(_DATE_XPATHS[1]),
                      *(m.group(1) for s in scripts if (m := _LD_DATE.search(str(s)))),
                      *tree.xpath(_DATE_XPATHS[2])]
        for value in candidates:
            if found := normalize_date(str(value).strip()):
                return found
    from htmldate import find_date

    try:
        found = find_date(html, extensive_search=True, original_date=True,
                          outputformat="%Y-%m-%d")
    except (ValueError, TypeError, RecursionError):
        return ""
    return normalize_date(found)


def _tree(html: str) -> Any:
    import lxml.html

    try:
        return lxml.html.fromstring(html.encode("utf-8", errors="replace"))
    except (ValueError, lxml.etree.ParserError):  # type: ignore[attr-defined]
        return None


def _canonical_link(tree: Any) -> str:
    """<link rel=canonical>, else og:url: the address the page gives for itself."""
    for xpath in ('//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content'):
        found = tree.xpath(xpath) if tree is not None else []
        if found and str(found[0]).strip():
            return str(found[0]).strip()
    return ""
