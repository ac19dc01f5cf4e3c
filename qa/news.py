"""`qa add URL`: fetch pages, store their articles in the corpus folder, update the index."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.corpus.fetch import Limits, fetch, new_client
from qa.corpus.urls import canonical_url
from qa.corpus.webfiles import article_path, page_article, write_article
from qa.errors import FetchError
from qa.records import RebuildSummary

log = logging.getLogger(__name__)

WEB_FOLDER = "web"  # corpus/web/<site>/: articles added by URL


@dataclass(frozen=True)
class Added:
    """One article stored from the web: where it came from and which corpus file holds it."""

    url: str  # as given
    canonical_url: str
    file: str  # relative to the corpus folder
    title: str
    date: str
    changed: bool  # False when the file already held exactly this article


@dataclass
class AddReport:
    added: list[Added] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, message)
    rebuild: RebuildSummary | None = None


def add_urls(settings: Settings, urls: Iterable[str], rebuild: bool = True,
             progress: Callable[[str], Any] | None = None) -> AddReport:
    """Fetch each page, store its article under corpus/web/<site>/, then update the index
    (when anything changed). A page that fails is reported in `failed`; the others go on."""
    report = AddReport()
    limits = Limits.from_settings(settings)
    with new_client() as client:
        for url in urls:
            if progress:
                progress(url)
            try:
                report.added.append(add_one(settings, url, limits, client))
            except FetchError as exc:
                log.info("%s", exc)
                report.failed.append((url, str(exc)))
    if rebuild and any(a.changed for a in report.added):
        from qa.index import rebuild as run_rebuild

        report.rebuild = run_rebuild(settings)
    return report


def add_one(settings: Settings, url: str, limits: Limits, client: Any) -> Added:
    """Fetch, extract and store one page. Raises FetchError."""
    url = url.strip()
    resp = fetch(url, limits, client)
    article = page_article(url, resp)
    key = canonical_url(article.url or resp.url) or canonical_url(resp.url)
    path = article_path(Path(settings.corpus_dir), WEB_FOLDER, key)
    changed = write_article(path, article)
    rel = path.relative_to(settings.corpus_dir).as_posix()
    return Added(url, key, rel, article.title, article.date, changed)
