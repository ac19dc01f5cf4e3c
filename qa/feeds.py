"""`qa feeds`: the feed list, and pulling new entries into corpus/feeds/<site>/.

The list and what each pull saw (ETag, Last-Modified, each entry's version and file) live in
`<index_dir>/feeds.json`, written atomically. An entry whose version is unchanged is not fetched
again, so a pull with nothing new fetches no page and writes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.corpus.extract import Extracted, extract_article
from qa.corpus.feedparse import Entry, parse_feed
from qa.corpus.fetch import Limits, check_address, fetch, new_client
from qa.corpus.urls import canonical_url, tidy_url
from qa.corpus.webfiles import article_path, page_article, write_article
from qa.errors import ConfigError, FetchError
from qa.records import RebuildSummary

log = logging.getLogger(__name__)

FEEDS_FOLDER = "feeds"
Progress = Callable[[int, int, str], Any]  # (feeds done, feeds in all, the feed being pulled)


@dataclass
class PullReport:
    feeds: int = 0
    not_modified: int = 0  # feeds that answered 304: nothing new
    added: list[str] = field(default_factory=list)  # corpus files written for the first time
    updated: list[str] = field(default_factory=list)  # corpus files rewritten (edited upstream)
    unchanged: int = 0  # entries already stored as they are
    failed: list[tuple[str, str]] = field(default_factory=list)  # (feed or page URL, message)
    rebuild: RebuildSummary | None = None

    def line(self) -> str:
        return (f"{_n(self.feeds, 'feed')} pulled ({self.not_modified} unchanged): "
                f"{_n(len(self.added), 'article')} added, {len(self.updated)} updated, "
                f"{self.unchanged} already stored, {len(self.failed)} failed")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def feeds_file(settings: Settings) -> Path:
    return Path(settings.index_dir) / "feeds.json"


def load_state(settings: Settings) -> dict[str, dict[str, Any]]:
    """feed URL -> its record ({"etag", "last_modified", "entries": {key: {version, file}}})."""
    path = feeds_file(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The feed list {path} cannot be read ({exc}). Fix or delete it, "
                          "then add the feeds again with `qa feeds add URL`.") from exc
    return {f["url"]: f for f in data.get("feeds", []) if isinstance(f, dict) and "url" in f}


def save_state(settings: Settings, feeds: dict[str, dict[str, Any]]) -> None:
    path = feeds_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feeds-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "feeds": list(feeds.values())}, fh, indent=1)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def add_feed(settings: Settings, url: str) -> bool:
    """Put a feed on the list; False when it is already there."""
    url = url.strip()
    check_address(url, allow_private=True)  # the scheme; addresses are checked at each pull
    feeds = load_state(settings)
    if url in feeds:
        return False
    feeds[url] = {"url": url, "title": "", "etag": "", "last_modified": "", "entries": {}}
    save_state(settings, feeds)
    return True


def list_feeds(settings: Settings) -> list[dict[str, Any]]:
    """Each feed: url, title and how many of its entries are stored."""
    return [{"url": u, "title": f.get("title", ""), "entries": len(f.get("entries", {}))}
            for u, f in load_state(settings).items()]


def remove_feed(settings: Settings, url: str) -> None:
    """Take a feed off the list; its articles stay in the corpus folder."""
    feeds = load_state(settings)
    if feeds.pop(url.strip(), None) is None:
        raise ConfigError(f"{url} is not on the feed list; `qa feeds list` shows it.")
    save_state(settings, feeds)


def pull(settings: Settings, rebuild: bool = False, progress: Progress | None = None) -> PullReport:
    """Fetch every feed and store its new or edited entries. A feed or page that fails is
    reported in `failed` and the others go on; what is already stored is never lost."""
    feeds = load_state(settings)
    report = PullReport()
    limits = Limits.from_settings(settings)
    with new_client() as client:
        for i, feed in enumerate(list(feeds.values())):
            if progress:
                progress(i, len(feeds), feed["url"])
            try:
                _pull_feed(settings, feed, limits, client, report)
                report.feeds += 1
            except FetchError as exc:
                log.info("%s", exc)
                report.failed.append((feed["url"], str(exc)))
            save_state(settings, feeds)
    if progress:
        progress(len(feeds), len(feeds), "")
    if rebuild and (report.added or report.updated):
        from qa.index import rebuild as run_rebuild

        report.rebuild = run_rebuild(settings)
    return report


def _pull_feed(settings: Settings, feed: dict[str, Any], limits: Limits, client: Any,
               report: PullReport) -> None:
    resp = fetch(feed["url"], limits, client, feed.get("etag", ""), feed.get("last_modified", ""))
    if resp.status == 304:
        report.not_modified += 1
        return
    title, entries = parse_feed(resp.url, resp.body, resp.content_type)
    feed["title"] = title
    seen = feed.setdefault("entries", {})
    failed = 0
    for entry in entries:
        if seen.get(entry.key, {}).get("version") == entry.version:
            report.unchanged += 1
            continue
        try:
            article, whole = _entry_article(entry, limits, client)
        except FetchError as exc:
            report.failed.append((entry.link, str(exc)))
            failed += 1
            continue
        failed += not whole
        rel = _stored_file(settings, seen.get(entry.key, {}).get("file")) or \
            _article_file(settings, article, entry)
        path = Path(settings.corpus_dir) / rel  # an entry stored before keeps its file and id
        existed = path.exists()
        if not write_article(path, article):
            report.unchanged += 1
        else:
            (report.updated if existed else report.added).append(rel)
        # From the feed's own text: its page is tried again at the next pull.
        seen[entry.key] = {"version": entry.version if whole else "", "file": rel}
    if not failed:  # else the next pull must get the whole feed again, to retry those entries
        feed.update(etag=resp.etag, last_modified=resp.last_modified)


def _stored_file(settings: Settings, rel: Any) -> str:
    """The file an entry was stored in, if it is a place under corpus/feeds/ ("" if not)."""
    if not isinstance(rel, str) or not rel.startswith(FEEDS_FOLDER + "/"):
        return ""
    root = Path(settings.corpus_dir).resolve()
    return rel if (root / rel).resolve().is_relative_to(root / FEEDS_FOLDER) else ""


def _article_file(settings: Settings, article: Extracted, entry: Entry) -> str:
    key = canonical_url(article.url) or canonical_url(entry.link)
    path = article_path(Path(settings.corpus_dir), FEEDS_FOLDER, key)
    return path.relative_to(settings.corpus_dir).as_posix()


def _entry_article(entry: Entry, limits: Limits, client: Any) -> tuple[Extracted, bool]:
    """(article, whole): the entry's page extracted, or the feed's own content when the page
    fails (whole is then False)."""
    whole = True
    try:
        article = page_article(entry.link, fetch(entry.link, limits, client))
    except FetchError:
        article = _from_feed_content(entry)
        if article is None:
            raise
        whole = False
        log.info("%s: the page failed; using the feed's text", entry.link)
    return Extracted(
        title=article.title or entry.title, text=article.text,
        url=article.url or tidy_url(entry.link), date=article.date or entry.date,
        author=article.author or entry.author, source=article.source,
    ), whole


def _from_feed_content(entry: Entry) -> Extracted | None:
    if not entry.content.strip():
        return None
    if "<" not in entry.content:
        text = "\n\n".join(p.strip() for p in entry.content.split("\n\n") if p.strip())
        return Extracted(title=entry.title, text=text, url=tidy_url(entry.link))
    found = extract_article(f"<html><body><article>{entry.content}</article></body></html>")
    if found is None:
        return None
    return Extracted(title=entry.title or found.title, text=found.text,
                     url=tidy_url(entry.link))
