"""The rebuild's threads: a reader chunking ahead of the embedder, a writer behind it."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qa.chunking import Chunker
from qa.config import Settings
from qa.corpus import read_corpus
from qa.index.events import ChunksWritten, Progress
from qa.index.schema import article_record_id, chunk_meta, chunk_record_id
from qa.index.store import Store
from qa.models import Embedder
from qa.records import Article, Chunk

log = logging.getLogger(__name__)

_DONE = object()
WRITE_GROUP = 256  # chunks embedded before they are handed to the writer (each write has a
# fixed cost of ~15-25 ms of CPU in Chroma: 391 chunks in one call took 0.29 s, in four 0.37 s)
READ_AHEAD = 2048  # items the reader may hold ahead of the embedder (a few flushes' worth)


def prepared(
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


def embed_groups(
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
    groups = [[pieces[i] for i in order[start : start + size]]
              for start in range(0, len(order), size)]
    vectors = embedder.encode_groups([[c.text for _, c in g] for g in groups],
                                     [[c.tokens for _, c in g] for g in groups])
    yield from zip(groups, vectors, strict=True)


def write_articles(store: Store, items: list[tuple[Article, list[Chunk]]],
                   metas: list[dict[str, Any]], gen: int) -> None:
    """Article records: the text citations point into, and the metadata (`article_meta`)."""
    log.info("stage=write articles=%d", len(items))
    store.add(
        "articles",
        ids=[article_record_id(a.id, gen) for a, _ in items],
        documents=[a.text for a, _ in items],
        metadatas=metas,
    )


def write_chunks(
    store: Store, pieces: list[tuple[Article, Chunk]], vectors: Any, gen: int, emit: Progress
) -> None:
    """Chunk records: metadata (the article and the span of its text) and vector, written with
    Chroma's own client.

    No text: a chunk's text is its span of the article record's text (`reader.chunk_texts`).
    Chroma keeps a document three times (its log, its metadata table and a trigram full-text
    index), in calls that hold the GIL while the encoder's threads wait for it; without them a
    write takes a third of the time, and the index holds each text once.
    """
    log.info("stage=write-chunks chunks=%d", len(pieces))
    store.add(
        "chunks",
        ids=[chunk_record_id(a.id, gen, c.number) for a, c in pieces],
        documents=None,
        metadatas=[chunk_meta(a, c, gen) for a, c in pieces],
        embeddings=vectors,
    )
    emit(ChunksWritten(len(pieces)))



class Writer:
    """Writes to Chroma in one thread, in order, overlapping the embedding of what comes next;
    at most two writes wait, so vectors do not pile up when the store is slow. (Writing
    between encodes instead measured 0.91 of the raw torch encode against 0.99 overlapped,
    docs/benchmarks.md.)"""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-writer")
        self._pending: collections.deque[Future[None]] = collections.deque()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        while len(self._pending) >= 2:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def drain(self) -> None:
        """Wait for every write; raise the first write's error."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
