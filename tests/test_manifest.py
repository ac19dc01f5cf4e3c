"""Rebuilds start from the article manifest of the committed generation, and only from its own."""

from __future__ import annotations

import json

import pytest

from qa import rebuild
from qa.index import manifest
from qa.index.store import Store

from .helpers import assert_index_matches_corpus, assert_manifest_matches_chroma, dev_articles


@pytest.fixture
def article_reads(monkeypatch) -> list[int]:
    """How many times a rebuild reads the article records from Chroma."""
    reads: list[int] = []
    real = Store.iter_records

    def counting(self, kind, where, include, page=2000):
        if kind == "articles" and "metadatas" in include:
            reads.append(1)
        return real(self, kind, where, include, page)

    monkeypatch.setattr(Store, "iter_records", counting)
    return reads


def _corpus(corpus_dir) -> None:
    for i, row in enumerate(dev_articles(6)):
        (corpus_dir / f"a{i}.md").write_text(f"# {row['title']}\n\n{row['text']}\n")


def _manifest_file(settings):
    return next((settings.index_dir / "manifest").glob("*.json"))


def test_rebuilds_start_from_the_manifest(settings, embedder, corpus_dir, article_reads) -> None:
    _corpus(corpus_dir)
    first = rebuild(settings, embedder=embedder)
    assert first.added == 7 and article_reads == []  # a new index has nothing to read
    assert_index_matches_corpus(settings, embedder)  # the manifest equals Chroma's records

    # An edit, a removal, an addition and a copy of a kept article under another name.
    (corpus_dir / "a1.md").write_text("# A changed story\n\nThe bridge reopened on Friday.\n")
    (corpus_dir / "a2.md").unlink()
    (corpus_dir / "new.md").write_text("# A new story\n\nThe ferry sailed at dawn.\n")
    (corpus_dir / "copy.md").write_text((corpus_dir / "a3.md").read_text())
    article_reads.clear()
    s = rebuild(settings, embedder=embedder)
    assert article_reads == []
    assert (s.added, s.updated, s.removed, s.unchanged) == (1, 1, 1, 5)
    assert any("copy.md" in k.path for k in s.skipped)
    assert_manifest_matches_chroma(settings)  # the corpus holds a copy the index leaves out

    # The copy is indexed after all once the article it repeats is gone; then a full rebuild.
    (corpus_dir / "a3.md").unlink()
    article_reads.clear()
    s = rebuild(settings, embedder=embedder)
    assert article_reads == [] and (s.added, s.removed) == (1, 1)
    assert_index_matches_corpus(settings, embedder)
    article_reads.clear()
    s = rebuild(settings, full=True, embedder=embedder)
    assert article_reads == [] and s.reembedded == 7
    assert_index_matches_corpus(settings, embedder)


@pytest.mark.parametrize("damage", ["another commit", "a record missing", "not json",
                                    "not an object"])
def test_a_manifest_that_is_not_the_committed_ones_is_not_trusted(
        settings, embedder, corpus_dir, article_reads, damage) -> None:
    _corpus(corpus_dir)
    rebuild(settings, embedder=embedder)
    path = _manifest_file(settings)
    data = json.loads(path.read_text())
    if damage == "another commit":  # a rebuild killed before its commit, or another index
        data["commit"] = "0" * 32
        # ... whose records say a0.md is unchanged although the committed one is older.
        text = (corpus_dir / "a0.md").read_text() + "\nA later paragraph.\n"
        (corpus_dir / "a0.md").write_text(text)
        from qa.corpus import read_corpus

        edited = next(a for a in read_corpus(corpus_dir, settings.max_file_bytes)
                      if getattr(a, "id", "") == "a0.md")
        for m in data["records"].values():
            if m["article_id"] == "a0.md":
                m["content_hash"] = edited.content_hash
        path.write_text(json.dumps(data))
    elif damage == "a record missing":
        data["records"].pop(next(iter(data["records"])))
        path.write_text(json.dumps(data))
    elif damage == "not an object":
        path.write_text(json.dumps(list(data["records"].values())))
    else:
        path.write_text("{not json")
    assert manifest.cached(settings, Store(settings).require_state()) is None
    s = rebuild(settings, embedder=embedder)
    assert article_reads == [1]  # read from Chroma instead
    assert s.updated == (1 if damage == "another commit" else 0)
    assert_index_matches_corpus(settings, embedder)


def test_an_index_without_a_manifest_is_read_as_before(settings, embedder, corpus_dir,
                                                       article_reads) -> None:
    _corpus(corpus_dir)
    rebuild(settings, embedder=embedder)
    _manifest_file(settings).unlink()  # an index built before manifests, or a lost file
    (corpus_dir / "a4.md").unlink()
    s = rebuild(settings, embedder=embedder)
    assert article_reads == [1] and s.removed == 1
    assert_index_matches_corpus(settings, embedder)
    article_reads.clear()
    assert rebuild(settings, embedder=embedder).unchanged == 6 and article_reads == []
