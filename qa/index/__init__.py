"""`rebuild`: corpus -> chunks -> embeddings -> a new committed generation of the index."""

from __future__ import annotations

import collections
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.chunking import Chunker
from qa.config import Settings
from qa.corpus import Warned, count_files, file_of, read_corpus
from qa.errors import ConfigError, CorpusError, IndexBusyError, IndexError_
from qa.index.filestats import FileStats, UnchangedFile
from qa.index.schema import (
    ALIVE,
    ARTICLE_ID,
    GEN_ADDED,
    GEN_REMOVED,
    article_hash,
    article_meta,
    article_record_id,
    chunk_meta,
    chunk_record_id,
    live,
)
from qa.index.store import Store
from qa.models import Embedder, backend_hint
from qa.records import Article, Chunk, RebuildSummary, Skipped

log = logging.getLogger(__name__)

Progress = Callable[[str, dict[str, Any]], None]


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer per index: a second rebuild refuses at once with a clear message."""
    lock_dir = settings.index_dir
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fh = open(lock_dir / f".{settings.collection}.rebuild.lock", "a+")  # noqa: SIM115
    except OSError as exc:
        raise IndexError_(
            f"Cannot write to the index folder {lock_dir}: {exc.strerror or exc}. "
            "Make it writable or choose another with --index / QA_INDEX_DIR."
        ) from exc
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"Another rebuild of {lock_dir} is running; wait for it to finish and try again."
            ) from exc
        if settings.chroma_url:
            with server_lease(settings):
                yield
        else:
            yield
    finally:
        fh.close()


LEASE_SECONDS = 120.0


def _dead_here(holder: str) -> bool:
    """A lease held by a process of this machine that no longer exists (it was killed)."""
    import socket

    import psutil

    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))


@contextlib.contextmanager
def server_lease(settings: Settings) -> Iterator[None]:
    """On a Chroma server, writers on other machines share no lock file: hold a lease record,
    refreshed in the background while the rebuild runs."""
    import socket
    import threading
    import uuid

    store = Store(settings)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    store.acquire_lease(holder, LEASE_SECONDS, dead=_dead_here)
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(LEASE_SECONDS / 4):
            try:
                store.refresh_lease(holder, LEASE_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the rebuild itself will report the server
                log.warning("could not refresh the writer lease: %s", exc)

    t = threading.Thread(target=refresh, name="qa-lease", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(5)
        try:
            store.release_lease(holder)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            log.warning("could not release the writer lease: %s", exc)


@dataclass
class _Batch:
    articles: list[tuple[Article, list[Chunk]]] = field(default_factory=list)
    n_chunks: int = 0


def rebuild(
    settings: Settings,
    full: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> RebuildSummary:
    """Bring the index up to date with the corpus folder, atomically. Returns the summary."""
    corpus = Path(settings.corpus_dir)
    if not corpus.is_dir():
        raise CorpusError(
            f"Corpus folder {corpus} does not exist — create it and put articles in it, "
            "or point --corpus / QA_CORPUS_DIR at your articles."
        )
    t0 = time.perf_counter()
    with writer_lock(settings):
        try:
            return _rebuild(settings, corpus, full, progress, embedder, t0)
        except Exception as exc:
            if not _storage_failure(exc):
                raise
            log.debug("rebuild failed", exc_info=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise IndexError_(
                f"Rebuild failed writing the index at {Store(settings).location}: {reason}. "
                "The previous index is intact; free disk space or fix permissions (or start "
                "the Chroma server) and run `qa rebuild` again."
            ) from exc


def _storage_failure(exc: BaseException) -> bool:
    """Disk full, read-only folder, I/O error, server gone: raised by the OS or by Chroma."""
    return isinstance(exc, OSError) or type(exc).__module__.startswith("chromadb")


def _rebuild(
    settings: Settings,
    corpus: Path,
    full: bool,
    progress: Progress | None,
    embedder: Embedder | None,
    t0: float,
) -> RebuildSummary:
    emit: Progress = progress or (lambda event, data: None)
    started_ns = time.time_ns()  # wall clock, like the files' ctimes (see qa.index.filestats)
    embedder = embedder or Embedder.from_settings(settings)
    store = Store(settings)
    state = store.read_state()
    gen = state.generation if state else 0
    new_gen = gen + 1
    summary = RebuildSummary(generation=gen)

    if state and state.generation and not full and settings.embed_backend is None:
        # No backend chosen: an incremental rebuild keeps the index's own (an index made
        # with another backend stays usable without re-embedding).
        with contextlib.suppress(ConfigError):
            embedder = embedder.for_index(state.embed_model)
    built_with = (state.embed_model, state.chunk_size, state.chunk_overlap) if state else None
    wanted = (embedder.name, settings.chunk_size, settings.chunk_overlap)
    if state and state.generation and not full and built_with != wanted:
        raise ConfigError(
            f"The index was built with {state.embed_model} (chunks {state.chunk_size}/"
            f"{state.chunk_overlap}) but the settings now say {embedder.name} "
            f"({settings.chunk_size}/{settings.chunk_overlap}): "
            f"{backend_hint(state.embed_model, embedder.name)}."
        )

    if state is None or not state.clean:
        _roll_back(store, gen)

    # What the committed generation holds, article by article.
    existing: dict[str, str] = {}
    chunks_of: dict[str, Any] = {}  # article id -> its number of chunks
    for _, meta, _ in store.iter_records("articles", live(gen), include=["metadatas"]):
        aid, content_hash, n = article_hash(meta)
        existing[aid] = content_hash
        chunks_of[aid] = n
    # Files whose stat is unchanged since the last rebuild are not read (not with --full).
    files = FileStats.load(settings, gen, existing, use=not full)
    # Counting files is a second walk of the corpus: only worth it when someone shows progress.
    emit("start", {"existing": len(existing), "files": count_files(corpus) if progress else 0})
    log.info("stage=read generation=%d existing=%d", gen, len(existing))

    seen: set[str] = set()
    retire: list[str] = []
    batch = _Batch()
    dirty = False
    # Writes to Chroma overlap the embedding of what comes next (one writer thread, in order;
    # at most two writes waiting, so vectors do not pile up when the store is slow).
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-writer")
    pending: collections.deque[Future[None]] = collections.deque()

    def submit(fn: Callable[..., None], *args: Any) -> None:
        while len(pending) >= 2:
            pending.popleft().result()
        pending.append(writer.submit(fn, *args))

    def flush() -> None:
        nonlocal dirty
        if not batch.articles:
            return
        if not dirty:
            store.write_state(clean=False)
            dirty = True
        items, n = list(batch.articles), batch.n_chunks
        batch.articles.clear()
        batch.n_chunks = 0
        # Articles first (a chunk is never written without the text its offsets point into),
        # then each group of chunks as soon as it is embedded: only the last, shortest group's
        # write is left when the embedding ends.
        submit(_write_articles, store, items, new_gen)
        for group, vectors in _embed_groups(embedder, items):
            submit(_write_chunks, store, group, vectors, new_gen, emit)
        summary.embedded += n

    # Reading and chunking run in a thread ahead of the embedding (torch and onnxruntime release
    # the GIL while they compute), so the embedder never waits for the next batch.
    def needs_chunks(article: Article) -> bool:
        return full or existing.get(article.id) != article.content_hash

    current_file = None
    try:
        for item, chunks in _prepared(corpus, settings, embedder, needs_chunks, files.probe):
            if file_of(item) != current_file:
                current_file = file_of(item)
                emit("file", {"path": current_file})
            if isinstance(item, UnchangedFile):
                fresh = [aid for aid in item.article_ids if aid not in seen]
                seen.update(fresh)
                summary.unchanged += len(fresh)
                for _ in fresh:
                    emit("article", {"status": "unchanged"})
                files.keep(item.path)
                continue
            if isinstance(item, Skipped):
                files.taint(file_of(item))
            if isinstance(item, Warned):
                summary.warnings.append(Skipped(item.path, item.reason))
                log.warning("%s: %s", item.path, item.reason)
                continue
            if isinstance(item, Skipped):
                summary.skipped.append(item)
                log.warning("skipped %s: %s", item.path, item.reason)
                emit("skipped", {"path": item.path, "reason": item.reason})
                continue
            article = item
            if article.id in seen:
                summary.skipped.append(Skipped(article.id, "duplicate article id in the corpus"))
                files.taint(article.source_path)
                continue
            seen.add(article.id)
            files.article(article.source_path, article.id)
            old_hash = existing.get(article.id)
            if chunks is None:
                summary.unchanged += 1
                emit("article", {"status": "unchanged"})
                continue
            if old_hash is None:
                summary.added += 1
            else:
                summary.updated += 1
                retire.append(article.id)
            batch.articles.append((article, chunks))
            batch.n_chunks += len(chunks)
            emit("article", {"status": "changed", "chunks": len(chunks)})
            # The first batch is small so that embedding starts while the reader goes on.
            if batch.n_chunks >= (settings.flush_chunks if summary.embedded else FIRST_FLUSH):
                flush()
        flush()
        while pending:
            pending.popleft().result()
    finally:
        writer.shutdown(wait=True)

    removed = [aid for aid in existing if aid not in seen]
    summary.removed = len(removed)
    if not seen:
        raise CorpusError(
            f"Nothing could be indexed from {corpus}: "
            + (f"{len(summary.skipped)} files skipped (see above)." if summary.skipped
               else "the folder has no .txt, .md, .html, .json or .jsonl articles.")
        )

    changed = dirty or removed or retire or (state is None) or not (state and state.clean)
    if not changed:
        files.save(settings, gen, started_ns)
        summary.chunks = state.chunks if state else 0
        summary.seconds = time.perf_counter() - t0
        return summary

    if not dirty:
        store.write_state(clean=False)
    to_retire = list(existing) if full else retire + removed
    log.info("stage=retire articles=%d", len(to_retire))
    _retire(store, to_retire, gen, new_gen)
    emit("commit", {"generation": new_gen})
    log.info("stage=commit generation=%d", new_gen)
    # The new generation holds the articles seen (unchanged ones and those just written), and
    # their chunks: counted from what was written and the unchanged articles' records, not by
    # scanning every record (a full scan of 100k chunks takes seconds).
    n_articles = len(seen)
    updated = set(retire)
    kept = [] if full else [chunks_of.get(a) for a in seen if a in existing and a not in updated]
    if all(isinstance(n, int) for n in kept):
        n_chunks = summary.embedded + sum(kept)
    else:  # an article record without its chunk count (not written by this version)
        n_chunks = store.count_live("chunks", new_gen)
    # The commit point: one upsert of one record.
    store.write_state(
        generation=new_gen,
        clean=False,
        embed_model=embedder.name,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        articles=n_articles,
        chunks=n_chunks,
        seconds=round(time.perf_counter() - t0, 3),
    )
    emit("committed", {"generation": new_gen})
    log.info("stage=committed generation=%d", new_gen)
    files.save(settings, new_gen, started_ns)
    _build_sparse(settings, store, new_gen)
    emit("gc", {"generation": new_gen})
    log.info("stage=gc generation=%d", new_gen)
    store.delete_where("chunks", {GEN_REMOVED: {"$lte": new_gen}})
    store.delete_where("articles", {GEN_REMOVED: {"$lte": new_gen}})
    store.write_state(clean=True)
    summary.generation = new_gen
    summary.chunks = n_chunks
    summary.seconds = time.perf_counter() - t0
    log.info("stage=done generation=%d", new_gen)
    emit("done", summary.to_dict())
    return summary


_DONE = object()
FIRST_FLUSH = 64  # chunks in the first embedding batch
WRITE_GROUP = 256  # chunks embedded before they are handed to the writer (each write has a
# fixed cost of ~15-25 ms of CPU in Chroma: 391 chunks in one call took 0.29 s, in four 0.37 s)
READ_AHEAD = 2048  # items the reader may hold ahead of the embedder (a few flushes' worth)


def _prepared(
    corpus: Path, settings: Settings, embedder: Embedder, needs_chunks: Callable[[Article], bool],
    probe: Callable[[Path, str], Any] | None = None,
) -> Iterator[tuple[Any, list[Chunk] | None]]:
    """(item, chunks) for every corpus item, read and chunked by a thread running ahead.

    chunks is None for items that are not articles or need no chunking. The chunker has a
    tokenizer of its own: a fast tokenizer must not be used by two threads at once. If the
    consumer stops early, the thread stops too; its errors are raised here.
    """
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        chunker: Chunker | None = None
        try:
            for item in read_corpus(corpus, settings.max_file_bytes, probe):
                chunks = None
                if isinstance(item, Article) and needs_chunks(item):
                    if chunker is None:
                        chunker = Chunker(embedder.spare_tokenizer(), embedder.max_tokens,
                                          settings.chunk_size, settings.chunk_overlap)
                    chunks = chunker.split(item)
                if not put((item, chunks)):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
        finally:
            if chunker is not None:
                embedder.return_tokenizer(chunker.tokenizer)

    t = threading.Thread(target=work, name="qa-reader", daemon=True)
    t.start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        t.join()


def _roll_back(store: Store, gen: int) -> None:
    """Undo what an interrupted rebuild left: uncommitted records and pending retirements."""
    for kind in ("chunks", "articles"):
        store.delete_where(kind, {GEN_ADDED: {"$gt": gen}})
        store.delete_where(kind, {GEN_REMOVED: {"$lte": gen}})
        store.set_gen_removed(
            kind, {"$and": [{GEN_REMOVED: {"$gt": gen}}, {GEN_REMOVED: {"$lt": ALIVE}}]}, ALIVE
        )


def _retire(store: Store, article_ids: list[str], gen: int, new_gen: int) -> None:
    step = 200
    for i in range(0, len(article_ids), step):
        ids = article_ids[i : i + step]
        where = {"$and": [{ARTICLE_ID: {"$in": ids}}, *live(gen)["$and"]]}
        for kind in ("chunks", "articles"):
            store.set_gen_removed(kind, where, new_gen)


def _embed_groups(
    embedder: Embedder, items: list[tuple[Article, list[Chunk]]]
) -> Iterator[tuple[list[tuple[Article, Chunk]], Any]]:
    """(chunks, vectors) for the items' chunks, longest first, in groups of whole batches.

    Both backends sort a call's texts longest first and batch them in that order, so embedding
    the sorted chunks group by group makes the same batches as one call, while each finished
    group can be written during the next one.
    """
    pieces = [(a, c) for a, chunks in items for c in chunks]
    order = sorted(range(len(pieces)), key=lambda i: -len(pieces[i][1].text))
    size = embedder.batch_size * max(1, WRITE_GROUP // embedder.batch_size)
    log.info("stage=embed chunks=%d", len(pieces))
    for start in range(0, len(order), size):
        group = [pieces[i] for i in order[start : start + size]]
        yield group, embedder.encode([c.text for _, c in group])


def _write_articles(store: Store, items: list[tuple[Article, list[Chunk]]], gen: int) -> None:
    log.info("stage=write articles=%d", len(items))
    store.add(
        "articles",
        ids=[article_record_id(a.id, gen) for a, _ in items],
        documents=[a.text for a, _ in items],
        metadatas=[article_meta(a, gen, len(chunks)) for a, chunks in items],
    )


def _write_chunks(
    store: Store, pieces: list[tuple[Article, Chunk]], vectors: Any, gen: int, emit: Progress
) -> None:
    """Chunk records: text, metadata and vector, written with Chroma's own client.

    Not through llama-index's ChromaVectorStore: it adds a JSON copy of every node (text and
    metadata again) to each record, about a quarter of the CPU of writing chunks (0.48 against
    0.36 s for 391 chunks), and nothing here reads it. llama-index still reads these records
    (its ChromaVectorStore builds nodes from text and metadata when that copy is absent; the
    answer benchmark queries it that way).
    """
    log.info("stage=write-chunks chunks=%d", len(pieces))
    store.add(
        "chunks",
        ids=[chunk_record_id(a.id, gen, c.number) for a, c in pieces],
        documents=[c.text for _, c in pieces],
        metadatas=[chunk_meta(a, c, gen) for a, c in pieces],
        embeddings=vectors,
    )
    emit("embedded", {"chunks": len(pieces)})


def _build_sparse(settings: Settings, store: Store, gen: int) -> None:
    from qa.index.sparse import SparseIndex

    try:
        SparseIndex.build(settings, store, gen)
    except OSError as exc:
        # The sparse index is derived data: queries rebuild it when it is missing.
        log.warning("could not save the BM25 index (%s); it will be rebuilt on first query", exc)


def stats(settings: Settings) -> dict[str, Any]:
    store = Store(settings)
    state = store.require_state()
    return {
        "articles": state.articles,
        "chunks": state.chunks,
        "embedding_model": state.embed_model,
        "chunk_size": state.chunk_size,
        "chunk_overlap": state.chunk_overlap,
        "index": store.location,
        "index_bytes": store.size_bytes(),
        "generation": state.generation,
        "last_rebuild": state.updated_at,
        "last_rebuild_seconds": state.seconds,
    }
