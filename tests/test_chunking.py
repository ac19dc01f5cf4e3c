"""Chunks fit the embedding model and are exact slices of their article."""

from __future__ import annotations

import pytest

from qa.chunking import Chunker
from qa.corpus import make_article

from .helpers import SEED, dev_articles


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.tokenizer, embedder.max_tokens, chunk_size=200, chunk_overlap=30)


def _check(chunker, embedder, article):
    chunks = chunker.split(article)
    assert chunks, "every article with text gets at least one chunk"
    for c in chunks:
        assert article.text[c.start:c.end] == c.text
        n = len(embedder.tokenizer.encode(c.text, add_special_tokens=True))
        assert n <= embedder.max_tokens, f"chunk {c.number} has {n} word-pieces"
    # Every non-blank character of the article is in some chunk: nothing is lost.
    covered = [False] * len(article.text)
    for c in chunks:
        covered[c.start:c.end] = [True] * (c.end - c.start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(article.text))
    return chunks


def test_bound_and_offsets_on_long_real_articles(chunker, embedder) -> None:
    rows = dev_articles()
    long_text = "\n\n".join(r["text"] for r in rows[:40])  # ~ tens of thousands of word-pieces
    assert embedder.count_tokens(long_text) > 5000
    chunks = _check(chunker, embedder, make_article("long", long_text, {"title": "x"}, "long"))
    assert len(chunks) > 20
    for r in rows:
        _check(chunker, embedder, make_article(r["id"], r["text"], r, "a.jsonl"))


def test_pathological_text_still_fits(chunker, embedder) -> None:
    # No sentence or word breaks at all: the hard word-piece split must kick in.
    text = "Title\n\n" + "supercalifragilistic" * 400 + " " + "x, " * 900
    _check(chunker, embedder, make_article("p", text, {"title": "t"}, "p"))


def test_seed_chunks(chunker, embedder) -> None:
    text = SEED.read_text()
    chunks = _check(chunker, embedder, make_article("s", text, {"title": "t"}, "s"))
    assert any("invite opposition representatives" in c.text for c in chunks)


def test_span_counts_from_one_tokenization_match_tokenizing_the_span(embedder) -> None:
    # Any span of the text: either the article's one tokenization answers with exactly the
    # word-pieces the span has on its own, or it declines (the span cuts a word).
    import random

    from qa.chunking import _ArticleTokens

    tok = embedder.tokenizer
    assert tok.word_aligned
    text = ("Café au lait, naïve résumé — Zürich's \u200bzero\u200dwidth; 東京 and ＡＢＣ "
            "co-op's U.S.A. 3.14% e\u0301t\u00e9 \t\n\n" + dev_articles(1)[0]["text"][:3000])
    whole = _ArticleTokens(text, *tok.words(text))
    rng = random.Random(5)
    answered = declined = 0
    for _ in range(3000):
        a = rng.randrange(len(text))
        b = rng.randrange(a, min(len(text), a + 400) + 1)
        piece = text[a:b]
        offsets = whole.offsets(a, b)
        if offsets is None:
            assert whole.ids(a, b) is None
            declined += 1
            continue
        answered += 1
        own = tok(piece, add_special_tokens=False, return_offsets_mapping=True)
        assert [(a + s, a + e) for s, e in own["offset_mapping"]] == offsets, (a, b, piece)
        assert whole.ids(a, b).tolist() == own["input_ids"], (a, b, piece)
        whole.cursor = 0
        assert whole.count(piece) in (None, len(own["input_ids"]))
    assert answered > 300 and declined > 300


def test_chunks_carry_the_word_pieces_the_encoder_would_make(chunker, embedder) -> None:
    """A chunk's `tokens` are exactly its own tokenization (what the encoder would compute).
    (A span that cuts a word has none: see the test above.)"""
    rows = dev_articles(30)
    chunks = [c for r in rows
              for c in chunker.split(make_article(r["id"], r["text"], r, "a.jsonl"))]
    known = [c for c in chunks if c.tokens is not None]
    assert len(known) >= len(chunks) * 0.9
    for c in known:
        assert c.tokens.tolist() == embedder.tokenizer.encode(c.text, add_special_tokens=False)
