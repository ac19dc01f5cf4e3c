"""Articles from the web as corpus files: YAML front matter and text, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from qa.corpus.extract import Extracted, extract_article
from qa.corpus.fetch import HTML_TYPES, Response
from qa.corpus.readers import looks_binary
from qa.corpus.urls import file_stem, site_of
from qa.errors import FetchError

TMP_PREFIX = ".qa-partial-"  # hidden: a rebuild never reads one
STALE_SECONDS = 600  # a partial file this old was left by a killed run, not a running one


def page_article(url: str, resp: Response) -> Extracted:
    """The article of a fetched page; FetchError when it is not HTML or holds no article."""
    kind = resp.content_type
    if (kind and kind not in HTML_TYPES) or looks_binary(resp.body):
        raise FetchError(f"{url}: this is {kind or 'binary data'}, not an HTML page. Give the "
                         "address of an article page (for a feed: `qa feeds add URL`).")
    article = extract_article(resp.text(), resp.url)
    if article is None:
        raise FetchError(f"{url}: no article text found on this page (it may be an index "
                         "page, need JavaScript, or sit behind a login). Give the address of "
                         "one article.")
    return article


def article_path(corpus_dir: Path, folder: str, key_url: str) -> Path:
    """corpus/<folder>/<site>/<stem>.md: the same file for every fetch of one canonical URL."""
    return Path(corpus_dir) / folder / site_of(key_url) / f"{file_stem(key_url)}.md"


def render(article: Extracted) -> str:
    """The file's text: front matter, a blank line, then the article text unchanged."""
    meta = yaml.safe_dump(article.front_matter(), allow_unicode=True, sort_keys=False,
                          width=10_000)
    return f"---\n{meta}---\n\n{article.text}\n"


def write_article(path: Path, article: Extracted) -> bool:
    """Write the article file atomically (never half a file, even if killed). False when the
    file already holds exactly this, so it is left alone (its stat stays unchanged)."""
    content = render(article).encode("utf-8")
    try:
        if path.read_bytes() == content:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


def _remove_stale(folder: Path) -> None:
    import time

    for stale in folder.glob(TMP_PREFIX + "*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
        except OSError:
            continue
