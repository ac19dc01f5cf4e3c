"""Reads of the committed generation: one article, the article list, the texts of chunks."""

from __future__ import annotations

from typing import Any

from qa.index.schema import (
    GEN_ADDED,
    article_from_row,
    article_listing,
    article_record_id,
    chunk_span,
    live,
    live_article,
)
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


def chunk_texts(store: Store, rows: list[tuple[dict[str, Any], str | None]]) -> list[str | None]:
    """The text of each chunk record, given as (metadata, document): its span of the text of
    its article's record, which the same generation wrote (or its own document, in an index
    written when chunk records held their text). None when that record is gone (a rebuild
    committed and deleted it meanwhile)."""
    def article_of(meta: dict[str, Any]) -> str:
        return article_record_id(chunk_span(meta)[0], int(meta[GEN_ADDED]))

    wanted = sorted({article_of(m) for m, doc in rows if not doc})
    texts = {rid: doc or "" for rid, _, doc in store.records_by_id("articles", wanted,
                                                                   ["documents"])}
    out: list[str | None] = []
    for meta, doc in rows:
        if doc:
            out.append(doc)
            continue
        text = texts.get(article_of(meta))
        _, start, end = chunk_span(meta)
        out.append(None if text is None else text[int(start) : int(end)])
    return out
