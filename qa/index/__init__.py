"""The index: rebuild it from the corpus, read its statistics; one writer at a time."""

from __future__ import annotations

from typing import Any

from qa.config import Settings
from qa.index.builder import rebuild
from qa.index.events import Progress, RebuildEvent
from qa.index.locks import server_lease, writer_lock
from qa.index.store import Store

__all__ = ["Progress", "RebuildEvent", "rebuild", "server_lease", "stats", "writer_lock"]


def stats(settings: Settings) -> dict[str, Any]:
    from qa.models import llm_name

    store = Store(settings)
    state = store.require_state()
    return {
        "articles": state.articles,
        "chunks": state.chunks,
        "embedding_model": state.embed_model,
        "llm_model": llm_name(settings),
        "chunk_size": state.chunk_size,
        "chunk_overlap": state.chunk_overlap,
        "index": store.location,
        "index_bytes": store.size_bytes(),
        "generation": state.generation,
        "last_rebuild": state.updated_at,
        "last_rebuild_seconds": state.seconds,
    }
