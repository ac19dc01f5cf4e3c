"""`rebuild`: corpus -> chunks -> embeddings -> a new committed generation, as a ladder of steps."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.corpus import count_files, file_of
from qa.errors import ConfigError, CorpusError, IndexError_
from qa.index import events, manifest, pipeline
from qa.index.dedup import Dedup
from qa.index.events import Progress, RebuildEvent
from qa.index.filestats import FileStats, UnchangedFile
from qa.index.generations import collect_garbage, retire, roll_back
from qa.index.locks import writer_lock
from qa.index.pipeline import Writer
from qa.index.schema import ARTICLE_ID, article_hash, article_meta, article_record_id
from qa.index.store import State, Store
from qa.models import Embedder, backend_hint
from qa.records import Article, Chunk, RebuildSummary, Skipped, Warned

log = logging.getLogger(__name__)

FIRST_FLUSH = 64  # chunks in the first embedding batch, so embedding starts while reading goes on


def rebuild(
    settings: Settings,
    full: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> RebuildSummary:
    """Bring the index up to date with the corpus folder, atomically. Returns the summary."""
    corpus = Path(settings.corpus_dir)
    if corpus.exists() and not corpus.is_dir():
        raise CorpusError(
            f"{corpus} is a file, not a folder: the corpus is a folder of articles. Point "
            "--corpus / QA_CORPUS_DIR at the folder that holds it.")
    if not corpus.is_dir():
        raise CorpusError(
            f"Corpus folder {corpus} does not exist — create it and put articles in it, "
            "or point --corpus / QA_CORPUS_DIR at your articles."
        )
    t0 = time.perf_counter()
    with writer_lock(settings):
        try:
            return _Rebuild(settings, corpus, full, progress, embedder, t0).run()
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
    """Disk full, read-only folder, I/O error, server gone: raised by the OS, by Chroma (its
    embedded store raises ChromaError subclasses such as InternalError), or by the HTTP
    transport to a Chroma server."""
    import httpx
    from chromadb.errors import ChromaError

    return isinstance(exc, (OSError, ChromaError, httpx.TransportError))


@dataclass
class _Batch:
    articles: list[tuple[Article, list[Chunk]]] = field(default_factory=list)
    n_chunks: int = 0


class _Rebuild:
    """One rebuild's state; `run` is the table of contents, each step one concern."""

    def __init__(self, settings: Settings, corpus: Path, full: bool, progress: Progress | None,
                 embedder: Embedder | None, t0: float) -> None:
        self.settings, self.corpus, self.full, self.t0 = settings, corpus, full, t0
        self.progress = progress
        self.emit: Progress = progress or _ignore
        self.started_ns = time.time_ns()  # wall clock, like the files' ctimes (filestats)
        self.embedder = embedder or Embedder.from_settings(settings)
        self.store = Store(settings)
        self.state: State | None = self.store.read_state()
        self.gen = self.state.generation if self.state else 0
        self.new_gen = self.gen + 1
        self.summary = RebuildSummary(generation=self.gen)
        self.existing: dict[str, str] = {}  # article id -> content hash, in generation gen
        self.chunks_of: dict[str, Any] = {}  # article id -> its number of chunks
        self.records: dict[str, dict[str, Any]] = {}  # live article records (manifest.brief)
        self.written: dict[str, dict[str, Any]] = {}  # article records of the new generation
        self.seen: set[str] = set()
        self.dedup = Dedup()
        self.replaced: list[str] = []  # changed articles, whose old records are retired
        self.removed: list[str] = []  # articles gone from the corpus
        self.batch = _Batch()
        self.dirty = False  # the state record says a rebuild is writing
        self.writer: Writer
        self.files: FileStats

    def run(self) -> RebuildSummary:
        self.check_settings()
        if self.state is None or not self.state.clean:
            roll_back(self.store, self.gen)
        self.load_existing()
        self.read_and_embed()
        removed = self.removed = [aid for aid in self.existing if aid not in self.seen]
        self.summary.removed = len(removed)
        self.check_not_empty()
        state = self.state
        changed = self.dirty or removed or self.replaced or state is None or not state.clean
        if not changed:
            self.files.save(self.settings, self.gen, self.started_ns)
            self.summary.chunks = state.chunks if state else 0
            self.summary.seconds = time.perf_counter() - self.t0
            return self.summary
        self.retire_old(removed)
        n_chunks = self.commit()
        self.finish(n_chunks)
        return self.summary

    def check_settings(self) -> None:
        """An incremental rebuild keeps the index's embedding model and chunking."""
        s, state = self.settings, self.state
        incremental = bool(state and state.generation and not self.full)
        if incremental and s.embed_backend is None:
            # No backend chosen: keep the index's own, so it stays usable without re-embedding.
            with contextlib.suppress(ConfigError):
                self.embedder = self.embedder.for_index(state.embed_model)
        if not incremental:
            return
        built_with = (state.embed_model, state.chunk_size, state.chunk_overlap)
        if built_with != (self.embedder.name, s.chunk_size, s.chunk_overlap):
            raise ConfigError(
                f"The index was built with {state.embed_model} (chunks {state.chunk_size}/"
                f"{state.chunk_overlap}) but the settings now say {self.embedder.name} "
                f"({s.chunk_size}/{s.chunk_overlap}): "
                f"{backend_hint(state.embed_model, self.embedder.name)}."
            )

    def load_existing(self) -> None:
        """What the committed generation holds, article by article, and the files' stats."""
        self.records = manifest.load(self.settings, self.store, self.state)
        for meta in self.records.values():
            aid, content_hash, n = article_hash(meta)
            self.dedup.remember(meta)
            self.existing[aid] = content_hash
            self.chunks_of[aid] = n
        # Files whose stat is unchanged since the last rebuild are not read (not with --full).
        self.files = FileStats.load(self.settings, self.gen, self.existing, use=not self.full)
        # Counting files is a second walk of the corpus: only worth it when progress is shown.
        files = count_files(self.corpus) if self.progress else 0
        self.emit(events.Started(existing=len(self.existing), files=files))
        log.info("stage=read generation=%d existing=%d", self.gen, len(self.existing))

    def read_and_embed(self) -> None:
        """Every corpus item through `take`; reading runs ahead, writing behind (pipeline)."""
        current_file = None
        self.writer = Writer()
        try:
            for item, chunks in pipeline.prepared(self.corpus, self.settings, self.embedder,
                                                  self.needs_chunks, self.files.probe):
                if file_of(item) != current_file:
                    current_file = file_of(item)
                    self.emit(events.FileRead(current_file))
                self.take(item, chunks)
            notes, orphans = self.dedup.settle(self.seen)
            for article, chunks in orphans:
                self.take(article, chunks, dedup=False)
            for note in notes:
                self.take_note(note)
            self.flush()
            self.writer.drain()
        finally:
            self.writer.close()

    def needs_chunks(self, article: Article) -> bool:
        return self.full or self.existing.get(article.id) != article.content_hash

    def take(self, item: Any, chunks: list[Chunk] | None, dedup: bool = True) -> None:
        """Count one corpus item and queue a changed article for embedding."""
        summary, files = self.summary, self.files
        if isinstance(item, UnchangedFile):
            fresh = [aid for aid in item.article_ids if aid not in self.seen]
            self.seen.update(fresh)
            summary.unchanged += len(fresh)
            for _ in fresh:
                self.emit(events.ArticleRead(changed=False))
            files.keep(item.path)
            return
        if isinstance(item, (Skipped, Warned)):
            self.take_note(item)
            return
        article = item
        if article.id in self.seen:
            # An article's id is its file's path, then "#id" for a record of a JSON file.
            where = article.id.removeprefix(article.source_path)
            summary.skipped.append(Skipped(article.source_path, where,
                                           "duplicate article id in the corpus"))
            files.taint(article.source_path)
            return
        if dedup and self.dedup.hold(article, chunks):
            return  # a second copy: settled once the whole corpus is read (read_and_embed)
        self.seen.add(article.id)
        files.article(article.source_path, article.id)
        if chunks is None:
            summary.unchanged += 1
            self.emit(events.ArticleRead(changed=False))
            return
        before = self.existing.get(article.id)
        if before is None:
            summary.added += 1
        else:
            # --full re-embeds unchanged articles too: they are not "updated".
            if before == article.content_hash:
                summary.reembedded += 1
            else:
                summary.updated += 1
            self.replaced.append(article.id)
        self.batch.articles.append((article, chunks))
        self.batch.n_chunks += len(chunks)
        self.emit(events.ArticleRead(changed=True, chunks=len(chunks)))
        # The first batch is small so that embedding starts while the reader goes on.
        limit = self.settings.flush_chunks if summary.embedded else FIRST_FLUSH
        if self.batch.n_chunks >= limit:
            self.flush()

    def take_note(self, item: Skipped | Warned) -> None:
        """A file skipped, or read with a warning: its stat is not trusted next time. It is
        reported once, by the summary; the log has it at INFO only (for --verbose)."""
        self.files.taint(item.file)
        if isinstance(item, Warned):
            self.summary.warnings.append(item)
            log.info("%s: %s", item.path, item.reason)
            return
        self.summary.skipped.append(item)
        log.info("skipped %s: %s", item.path, item.reason)
        self.emit(events.InputSkipped(item))

    def flush(self) -> None:
        """Embed the queued articles' chunks and hand them to the writer."""
        if not self.batch.articles:
            return
        self.mark_dirty()
        items, n = list(self.batch.articles), self.batch.n_chunks
        self.batch = _Batch()
        # Articles first (a chunk is never written without the text its offsets point into),
        # then each group of chunks as soon as it is embedded: only the last, shortest group's
        # write is left when the embedding ends.
        metas = [article_meta(a, self.new_gen, len(chunks)) for a, chunks in items]
        for (a, _), meta in zip(items, metas, strict=True):
            self.written[article_record_id(a.id, self.new_gen)] = manifest.brief(meta)
        self.writer.submit(pipeline.write_articles, self.store, items, metas, self.new_gen)
        for group, vectors in pipeline.embed_groups(self.embedder, items):
            self.writer.submit(pipeline.write_chunks, self.store, group, vectors, self.new_gen,
                               self.emit)
        self.summary.embedded += n

    def mark_dirty(self) -> None:
        if not self.dirty:
            self.store.write_state(clean=False)
            self.dirty = True

    def check_not_empty(self) -> None:
        if self.seen:
            return
        skipped = self.summary.skipped
        raise CorpusError(
            f"Nothing could be indexed from {self.corpus}: "
            + (f"{len(skipped)} files skipped (see above)." if skipped
               else "the folder has no .txt, .md, .html, .json or .jsonl articles.")
        )

    def retire_old(self, removed: list[str]) -> None:
        self.mark_dirty()
        to_retire = list(self.existing) if self.full else self.replaced + removed
        log.info("stage=retire articles=%d", len(to_retire))
        retire(self.store, to_retire, self.gen, self.new_gen)

    def commit(self) -> int:
        """The commit point: one upsert of the state record. Returns the new chunk count."""
        self.emit(events.Committing(self.new_gen))
        log.info("stage=commit generation=%d", self.new_gen)
        n_chunks = self.count_chunks()
        token = uuid.uuid4().hex
        self.store.write_state(
            commit=token,
            generation=self.new_gen,
            clean=False,
            embed_model=self.embedder.name,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            articles=len(self.seen),
            chunks=n_chunks,
            seconds=round(time.perf_counter() - self.t0, 3),
        )
        self.emit(events.Committed(self.new_gen))
        log.info("stage=committed generation=%d", self.new_gen)
        retired = set(self.existing) if self.full else {*self.replaced, *self.removed}
        kept = {rid: m for rid, m in self.records.items() if m[ARTICLE_ID] not in retired}
        manifest.save(self.settings, self.new_gen, token, {**kept, **self.written})
        return n_chunks

    def count_chunks(self) -> int:
        """Chunks of the new generation: those just written and the unchanged articles', from
        their article records (a full scan of 100k chunk records takes seconds)."""
        updated = set(self.replaced)
        kept = [] if self.full else [self.chunks_of.get(a) for a in self.seen
                                     if a in self.existing and a not in updated]
        if all(isinstance(n, int) for n in kept):
            return self.summary.embedded + sum(kept)
        # An article record without its chunk count (written by an older version).
        return self.store.count_live("chunks", self.new_gen)

    def finish(self, n_chunks: int) -> None:
        """After the commit: file stats, BM25, garbage collection, the clean mark."""
        self.files.save(self.settings, self.new_gen, self.started_ns)
        _build_sparse(self.settings, self.store, self.new_gen)
        self.emit(events.CollectingGarbage(self.new_gen))
        log.info("stage=gc generation=%d", self.new_gen)
        collect_garbage(self.store, self.new_gen)
        self.store.write_state(clean=True)
        self.summary.generation = self.new_gen
        self.summary.chunks = n_chunks
        self.summary.seconds = time.perf_counter() - self.t0
        log.info("stage=done generation=%d", self.new_gen)
        self.emit(events.Done(self.summary))


def _ignore(event: RebuildEvent) -> None:
    pass


def _build_sparse(settings: Settings, store: Store, gen: int) -> None:
    from qa.index.sparse import SparseIndex

    try:
        SparseIndex.build(settings, store, gen)
    except OSError as exc:
        # The sparse index is derived data: queries rebuild it when it is missing.
        log.warning("could not save the BM25 index (%s); it will be rebuilt on first query", exc)
