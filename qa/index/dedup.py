"""One copy per article: the same canonical URL or the same text under two files is indexed once."""

from __future__ import annotations

import hashlib
from typing import Any

from qa.corpus.urls import canonical_url
from qa.records import Article, Skipped


def text_digest(text: str) -> str:
    """The text's identity, blind to whitespace and case (what a re-save or re-fetch changes)."""
    words = " ".join(text.lower().split())
    return hashlib.sha256(words.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


class Dedup:
    """The copies kept so far in a rebuild, by canonical URL and by text.

    The corpus is visited in sorted order, so the copy kept is the first file by path, the
    same one every rebuild.
    """

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}  # "url <canonical>" / "text <digest>" -> kept article id
        self.known: dict[str, tuple[str, str]] = {}  # indexed article id -> (url, text digest)

    def remember(self, meta: dict[str, Any]) -> None:
        """An article record of the committed generation: its keys, for when it is unchanged."""
        self.known[meta["article_id"]] = (meta.get("url", ""), meta.get("text_hash", ""))

    def keep_unchanged(self, article_id: str) -> None:
        url, digest = self.known.get(article_id, ("", ""))
        for key in _keys(url, digest):
            self.kept.setdefault(key, article_id)

    def duplicate(self, article: Article) -> Skipped | None:
        """A Skipped note naming the kept copy when `article` repeats one; else keep it."""
        keys = _keys(article.url, text_digest(article.text))
        for key in keys:
            other = self.kept.get(key)
            if other is not None and other != article.id:
                what = "canonical URL" if key.startswith("url ") else "text"
                where = article.id.removeprefix(article.source_path)
                return Skipped(article.source_path, where,
                               f"duplicate: same {what} as {other}, which is the copy kept")
        for key in keys:
            self.kept.setdefault(key, article.id)
        return None


def _keys(url: str, digest: str) -> list[str]:
    canon = canonical_url(url)
    return ([f"url {canon}"] if canon else []) + ([f"text {digest}"] if digest else [])
