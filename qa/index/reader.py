"""Reads of the committed generation that the Engine offers: one article, the article list."""

from __future__ import annotations

from typing import Any

from qa.index.schema import article_from_row, article_listing, live, live_article
from qa.index.store import Store
from qa.records import Article


def read_article(store: Store, article_id: str) -> Article | None:
    """The live article record with its full text (None when no such article is live)."""
    gen = store.require_state().generation
    got = store.collection("articles").get(
        where=live_article(article_id, gen), include=["metadatas", "documents"]
    )
    if not got["ids"]:
        return None
    return article_from_row(article_id, got["metadatas"][0], got["documents"][0])


def list_articles(store: Store) -> list[dict[str, Any]]:
    """Every live article's listing row (title, date, source, chunks, file), newest first."""
    gen = store.require_state().generation
    rows = [article_listing(m) for _, m, _ in
            store.iter_records("articles", live(gen), ["metadatas"])]
    rows.sort(key=lambda r: (r["date"] or "", r["title"]), reverse=True)
    return rows
