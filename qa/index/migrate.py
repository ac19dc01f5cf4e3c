"""Copy a committed index to another Chroma (e.g. the embedded index to a Chroma server).

Vectors are copied as they are: nothing is re-embedded. The target's state record, the commit
point, is written last, so an interrupted migration leaves no half-index that readers would use.
"""

from __future__ import annotations

import time
from typing import Any

from qa.config import Settings
from qa.errors import ConfigError, IndexError_
from qa.index import server_lease, writer_lock
from qa.index.schema import live
from qa.index.store import STATE_ID, Store


def migrate(source: Settings, target: Settings, replace: bool = False) -> dict[str, Any]:
    """Copy the committed generation of `source`'s index into `target`'s Chroma."""
    t0 = time.perf_counter()
    src, dst = Store(source), Store(target)
    if (src.location, source.collection) == (dst.location, target.collection):
        raise ConfigError(f"The source and the target are the same index ({src.location}).")
    with writer_lock(source), (server_lease(target) if target.chroma_url
                               else writer_lock(target)):
        state = src.require_state()  # under the source's lock: no rebuild moves it meanwhile
        existing = dst.read_state()
        if existing is not None and existing.generation > 0 and not replace:
            raise IndexError_(
                f"{dst.location} already holds an index ({existing.articles} articles); pass "
                "--replace to overwrite it."
            )
        # Uncommit first (readers see "no index" rather than a half-copied one), keeping the
        # state collection: it also holds the writer lease this migration is running under.
        dst.collection("state", create=True).delete(ids=[STATE_ID])
        for kind in ("chunks", "articles"):
            dst.drop(kind)
        copied = {}
        for kind in ("chunks", "articles"):
            copied[kind] = _copy(src, dst, kind, live(state.generation))
        raw = src.collection("state").get(ids=[STATE_ID], include=["metadatas"])
        dst.write_state(**raw["metadatas"][0])  # the commit point, last
    return {"from": src.location, "to": dst.location, "articles": copied["articles"],
            "chunks": copied["chunks"], "generation": state.generation,
            "seconds": round(time.perf_counter() - t0, 3)}


def _copy(src: Store, dst: Store, kind: str, where: dict[str, Any], page: int = 1000) -> int:
    col = src.collection(kind)
    offset = n = 0
    while True:
        got = col.get(where=where, include=["embeddings", "metadatas", "documents"],
                      limit=page, offset=offset)
        ids = got["ids"]
        if not ids:
            return n
        embeddings = [list(map(float, e)) for e in got["embeddings"]]
        docs = got["documents"]
        # Chunk records hold no text (their article records do): none is written for them.
        dst.add(kind, ids, [d or "" for d in docs] if any(docs) else None,
                list(got["metadatas"]), embeddings)
        n += len(ids)
        offset += len(ids)
        if len(ids) < page:
            return n
