"""The committed generation's article records, as a rebuild needs them, cached beside the index.

Every rebuild starts from what the committed generation holds: each article's content hash,
its number of chunks and its deduplication keys. Reading them from Chroma costs the whole
metadata of every article record (~70 ms per 1,000 articles), most of a one-change rebuild. The
rebuild that commits a generation knows those records already, so it writes them to
`<index_dir>/manifest/<collection>-g<G>.json` after its commit, with the commit's token from the
state record. The next rebuild uses the file only when its token and article count are the
committed state's: a file from a rebuild that was killed before committing, from an index
rebuilt since, or from another host sharing the Chroma server names another token, and every
record is then read from Chroma as before. The file is a cache: losing it costs one read.
"""

from __future__ import annotations

from typing import Any

from qa.index import sidecar
from qa.index.schema import ARTICLE_ID, live
from qa.index.store import State, Store

VERSION = 1
FIELDS = (ARTICLE_ID, "content_hash", "chunks", "url", "text_hash")


def brief(meta: dict[str, Any]) -> dict[str, Any]:
    """What a rebuild needs of an article record's metadata."""
    return {k: meta[k] for k in FIELDS if k in meta}


KIND = "manifest"


def cached(settings: Any, state: State) -> dict[str, dict[str, Any]] | None:
    """The manifest of the committed `state`, or None when there is none to trust."""
    if not state.commit:
        return None
    data = sidecar.read(settings, KIND, state.generation)
    if data is None:
        return None
    records = data.get("records")
    if (data.get("version"), data.get("generation"), data.get("commit")) != (
            VERSION, state.generation, state.commit) or not isinstance(records, dict) \
            or len(records) != state.articles:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get(ARTICLE_ID), str)
               and isinstance(m.get("content_hash"), str) for m in records.values()):
        return None
    return records


def load(settings: Any, store: Store, state: State | None) -> dict[str, dict[str, Any]]:
    """Record id -> `brief` metadata of every live article record of the committed state."""
    if state is None or not state.generation:
        return {}
    known = cached(settings, state)
    if known is not None:
        return known
    return {rid: brief(meta) for rid, meta, _ in
            store.iter_records("articles", live(state.generation), include=["metadatas"])}


def save(settings: Any, generation: int, commit: str,
         records: dict[str, dict[str, Any]]) -> None:
    """Record the article records of the generation just committed with token `commit` (a
    failure costs the next rebuild one read)."""
    sidecar.write(settings, KIND, generation,
                  {"version": VERSION, "generation": generation, "commit": commit,
                   "records": records},
                  "the article manifest",
                  "the next rebuild reads the article records from the index")
