"""The one record format of the index: ids, metadata field names, and rows to/from records."""

from __future__ import annotations

from typing import Any

from qa.corpus import date_int
from qa.records import Article, Chunk, Passage

ALIVE = 2**62  # gen_removed of a record no generation has retired yet
GEN_ADDED, GEN_REMOVED = "gen_added", "gen_removed"
ARTICLE_ID, DATE_INT, SOURCE = "article_id", "date_int", "source"
LISTING = (ARTICLE_ID, "title", "date", SOURCE, "url", "source_path", "chunks")


def article_record_id(article_id: str, gen: int) -> str:
    return f"{article_id}@{gen}"


def chunk_record_id(article_id: str, gen: int, number: int) -> str:
    return f"{article_id}@{gen}#{number}"


def chunk_article(chunk_id: str) -> str:
    """The article id of a chunk record id (ids of articles may hold "@" and "#" too)."""
    return chunk_id.rsplit("@", 1)[0]


def _common_meta(a: Article, generation: int) -> dict[str, Any]:
    """Metadata of an article's record and of each of its chunks (filters need it on both)."""
    return {
        ARTICLE_ID: a.id,
        "title": a.title,
        "url": a.url,
        "date": a.date,
        DATE_INT: date_int(a.date),
        SOURCE: a.source,
        "source_path": a.source_path,
        "content_hash": a.content_hash,
        GEN_ADDED: generation,
        GEN_REMOVED: ALIVE,
    }


def article_meta(a: Article, generation: int, chunks: int) -> dict[str, Any]:
    from qa.index.dedup import text_digest

    return {**_common_meta(a, generation), "author": a.author, "chunks": chunks,
            "text_hash": text_digest(a.text)}


def chunk_meta(a: Article, c: Chunk, generation: int) -> dict[str, Any]:
    return {**_common_meta(a, generation), "chunk": c.number, "start": c.start, "end": c.end}


def article_hash(meta: dict[str, Any]) -> tuple[str, str, Any]:
    """(article id, content hash, number of chunks or None) of an article record."""
    return meta[ARTICLE_ID], meta["content_hash"], meta.get("chunks")


def filter_fields(meta: dict[str, Any]) -> tuple[str, int, str]:
    """(article id, date as an int, source) of a record: what retrieval filters look at."""
    return meta.get(ARTICLE_ID, ""), int(meta.get(DATE_INT) or 0), meta.get(SOURCE, "")


def live(generation: int) -> dict[str, Any]:
    """Chroma `where` clause selecting the records of one generation."""
    return {"$and": [{GEN_ADDED: {"$lte": generation}}, {GEN_REMOVED: {"$gt": generation}}]}


def is_live(meta: dict[str, Any], generation: int) -> bool:
    """The record is live in `generation` (the predicate of `live`)."""
    return int(meta.get(GEN_ADDED, 0)) <= generation < int(meta.get(GEN_REMOVED, 0))


def live_article(article_id: str, generation: int) -> dict[str, Any]:
    return {"$and": [{ARTICLE_ID: article_id}, *live(generation)["$and"]]}


def passage_from_row(cid: str, meta: dict[str, Any], doc: str | None, score: float) -> Passage:
    return Passage(
        chunk_id=cid,
        article_id=meta[ARTICLE_ID],
        title=meta.get("title", ""),
        text=doc or "",
        start=int(meta["start"]),
        end=int(meta["end"]),
        url=meta.get("url", ""),
        date=meta.get("date", ""),
        source=meta.get(SOURCE, ""),
        source_path=meta.get("source_path", ""),
        score=score,
    )


def article_from_row(article_id: str, m: dict[str, Any], text: str | None) -> Article:
    return Article(id=article_id, title=m.get("title", ""), text=text or "",
                   url=m.get("url", ""), date=m.get("date", ""), source=m.get(SOURCE, ""),
                   author=m.get("author", ""), source_path=m.get("source_path", ""),
                   content_hash=m.get("content_hash", ""))


def article_listing(m: dict[str, Any]) -> dict[str, Any]:
    """The row of an article in `Engine.articles` (keys as the metadata fields)."""
    return {k: m.get(k, "") for k in LISTING}


def chunk_span(meta: dict[str, Any]) -> tuple[str, int, int]:
    """(article id, start, end) of a chunk record."""
    return meta[ARTICLE_ID], meta["start"], meta["end"]
