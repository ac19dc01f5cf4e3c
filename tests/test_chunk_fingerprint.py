"""Chunking is pinned: the news set's chunks (numbers and character spans) are exactly those
recorded in tests/data/news_chunks.tsv, so faster chunking cannot change an index.

Here on ~1/8 of the set, to keep `make test` short; all 609 articles (~30 s):
`python -m tests.chunk_fingerprint --check`."""

from __future__ import annotations

import pytest

from qa.chunking import Chunker

from .chunk_fingerprint import CHUNK_OVERLAP, CHUNK_SIZE, NEWS, load, news_articles, source_digest
from .chunk_fingerprint import spans as chunk_spans

pytestmark = pytest.mark.skipif(not NEWS.is_file(), reason=f"no news evaluation set at {NEWS}")


@pytest.fixture(scope="module")
def recorded():
    digest, by_id = load()
    assert digest == source_digest(), (
        f"{NEWS} changed since the fingerprint was made: rerun `python -m tests.chunk_fingerprint` "
        "with the chunking of main, then compare")
    return by_id


def _compare(articles, recorded, embedder) -> None:
    chunker = Chunker(embedder.tokenizer, embedder.max_tokens, CHUNK_SIZE, CHUNK_OVERLAP)
    got = {a.id: chunk_spans(chunker, a) for a in articles}
    want = {a.id: recorded[a.id] for a in articles}
    differ = [aid for aid in got if got[aid] != want[aid]]
    assert not differ, f"{len(differ)} articles chunk differently, first {differ[0]}"


def test_news_subset_chunks_as_recorded(recorded, embedder) -> None:
    # Every 10th article and the ten longest (up to 71k characters): ~1/8 of the set.
    articles = news_articles()
    longest = sorted(articles, key=lambda a: -len(a.text))[:10]
    subset = {a.id: a for a in [*articles[::10], *longest]}
    assert len(recorded) == len(articles) == 609
    _compare(list(subset.values()), recorded, embedder)

