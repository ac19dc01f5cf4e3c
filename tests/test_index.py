"""Rebuild against real Chroma and the real embedding model: incremental, exact, atomic, locked."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from qa import Engine, rebuild
from qa.errors import ConfigError, CorpusError, IndexBusyError, IndexMissingError
from qa.index import RebuildEvent, stats, writer_lock
from qa.index.events import (
    ArticleRead,
    ChunksWritten,
    CollectingGarbage,
    Committed,
    Committing,
    Done,
    FileRead,
    InputSkipped,
    Started,
)
from qa.index.reader import chunk_texts
from qa.index.schema import live as live_where
from qa.index.store import Store
from qa.records import Skipped
from qa.retrieve import Filters, Retriever

from .helpers import (
    SEED,
    SEED_QUESTION,
    assert_index_matches_corpus,
    dev_articles,
    index_contents,
)


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_seed_is_retrievable(settings, embedder) -> None:
    s = rebuild(settings, embedder=embedder)
    assert (s.added, s.chunks) == (1, s.embedded) and s.chunks >= 2
    top = Retriever(settings, Store(settings), embedder).retrieve(SEED_QUESTION, top_k=3)
    assert "invite opposition representatives" in top[0].text
    assert top[0].article_id == "russia-pushes-for-peace-talks.txt"


def test_add_change_delete_and_no_change(settings, embedder, corpus_dir) -> None:
    rows = dev_articles(12)
    _jsonl(corpus_dir / "dev.jsonl", rows[:10])
    (corpus_dir / "note.md").write_text("# A note\n\nThe harbour reopened on Monday.\n")
    s1 = rebuild(settings, embedder=embedder)
    assert (s1.added, s1.updated, s1.removed, s1.unchanged) == (12, 0, 0, 0)
    assert_index_matches_corpus(settings, embedder)

    s2 = rebuild(settings, embedder=embedder)
    assert (s2.added, s2.updated, s2.removed, s2.unchanged, s2.embedded) == (0, 0, 0, 12, 0)
    assert s2.generation == s1.generation  # nothing written at all

    rows[0] = {**rows[0], "text": rows[0]["text"] + "\n\nA correction was appended."}
    _jsonl(corpus_dir / "dev.jsonl", rows[:2] + rows[3:12])  # edit 1, delete 1, add 2
    (corpus_dir / "note.md").unlink()
    s3 = rebuild(settings, embedder=embedder)
    assert (s3.added, s3.updated, s3.removed, s3.unchanged) == (2, 1, 2, 9)
    assert s3.embedded == sum(
        len(v) for k, v in index_contents(settings).items()
        if k.endswith((rows[0]["id"], rows[10]["id"], rows[11]["id"]))
    )
    assert_index_matches_corpus(settings, embedder)
    info = stats(settings)
    assert info["articles"] == 12 and info["chunks"] == s3.chunks


def test_progress_events_arrive_typed_and_in_order(settings, embedder, corpus_dir) -> None:
    (corpus_dir / "empty.txt").write_text("")
    events: list[RebuildEvent] = []
    s = rebuild(settings, embedder=embedder, progress=events.append)
    empty = InputSkipped(Skipped("empty.txt", "", "empty file"))
    assert events == [
        Started(existing=0, files=2), FileRead("empty.txt"), empty, FileRead(SEED.name),
        ArticleRead(changed=True, chunks=s.embedded), ChunksWritten(s.embedded),
        Committing(1), Committed(1), CollectingGarbage(1), Done(s),
    ]
    events.clear()
    rebuild(settings, embedder=embedder, progress=events.append)  # nothing changed: no commit
    assert events == [Started(existing=1, files=2), FileRead("empty.txt"), empty,
                      FileRead(SEED.name), ArticleRead(changed=False)]


def test_full_rebuild_reembeds_everything(settings, embedder) -> None:
    first = rebuild(settings, embedder=embedder)
    full = rebuild(settings, full=True, embedder=embedder)
    assert full.embedded == first.chunks and full.chunks == first.chunks
    # Nothing changed: the articles are re-embedded, not "updated".
    assert (full.updated, full.reembedded, full.unchanged) == (0, first.added, 0)
    assert f"re-embedded {first.added}" in full.line() and "0 updated" in full.line()
    assert full.generation == first.generation + 1
    assert_index_matches_corpus(settings, embedder)


def test_bad_files_never_stop_a_rebuild(settings, embedder, corpus_dir, caplog) -> None:
    (corpus_dir / "empty.txt").write_text("")
    (corpus_dir / "bin.txt").write_bytes(b"\x00\xff" * 100)
    (corpus_dir / "bad.jsonl").write_text('{"text": "Fine record."}\n{oops\n')
    with caplog.at_level(logging.WARNING):
        s = rebuild(settings, embedder=embedder)
    assert s.added == 2
    reasons = {x.path: x.reason for x in s.skipped}
    assert reasons["empty.txt"] == "empty file" and "binary" in reasons["bin.txt"]
    assert "malformed" in reasons["bad.jsonl, line 2"]
    # Reported once, by the summary the CLI and the page print: not also as a log warning.
    assert not [r for r in caplog.records if "empty.txt" in r.getMessage()]


def test_nothing_indexable_is_an_error(tmp_path, embedder) -> None:
    from qa import Settings

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.txt").write_text("")
    settings = Settings(corpus_dir=empty, index_dir=tmp_path / "ix")
    with pytest.raises(CorpusError, match="Nothing could be indexed"):
        rebuild(settings, embedder=embedder)
    with pytest.raises(CorpusError, match="does not exist"):
        rebuild(Settings(corpus_dir=tmp_path / "nope", index_dir=tmp_path / "ix"))
    with pytest.raises(IndexMissingError, match="qa rebuild"):
        stats(settings)


def test_settings_change_demands_full_rebuild(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    changed = settings.model_copy(update={"chunk_size": 120})
    with pytest.raises(ConfigError, match="--full"):
        rebuild(changed, embedder=embedder)
    s = rebuild(changed, full=True, embedder=embedder)
    assert s.chunks > 0
    assert_index_matches_corpus(changed, embedder)


def test_second_writer_is_refused(settings, embedder) -> None:
    with writer_lock(settings), pytest.raises(IndexBusyError, match="Another rebuild"):
        rebuild(settings, embedder=embedder)


def test_filters(settings, embedder, corpus_dir) -> None:
    rows = [r for r in dev_articles() if r.get("date")][:6]
    assert len(rows) == 6
    _jsonl(corpus_dir / "dev.jsonl", rows)
    rebuild(settings, embedder=embedder)
    r = Retriever(settings, Store(settings), embedder)
    only = rows[2]
    got = r.retrieve(rows[2]["title"], 5, Filters.make(article_ids=[f"dev.jsonl#{only['id']}"]))
    assert got and {p.article_id for p in got} == {f"dev.jsonl#{only['id']}"}
    since = sorted(x["date"] for x in rows)[3]
    got = r.retrieve("oil prices", 10, Filters.make(since=since))
    assert got and all(p.date >= since for p in got)
    got = r.retrieve("oil prices", 10, Filters.make(sources=["nope"]))
    assert got == []


def test_index_copied_elsewhere_still_answers(settings, embedder, tmp_path) -> None:
    rebuild(settings, embedder=embedder)
    shutil.rmtree(settings.index_dir / "sparse")  # derived data: rebuilt from Chroma on demand
    top = Retriever(settings, Store(settings), embedder).retrieve(SEED_QUESTION, top_k=1)
    assert "invite opposition representatives" in top[0].text


def test_embed_model_setting(tmp_path, settings) -> None:
    from qa.errors import ModelError
    from qa.models.embed import Embedder, resolve_model_path

    with pytest.raises(ModelError, match="QA_EMBED_MODEL"):
        Embedder(str(tmp_path))
    bundled = resolve_model_path(None)
    e = Embedder(str(bundled))  # any local sentence-transformers folder
    assert e.name.startswith(str(bundled)) and e.encode(["hello"]).shape == (1, 384)


def test_narrow_filter_on_a_larger_index_falls_back_to_chroma_filtering(
        settings, embedder, corpus_dir) -> None:
    """Dense search post-filters the nearest neighbours; when too few pass (here one article
    among 40), it asks Chroma for filtered results instead, and the answer is the same."""
    import json as _json

    from qa.index.store import Store
    from qa.retrieve import Filters, Retriever

    (corpus_dir / "dev.jsonl").write_text(
        "".join(_json.dumps(r) + "\n" for r in dev_articles(40)))
    rebuild(settings, embedder=embedder)
    store = Store(settings)
    col = store.collection("chunks")
    calls = []
    real_query = col.query

    def counting_query(**kw):
        calls.append("where" in kw)
        return real_query(**kw)

    col.query = counting_query
    retriever = Retriever(settings, store, embedder)
    only_seed = Filters.make(article_ids=["russia-pushes-for-peace-talks.txt"])
    got = retriever.retrieve("stake in a wallcoverings company", top_k=3, filters=only_seed)
    assert got and {p.article_id for p in got} == {"russia-pushes-for-peace-talks.txt"}
    assert calls == [False, True]  # unfiltered first, then Chroma's filter
    calls.clear()
    unfiltered = retriever.retrieve("stake in a wallcoverings company", top_k=3)
    assert calls == [False] and unfiltered[0].article_id != "russia-pushes-for-peace-talks.txt"


def _reader_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "qa-reader"]


def test_reader_thread_error_reaches_the_rebuild_and_stops(settings, embedder, corpus_dir,
                                                           monkeypatch) -> None:
    """Reading and chunking run ahead in a thread: its failure is the rebuild's failure, the
    committed index is untouched, and no thread is left behind."""
    rebuild(settings, embedder=embedder)
    before = index_contents(settings)
    _jsonl(corpus_dir / "dev.jsonl", dev_articles(30))
    from qa.index import pipeline as index_mod

    real = index_mod.read_corpus

    def failing(root, max_bytes, probe=None):
        for n, item in enumerate(real(root, max_bytes, probe)):
            if n == 20:
                raise CorpusError("disk went away while reading")
            yield item

    monkeypatch.setattr(index_mod, "read_corpus", failing)
    with pytest.raises(CorpusError, match="disk went away"):
        rebuild(settings, embedder=embedder)
    assert _reader_threads() == []
    monkeypatch.setattr(index_mod, "read_corpus", real)
    assert index_contents(settings) == before
    s = rebuild(settings, embedder=embedder)
    assert s.added == 30
    assert_index_matches_corpus(settings, embedder)


def test_embedding_failure_stops_the_reader(settings, embedder, corpus_dir, monkeypatch) -> None:
    _jsonl(corpus_dir / "dev.jsonl", dev_articles(60))
    from qa.index import pipeline as index_mod

    monkeypatch.setattr(index_mod, "READ_AHEAD", 2)  # the reader blocks on a full queue
    calls = []

    def boom(groups, tokens=None):
        calls.append(len(groups))
        raise RuntimeError("embedding crashed")
        yield

    monkeypatch.setattr(embedder, "encode_groups", boom)
    with pytest.raises(RuntimeError, match="embedding crashed"):
        rebuild(settings, embedder=embedder)
    assert calls and _reader_threads() == []
    monkeypatch.undo()
    s = rebuild(settings, embedder=embedder)
    assert s.added == 61
    assert_index_matches_corpus(settings, embedder)


def test_bm25_reuses_unchanged_chunks_and_equals_a_fresh_build(settings, embedder, corpus_dir,
                                                              monkeypatch) -> None:
    """After an edit, only the new chunks are tokenized again; the result is the index a build
    from scratch makes (same chunks, fields, document frequencies and scores), and a damaged
    token cache only costs the reuse."""
    import shutil

    from qa.index import sparse

    rows = dev_articles(20)
    _jsonl(corpus_dir / "dev.jsonl", rows[:15])
    rebuild(settings, embedder=embedder)
    rows[3] = {**rows[3], "text": rows[3]["text"] + "\n\nA correction about the harbour."}
    _jsonl(corpus_dir / "dev.jsonl", rows[:3] + rows[3:4] + rows[5:18])  # edit, delete, add

    tokenized: list[int] = []
    real = sparse._tokenize
    monkeypatch.setattr(sparse, "_tokenize", lambda texts: tokenized.append(len(texts))
                        or real(texts))
    rebuild(settings, embedder=embedder)
    store = Store(settings)
    gen = store.require_state().generation
    new_chunks = sum(1 for rid, _, _ in store.iter_records("chunks", live_where(gen), [])
                     if rid.split("@")[1].startswith(f"{gen}#"))
    assert tokenized == [new_chunks] and 0 < new_chunks < store.require_state().chunks
    assert_index_matches_corpus(settings, embedder)

    incremental = sparse.SparseIndex.load(settings, store, gen)
    cache = settings.index_dir / "sparse"
    shutil.rmtree(cache)
    fresh = sparse.SparseIndex.build(settings, store, gen)
    order = sorted(range(len(fresh.ids)), key=fresh.ids.__getitem__)
    inc_order = sorted(range(len(incremental.ids)), key=incremental.ids.__getitem__)
    assert [fresh.ids[i] for i in order] == [incremental.ids[i] for i in inc_order]
    for f in fresh.meta:
        assert [fresh.meta[f][i] for i in order] == [incremental.meta[f][i] for i in inc_order]
    assert fresh.df == incremental.df
    for q in ("harbour correction", rows[0]["title"], rows[17]["title"]):
        assert fresh.search(q, 10) == incremental.search(q, 10) or \
            sorted(fresh.search(q, 10)) == sorted(incremental.search(q, 10))

    # A damaged token cache: the next build tokenizes everything and is still right.
    (next(cache.glob("*-g*")) / "tokens.npy").write_bytes(b"not numpy")
    tokenized.clear()
    (corpus_dir / "note.md").write_text("# A note\n\nThe harbour reopened on Monday.\n")
    s = rebuild(settings, embedder=embedder)
    assert tokenized == [s.chunks]
    assert_index_matches_corpus(settings, embedder)


def test_chunks_of_nothing_but_stopwords_are_indexed(settings, embedder, corpus_dir) -> None:
    """BM25 has no token to index for them (it used to fail the rebuild); dense search still
    finds them, and the next article is indexed as usual."""
    (corpus_dir / "russia-pushes-for-peace-talks.txt").unlink()
    (corpus_dir / "empty-words.txt").write_text("The and of it.\n")
    assert rebuild(settings, embedder=embedder).added == 1
    found = Retriever(settings, Store(settings), embedder).retrieve("the", top_k=2)
    assert [p.text for p in found] == ["The and of it."]
    (corpus_dir / "harbour.txt").write_text("Harbour news\n\nThe harbour reopened.\n")
    assert rebuild(settings, embedder=embedder).added == 1
    top = Retriever(settings, Store(settings), embedder).retrieve("harbour", top_k=2)
    assert top[0].article_id == "harbour.txt"
    assert_index_matches_corpus(settings, embedder)


def test_the_reader_thread_reuses_a_spare_tokenizer(settings, corpus_dir) -> None:
    """Each rebuild's reader thread borrows a tokenizer of its own and hands it back, so the
    next rebuild does not load another one (~25 ms)."""
    from qa.models.embed import Embedder

    embedder = Embedder()
    loads: list[object] = []
    real = embedder.new_tokenizer
    embedder.new_tokenizer = lambda: loads.append(1) or real()  # type: ignore[method-assign]
    rebuild(settings, embedder=embedder)
    assert len(loads) == 2 and len(embedder._spare) == 1  # the reader's and encode()'s
    spare = embedder._spare[0]
    assert spare is not embedder.tokenizer
    (corpus_dir / "note.md").write_text("# A note\n\nThe harbour reopened on Monday.\n")
    assert rebuild(settings, embedder=embedder).added == 1
    assert len(loads) == 2 and embedder._spare == [spare]


def test_chunks_embedded_in_sorted_groups_keep_their_own_vectors(
        settings, embedder, corpus_dir, monkeypatch) -> None:
    """Chunks are embedded longest first, group by group, and each group is written while the
    next is embedded: every record must still carry its own text's vector (its text: its span of
    its article record's), and a llama-index retriever must read the passages as nodes."""
    import numpy as np

    import qa.index.builder
    import qa.index.pipeline

    monkeypatch.setattr(qa.index.builder, "FIRST_FLUSH", 8)
    monkeypatch.setattr(qa.index.pipeline, "WRITE_GROUP", 4)  # several groups per flush
    _jsonl(corpus_dir / "dev.jsonl", dev_articles(12))
    events: list[RebuildEvent] = []
    s = rebuild(settings, embedder=embedder, progress=events.append)
    writes = [e.chunks for e in events if isinstance(e, ChunksWritten)]
    assert len(writes) >= 3 and sum(writes) == s.embedded == s.chunks
    assert_index_matches_corpus(settings, embedder)

    store = Store(settings)
    got = store.collection("chunks").get(include=["metadatas", "documents", "embeddings"])
    assert not any(got["documents"])  # the text is kept once, in the article records
    texts = chunk_texts(store, list(zip(got["metadatas"], got["documents"], strict=True)))
    stored = np.asarray(got["embeddings"], dtype=np.float32)
    fresh = embedder.encode(texts)
    sims = stored @ fresh.T
    assert (sims.argmax(axis=1) == np.arange(len(stored))).all()
    # Not identical: onnx-int8 quantizes activations per batch, so a vector depends a little on
    # the texts batched with it (other chunks of these articles are at most ~0.6).
    assert sims.diagonal().min() > 0.98

    engine = Engine(settings, embedder=embedder)
    nodes = engine.as_retriever(top_k=3).retrieve(SEED_QUESTION)
    assert len(nodes) == 3 and all(n.get_content() for n in nodes)
    assert any("invite opposition representatives" in n.get_content() for n in nodes)
    for n in nodes:  # each node's text is its span of the article
        article = engine.article(n.metadata["article_id"])
        assert article.text[n.metadata["start"]:n.metadata["end"]] == n.get_content()


def test_a_chunk_is_read_as_its_span_of_the_article_or_its_own_older_text(
        settings, embedder, corpus_dir) -> None:
    """Chunk records hold no text; retrieval gives each passage its span of the article record.
    An index written when chunk records held their text is read from that text, and a chunk
    whose article record is gone (deleted by a rebuild meanwhile) is left out, not given empty."""
    _jsonl(corpus_dir / "dev.jsonl", dev_articles(6))
    rebuild(settings, embedder=embedder)
    store = Store(settings)
    retriever = Retriever(settings, store, embedder)
    query = "investment firms selling shares of a company"
    before = retriever.retrieve(query, top_k=4)
    assert len(before) == 4
    for p in before:
        article = Engine(settings, embedder=embedder).article(p.article_id)
        assert p.text and p.text == article.text[p.start:p.end]

    chunks = store.collection("chunks")
    got = chunks.get(include=["metadatas", "embeddings"])
    metas = {rid: m for rid, m in zip(got["ids"], got["metadatas"], strict=True)}
    vectors = {rid: e for rid, e in zip(got["ids"], got["embeddings"], strict=True)}
    # An older index: each chunk record holds its text, which is what is read. (The vectors
    # are given so that Chroma does not embed the documents itself.)
    older = [f"{p.text} (as stored)" for p in before]
    chunks.update(ids=[p.chunk_id for p in before], documents=older,
                  embeddings=[vectors[p.chunk_id] for p in before])
    assert [p.text for p in Retriever(settings, store, embedder).retrieve(query, top_k=4)] == older

    gone = before[0]
    assert metas[gone.chunk_id]["article_id"] == gone.article_id
    chunks.update(ids=[gone.chunk_id], documents=[""], embeddings=[vectors[gone.chunk_id]])
    rows = [(metas[gone.chunk_id], "")]
    assert chunk_texts(store, rows) == [gone.text]
    store.collection("articles").delete(where={"article_id": gone.article_id})
    assert chunk_texts(store, rows) == [None]
    after = Retriever(settings, store, embedder).retrieve(query, top_k=4)
    assert after and all(p.text for p in after)
    assert gone.chunk_id not in {p.chunk_id for p in after}
