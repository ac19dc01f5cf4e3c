"""The Chroma side of the index: client, collections, the state record (the commit point).

Readers never see a half-built index, on disk or on a Chroma server, without renaming folders:

* Every record (article or chunk) carries `gen_added` and `gen_removed`. It is *live* in
  generation G when gen_added <= G < gen_removed.
* One record in the `<name>_state` collection names the committed generation G. A rebuild
  writes generation G+1 beside G (new records: gen_added=G+1; retired ones: gen_removed=G+1),
  then commits by upserting that one record (a single SQLite transaction in Chroma), then
  deletes what generation G+1 no longer needs.
* Readers read the state record and filter every query to generation G. A rebuild killed
  anywhere leaves G intact; the next rebuild first rolls back whatever G+1 left behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.config import Settings
from qa.errors import IndexError_, IndexMissingError
from qa.index.schema import GEN_REMOVED, live

STATE_ID = "state"
NO_VECTOR = [1.0]  # articles and state records need an embedding; they are never searched


@dataclass(frozen=True)
class State:
    generation: int
    clean: bool
    embed_model: str
    chunk_size: int
    chunk_overlap: int
    articles: int
    chunks: int
    updated_at: str
    seconds: float
    updated_epoch: float = 0.0  # updated_at to the sub-second (0 in indexes older than it)
    commit: str = ""  # a token new at each commit ("" in indexes older than it)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> State:
        return cls(
            generation=int(meta.get("generation", 0)),
            clean=bool(meta.get("clean", False)),
            embed_model=str(meta.get("embed_model", "")),
            chunk_size=int(meta.get("chunk_size", 0)),
            chunk_overlap=int(meta.get("chunk_overlap", 0)),
            articles=int(meta.get("articles", 0)),
            chunks=int(meta.get("chunks", 0)),
            updated_at=str(meta.get("updated_at", "")),
            seconds=float(meta.get("seconds", 0.0)),
            updated_epoch=float(meta.get("updated_epoch", 0.0)),
            commit=str(meta.get("commit", "")),
        )


_CONNECT_LOCK = threading.Lock()


def and_where(*clauses: dict[str, Any] | None) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    for c in clauses:
        if not c:
            continue
        parts.extend(c["$and"] if set(c) == {"$and"} else [c])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _refused(exc: Exception, base_url: str, headers: dict[str, str] | None) -> bool:
    """Whether connecting to the server at `base_url` failed on the credentials.

    Chroma's own auth errors arrive typed. `chroma run` enforces no auth itself, so a server
    with a token sits behind a proxy, whose 401/403 body chromadb does not know: its client then
    raises a bare Exception of the body text, without the status. So the status is asked for
    here, by one request to the same server with the same headers.
    """
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    if isinstance(exc, (AuthorizationError, ChromaAuthError)):
        return True
    try:
        got = httpx.get(f"{base_url}/api/v2/auth/identity", headers=headers, timeout=10)
    except httpx.HTTPError:
        return False
    return got.status_code in (401, 403)


class Store:
    """Opens the Chroma client (embedded or server) and the three collections of one index."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.collection
        self._client: Any = None
        self._cols: dict[str, Any] = {}

    # --- connection ----------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir / "chroma")

    @property
    def client(self) -> Any:
        # Chroma's client cache is process-wide and not safe to fill from two threads at once
        # (a served UI opens the index from several request threads).
        with _CONNECT_LOCK:
            if self._client is None:
                self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.settings.chroma_url:
            return self._connect_server(chroma_settings)
        path = self.settings.index_dir / "chroma"
        database = path / "chroma.sqlite3"
        if database.exists() and not (os.access(database, os.W_OK)
                                      and os.access(path, os.W_OK)):
            # Chroma opens its SQLite database for writing even to read it.
            raise IndexError_(
                f"The index at {path} is read-only, and Chroma needs write access to read it "
                f"(to {database} and its folder). Make them writable (chmod -R u+w "
                f"{self.settings.index_dir}) or copy the index folder somewhere writable and "
                "pass that as --index.")
        try:
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            raise IndexError_(
                f"Cannot open the Chroma index at {self.location}: {exc}. Check that the folder "
                "is readable and writable."
            ) from exc

    def _connect_server(self, chroma_settings: Any) -> Any:
        from urllib.parse import urlparse

        import chromadb

        url = self.settings.chroma_url
        parsed = urlparse(url)
        host, https = parsed.hostname or "127.0.0.1", parsed.scheme == "https"
        port = parsed.port or (443 if https else 8000)
        token = self.settings.chroma_auth_token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=https, headers=headers,
                                         settings=chroma_settings)
            client.heartbeat()
        except Exception as exc:
            if _refused(exc, f"{'https' if https else 'http'}://{host}:{port}", headers):
                raise IndexError_(
                    f"The Chroma server at {url} refused the credentials — set or fix "
                    "QA_CHROMA_AUTH_TOKEN."
                ) from exc
            raise IndexError_(
                f"Cannot reach the Chroma server at {url} ({exc}). Start it (`chroma run --path "
                "DIR --host 127.0.0.1 --port PORT`) or fix QA_CHROMA_URL / --chroma-url."
            ) from exc
        return client

    def collection(self, kind: str, create: bool = False) -> Any:
        """kind is 'chunks', 'articles' or 'state'."""
        if kind in self._cols:
            return self._cols[kind]
        name = f"{self.name}_{kind}"
        if not create and not self.settings.chroma_url \
                and not (self.settings.index_dir / "chroma" / "chroma.sqlite3").exists():
            # Reading never creates the folder: `qa ask --index typo/` leaves nothing behind.
            raise IndexMissingError(f"No index at {self.location} — run `qa rebuild` to build it.")
        try:
            if create:
                meta = {"hnsw:space": "cosine"} if kind == "chunks" else None
                col = self.client.get_or_create_collection(name, metadata=meta)
            else:
                col = self.client.get_collection(name)
        except IndexError_:
            raise
        except Exception as exc:
            if not create:
                raise IndexMissingError(
                    f"No index at {self.location} — run `qa rebuild` to build it."
                ) from exc
            raise IndexError_(f"Cannot create collection {name} at {self.location}: {exc}") from exc
        self._cols[kind] = col
        return col

    def drop(self, kind: str) -> None:
        """Delete a collection if it exists (used by `qa migrate --replace`)."""
        self._cols.pop(kind, None)
        try:
            self.client.delete_collection(f"{self.name}_{kind}")
        except Exception:  # noqa: BLE001 - it did not exist
            pass

    def max_batch(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 5000))
        except Exception:  # noqa: BLE001 - older clients
            return 1000

    # --- state ---------------------------------------------------------------------------------

    def read_state(self) -> State | None:
        """The committed state, or None when no rebuild ever committed."""
        try:
            col = self.collection("state")
        except IndexMissingError:
            return None
        got = col.get(ids=[STATE_ID], include=["metadatas"])
        if not got["ids"]:
            return None
        return State.from_meta(got["metadatas"][0])

    def require_state(self) -> State:
        state = self.read_state()
        if state is None or state.generation == 0:
            raise IndexMissingError(f"No index at {self.location} — run `qa rebuild` to build it.")
        return state

    def write_state(self, **fields: Any) -> None:
        """Upsert the single state record: this is the commit point of a rebuild."""
        col = self.collection("state", create=True)
        got = col.get(ids=[STATE_ID], include=["metadatas"])
        meta = dict(got["metadatas"][0]) if got["ids"] else {}
        meta.update(fields)
        now = time.time()
        meta["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now))
        meta["updated_epoch"] = now
        col.upsert(ids=[STATE_ID], embeddings=[NO_VECTOR], metadatas=[meta], documents=[""])

    # --- bulk record access --------------------------------------------------------------------

    def iter_records(
        self, kind: str, where: dict[str, Any] | None, include: list[str], page: int = 2000
    ) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """(id, metadata, document) for every matching record, paged to bound memory."""
        col = self.collection(kind, create=True)
        offset = 0
        while True:
            got = col.get(where=where, include=include, limit=page, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            metas = got.get("metadatas") or [None] * len(ids)
            docs = got.get("documents") or [None] * len(ids)
            for i, rid in enumerate(ids):
                yield rid, metas[i] or {}, docs[i]
            if len(ids) < page:
                return
            offset += len(ids)

    def records_by_id(
        self, kind: str, ids: list[str], include: list[str]
    ) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """(id, metadata, document) for the given ids (those that exist), in batches."""
        col = self.collection(kind, create=True)
        step = self.max_batch()
        for i in range(0, len(ids), step):
            got = col.get(ids=ids[i : i + step], include=include)
            metas = got.get("metadatas") or [None] * len(got["ids"])
            docs = got.get("documents") or [None] * len(got["ids"])
            for j, rid in enumerate(got["ids"]):
                yield rid, metas[j] or {}, docs[j]

    def set_gen_removed(self, kind: str, where: dict[str, Any], value: int) -> int:
        """Set gen_removed on every record matching `where`; returns how many."""
        col = self.collection(kind, create=True)
        ids = [rid for rid, _, _ in self.iter_records(kind, where, include=[])]
        step = self.max_batch()
        for i in range(0, len(ids), step):
            batch = ids[i : i + step]
            col.update(ids=batch, metadatas=[{GEN_REMOVED: value}] * len(batch))
        return len(ids)

    def delete_where(self, kind: str, where: dict[str, Any]) -> int:
        col = self.collection(kind, create=True)
        ids = [rid for rid, _, _ in self.iter_records(kind, where, include=[])]
        step = self.max_batch()
        for i in range(0, len(ids), step):
            col.delete(ids=ids[i : i + step])
        return len(ids)

    def count_live(self, kind: str, generation: int) -> int:
        return sum(1 for _ in self.iter_records(kind, live(generation), include=[]))

    def add(
        self,
        kind: str,
        ids: list[str],
        documents: list[str] | None,
        metadatas: list[dict[str, Any]],
        embeddings: Any = None,  # rows of floats (a 2-D numpy array or lists)
    ) -> None:
        """Upsert records; `documents` None stores none (chunk records: `reader.chunk_texts`)."""
        col = self.collection(kind, create=True)
        step = self.max_batch()
        for i in range(0, len(ids), step):
            sl = slice(i, i + step)
            embs = embeddings[sl] if embeddings is not None else [NO_VECTOR] * len(ids[sl])
            col.upsert(ids=ids[sl], metadatas=metadatas[sl], embeddings=embs,
                       documents=documents[sl] if documents is not None else None)

    def size_bytes(self) -> int:
        if self.settings.chroma_url:
            return 0
        root = self.settings.index_dir / "chroma"
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
