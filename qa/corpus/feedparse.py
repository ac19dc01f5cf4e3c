"""A feed's bytes -> its entries (feedparser for RSS and Atom; JSON Feed read directly)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from qa.corpus.dates import normalize_date
from qa.errors import FetchError


@dataclass(frozen=True)
class Entry:
    """One feed item: `version` changes when the item is edited upstream."""

    key: str  # the entry's id, else its link
    link: str  # absolute
    title: str
    version: str
    content: str  # the feed's own text or HTML for the item ("" when it has none)
    date: str = ""
    author: str = ""


def parse_feed(url: str, body: bytes, content_type: str = "") -> tuple[str, list[Entry]]:
    """(feed title, entries) of a feed fetched from `url`; FetchError when it does not parse."""
    head = body.lstrip()[:1]
    if "json" in content_type or head == b"{":
        return _json_feed(url, body)
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": url})
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise _not_a_feed(url)
    title = str(parsed.feed.get("title", "")).strip()
    return title, [e for e in (_rss_entry(url, raw) for raw in parsed.entries) if e]


def _not_a_feed(url: str) -> FetchError:
    return FetchError(f"{url}: this is not an RSS, Atom or JSON feed (it does not parse). "
                      "Check the address; a site's feed is often at /feed, /rss or /atom.xml.")


def _rss_entry(url: str, raw: Any) -> Entry | None:
    link = urljoin(url, str(raw.get("link", "")).strip())
    if not link.startswith(("http://", "https://")):
        return None
    content = ""
    if raw.get("content"):
        content = str(raw.content[0].get("value", ""))
    content = content or str(raw.get("summary", ""))
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning.
    updated, published = dict.get(raw, "updated", ""), dict.get(raw, "published", "")
    stamp = str(updated or published)
    return Entry(
        key=str(raw.get("id", "") or link), link=link,
        title=" ".join(str(raw.get("title", "")).split()),
        version=stamp + "|" + _digest(str(raw.get("title", "")) + content),
        content=content, date=normalize_date(published or updated),
        author=str(raw.get("author", "")).strip(),
    )


def _json_feed(url: str, body: bytes) -> tuple[str, list[Entry]]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _not_a_feed(url) from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise _not_a_feed(url)
    entries = []
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        link = urljoin(url, str(item.get("url") or item.get("external_url") or ""))
        if not link.startswith(("http://", "https://")):
            continue
        content = str(item.get("content_html") or item.get("content_text") or "")
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = ", ".join(str(a.get("name", "")) for a in authors if isinstance(a, dict))
        stamp = str(item.get("date_modified") or item.get("date_published") or "")
        entries.append(Entry(
            key=str(item.get("id") or link), link=link,
            title=" ".join(str(item.get("title", "")).split()),
            version=stamp + "|" + _digest(str(item.get("title", "")) + content),
            content=content, date=normalize_date(item.get("date_published")), author=author,
        ))
    return str(data.get("title", "")).strip(), entries


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", errors="replace")).hexdigest()[:12]
