"""Rebuilds skip reading files whose stat is unchanged, and never miss a change for it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from qa import rebuild
from qa.index import filestats
from qa.index.filestats import FileStats, UnchangedFile

from .helpers import assert_index_matches_corpus, dev_articles


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The corpus files each rebuild actually reads, in order."""
    import qa.corpus

    seen: list[str] = []
    real = qa.corpus.read_file

    def counting(path, rel, *args):
        seen.append(rel)
        return real(path, rel, *args)

    monkeypatch.setattr(qa.corpus, "read_file", counting)
    # Files count as settled 50 ms after their last change, instead of 2 s: the tests wait that.
    monkeypatch.setattr(filestats, "RACY_NS", 50_000_000)
    return seen


def _settle() -> None:
    time.sleep(0.1)


def _corpus(corpus_dir: Path) -> None:
    (corpus_dir / "dev.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in dev_articles(10)))
    (corpus_dir / "note.md").write_text("# A note\n\nThe harbour reopened on Monday.\n")


def test_unchanged_files_are_not_read(settings, embedder, corpus_dir, reads) -> None:
    _corpus(corpus_dir)
    _settle()
    first = rebuild(settings, embedder=embedder)
    assert first.added == 12 and len(reads) == 3
    reads.clear()
    again = rebuild(settings, embedder=embedder)
    assert reads == []
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 12)
    assert again.generation == first.generation
    assert_index_matches_corpus(settings, embedder)

    # Deleting a file is seen without reading anything.
    (corpus_dir / "note.md").unlink()
    reads.clear()
    gone = rebuild(settings, embedder=embedder)
    assert reads == [] and (gone.removed, gone.unchanged) == (1, 11)
    assert_index_matches_corpus(settings, embedder)


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(settings, embedder, corpus_dir,
                                                        reads) -> None:
    _corpus(corpus_dir)
    _settle()
    rebuild(settings, embedder=embedder)
    note = corpus_dir / "note.md"
    before = note.stat()
    note.write_text(note.read_text().replace("Monday", "Sunday"))  # same length
    os.utime(note, ns=(before.st_atime_ns, before.st_mtime_ns))  # what `cp -p` would leave
    assert note.stat().st_size == before.st_size
    assert note.stat().st_mtime_ns == before.st_mtime_ns
    reads.clear()
    s = rebuild(settings, embedder=embedder)
    assert reads == ["note.md"]  # its ctime moved
    assert (s.updated, s.unchanged) == (1, 11)
    assert_index_matches_corpus(settings, embedder)


def test_a_file_changed_just_before_the_rebuild_is_read_again(tmp_path) -> None:
    """The racy case: a second write in the clock tick of the recorded one keeps every stat
    field, so a stat taken that close to the rebuild is not trusted next time."""
    from qa import Settings

    settings = Settings(corpus_dir=tmp_path, index_dir=tmp_path / "ix")
    f = tmp_path / "a.txt"
    f.write_text("Title\n\nBody.\n")
    ctime = f.stat().st_ctime_ns
    for started, trusted in ((ctime + 1, False), (ctime + filestats.RACY_NS + 1, True)):
        rec = FileStats.load(settings, 1, existing=set())
        assert rec.probe(f, "a.txt") is None  # nothing recorded yet
        rec.article("a.txt", "a.txt")
        rec.save(settings, 1, started)
        hit = FileStats.load(settings, 1, existing={"a.txt"}).probe(f, "a.txt")
        assert hit == (UnchangedFile("a.txt", ("a.txt",)) if trusted else None)
        # An article the index no longer holds is never taken on trust.
        assert FileStats.load(settings, 1, existing=set()).probe(f, "a.txt") is None
        (tmp_path / "ix" / "filestats" / "qa-g1.json").unlink()


def test_files_with_problems_are_read_and_reported_every_time(settings, embedder, corpus_dir,
                                                              reads) -> None:
    _corpus(corpus_dir)
    (corpus_dir / "bad.jsonl").write_text('{"id": "x", "text": "Fine."}\n{not json\n')
    _settle()
    for expected_reads in (4, 1):
        reads.clear()
        s = rebuild(settings, embedder=embedder)
        assert "bad.jsonl" in reads and len(reads) == expected_reads
        assert [k.path for k in s.skipped] == ["bad.jsonl, line 2"]
        assert s.added + s.unchanged == 13  # its good line is indexed either way


def test_full_rebuild_and_stale_records_read_every_file(settings, embedder, corpus_dir,
                                                        reads) -> None:
    _corpus(corpus_dir)
    _settle()
    rebuild(settings, embedder=embedder)
    reads.clear()
    rebuild(settings, full=True, embedder=embedder)
    assert sorted(reads) == ["dev.jsonl", "note.md", "russia-pushes-for-peace-talks.txt"]

    reads.clear()
    rebuild(settings, embedder=embedder)
    assert reads == []
    records = next((settings.index_dir / "filestats").glob("*.json"))
    # Another size limit changes what may be read: the records do not apply.
    reads.clear()
    rebuild(settings.model_copy(update={"max_file_bytes": 5_000_000}), embedder=embedder)
    assert len(reads) == 3
    # Damaged records are ignored, not trusted.
    next((settings.index_dir / "filestats").glob("*.json")).write_text("{not json")
    reads.clear()
    s = rebuild(settings, embedder=embedder)
    assert len(reads) == 3 and s.unchanged == 12
    assert records.parent.is_dir() and len(list(records.parent.glob("*.json"))) == 1
    # JSON that is not an object is damage too.
    next((settings.index_dir / "filestats").glob("*.json")).write_text("[1, 2]")
    reads.clear()
    s = rebuild(settings, embedder=embedder)
    assert len(reads) == 3 and s.unchanged == 12
    assert_index_matches_corpus(settings, embedder)
