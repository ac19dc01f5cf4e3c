"""BM25: the numpy-built score matrix is the one bm25s's own indexing builds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from qa.index.sparse import bm25_index
from qa.text import content_tokens

from .helpers import dev_articles


def _numbered(chunks: list[list[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    words = sorted({w for c in chunks for w in c})
    number = {w: i for i, w in enumerate(words)}
    flat = np.array([number[w] for c in chunks for w in c], dtype=np.int32)
    return flat, np.array([len(c) for c in chunks], dtype=np.int64), words


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_scores_as_bm25s(seed: int) -> None:
    import bm25s

    rng = random.Random(seed)
    texts = [a["text"] for a in dev_articles()]
    chunks = [content_tokens(t[s:s + 600]) for t in texts for s in (0, 600)]
    chunks += [[], content_tokens("The and of it.")]  # chunks with no content word
    rng.shuffle(chunks)
    ours, df = bm25_index(*_numbered(chunks))
    theirs = bm25s.BM25()
    theirs.index(chunks, show_progress=False)
    want_df = {w: sum(w in set(c) for c in chunks) for c in chunks for w in c}
    assert dict(zip(_numbered(chunks)[2], df.tolist(), strict=True)) == want_df
    queries = [rng.sample(sorted(want_df), 3) for _ in range(20)] + [["harbour", "oil", "said"]]
    for q in queries:
        a = ours.get_scores([w for w in q if w in ours.vocab_dict])
        b = theirs.get_scores([w for w in q if w in theirs.vocab_dict])
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6), q


def test_no_tokens_at_all() -> None:
    bm25, df = bm25_index(np.zeros(0, dtype=np.int32), np.array([0, 0]), [])
    assert df.tolist() == [] and bm25.get_scores([""]).tolist() == [0.0, 0.0]
