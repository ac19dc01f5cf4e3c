"""One copy per article: the same canonical URL or the same text under two files is indexed once."""

from __future__ import annotations

import hashlib
from typing import Any

from qa.corpus.urls import canonical_url
from qa.records import Article, Chunk, Skipped


def text_digest(text: str) -> str:
    """The text's identity, blind to whitespace and case (what a re-save or re-fetch changes)."""
    words = " ".join(text.lower().split())
    return hashlib.sha256(words.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


class Dedup:
    """The copy kept of each article in a rebuild, by canonical URL and by text.

    The copy already indexed stays the one kept (its id, cited in answers, stays stable);
    among new copies the first file by path wins, the same one every rebuild. A copy held
    back is indexed after all when the kept one has left the corpus.
    """

    def __init__(self) -> None:
        self.kept: dict[str, str] = {}  # "url <canonical>" / "text <digest>" -> article id
        self.keys_of: dict[str, list[str]] = {}
        self.held: list[tuple[Article, list[Chunk] | None, str, str]] = []

    def remember(self, meta: dict[str, Any]) -> None:
        """An article record of the committed generation."""
        aid = meta["article_id"]
        self.keys_of[aid] = _keys(meta.get("url", ""), meta.get("text_hash", ""))
        for key in self.keys_of[aid]:
            self.kept.setdefault(key, aid)

    def hold(self, article: Article, chunks: list[Chunk] | None) -> bool:
        """True (and the article held back) when it repeats a kept copy; else it is kept."""
        for key in self.keys_of.pop(article.id, []):  # its keys as last indexed
            if self.kept.get(key) == article.id:
                del self.kept[key]
        keys = _keys(article.url, text_digest(article.text))
        for key in keys:
            other = self.kept.get(key)
            if other is not None and other != article.id:
                what = "canonical URL" if key.startswith("url ") else "text"
                self.held.append((article, chunks, other, what))
                return True
        for key in keys:
            self.kept[key] = article.id
        return False

    def settle(self, seen: set[str]) -> tuple[list[Skipped], list[tuple[Article, Any]]]:
        """After the corpus is read: (notes of the copies left out, copies to index after all
        because the copy they repeat is no longer in the corpus)."""
        notes, orphans = [], []
        promoted: dict[str, str] = {}  # a copy gone -> the held copy indexed in its place
        for article, chunks, other, what in self.held:
            if other not in seen and other not in promoted:
                promoted[other] = article.id
                orphans.append((article, chunks))
                continue
            kept = other if other in seen else promoted[other]
            where = article.id.removeprefix(article.source_path)
            notes.append(Skipped(article.source_path, where,
                                 f"duplicate: same {what} as {kept}, which is the copy kept"))
        return notes, orphans


def _keys(url: str, digest: str) -> list[str]:
    canon = canonical_url(url)
    return ([f"url {canon}"] if canon else []) + ([f"text {digest}"] if digest else [])
