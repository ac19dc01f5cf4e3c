"""A hypothesis state machine over the corpus: add / edit / delete / rename articles, rebuild,
and crash a rebuild at a random moment. After every step a reader sees exactly the chunks of a
corpus that was committed, and after every completed rebuild exactly those of the current one
(no duplicates, no orphans; BM25 agrees with Chroma)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qa import Settings, rebuild
from qa.index.events import (
    ArticleRead,
    ChunksWritten,
    CollectingGarbage,
    Committed,
    Committing,
    FileRead,
    RebuildEvent,
)

from .helpers import (
    SEED,
    assert_bm25_matches_chroma,
    dev_articles,
    expected_contents,
    index_contents,
    total_records,
)

TEXTS = [a["text"][:700] for a in dev_articles(24)]
NAMES = st.sampled_from([f"a{i}" for i in range(8)])
EMBEDDER = {}


class Crash(BaseException):
    """Stands in for SIGKILL: nothing in qa catches it, nothing is cleaned up on the way out."""


class CorpusMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="qa-sm-"))
        corpus = self.root / "corpus"
        corpus.mkdir()
        shutil.copy(SEED, corpus / SEED.name)
        self.settings = Settings(corpus_dir=corpus, index_dir=self.root / "index",
                                 flush_chunks=4)
        self.embedder = EMBEDDER["e"]
        rebuild(self.settings, embedder=self.embedder)
        self.committed = [index_contents(self.settings)]  # what readers may legitimately see

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.settings.corpus_dir.iterdir() if p.name != SEED.name)

    @rule(name=NAMES, text=st.sampled_from(TEXTS))
    def add(self, name: str, text: str) -> None:
        (self.settings.corpus_dir / f"{name}.txt").write_text(f"Article {name}\n\n{text}\n")

    @precondition(lambda self: self._files())
    @rule(data=st.data(), extra=st.sampled_from(TEXTS))
    def edit(self, data: st.DataObject, extra: str) -> None:
        path = data.draw(st.sampled_from(self._files()))
        path.write_text(path.read_text() + "\n" + extra[:200] + "\n")

    @precondition(lambda self: self._files())
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        data.draw(st.sampled_from(self._files())).unlink()

    @precondition(lambda self: self._files())
    @rule(data=st.data(), new=NAMES)
    def rename(self, data: st.DataObject, new: str) -> None:
        path = data.draw(st.sampled_from(self._files()))
        path.rename(self.settings.corpus_dir / f"{new}-renamed.md")

    @rule()
    def rebuild_all(self) -> None:
        rebuild(self.settings, embedder=self.embedder)
        want = expected_contents(self.settings, self.embedder)
        assert index_contents(self.settings) == want
        n = sum(len(v) for v in want.values())
        assert total_records(self.settings, "chunks") == n  # no orphans, no duplicates
        assert total_records(self.settings, "articles") == len(want)
        assert_bm25_matches_chroma(self.settings)
        self.committed = [want]

    @rule(stage=st.sampled_from([FileRead, ArticleRead, ChunksWritten, Committing, Committed,
                                 CollectingGarbage]),
          nth=st.integers(min_value=1, max_value=3))
    def crash_rebuild(self, stage: type, nth: int) -> None:
        seen = {"n": 0}

        def progress(event: RebuildEvent) -> None:
            if isinstance(event, stage):
                seen["n"] += 1
                if seen["n"] == nth:
                    raise Crash(event)

        crashed = False
        try:
            rebuild(self.settings, embedder=self.embedder, progress=progress)
        except Crash:
            crashed = True
        # The crash landed before the commit (old corpus) or after it (new corpus).
        self.committed.append(expected_contents(self.settings, self.embedder))
        if not crashed:
            self.committed = self.committed[-1:]

    @invariant()
    def readers_see_a_committed_corpus(self) -> None:
        assert index_contents(self.settings) in self.committed


@pytest.mark.slow
def test_index_always_matches_a_committed_corpus(embedder) -> None:
    EMBEDDER["e"] = embedder
    machine = settings(max_examples=10, stateful_step_count=12, deadline=None,
                       suppress_health_check=list(HealthCheck))(CorpusMachine)
    machine.TestCase().runTest()
