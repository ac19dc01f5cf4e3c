"""Article -> Chunks: llama-index SentenceSplitter, exact character offsets, a hard token bound."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sized
from typing import Any

from qa.records import Article, Chunk
from qa.text import trim

# Room for the [CLS] and [SEP] tokens the model adds around every input.
SPECIAL_TOKENS = 2


class Chunker:
    """Splits articles into passages that fit the embedding model's window.

    Every chunk is an exact slice of the article text (article.text[start:end] == chunk.text),
    and no chunk has more than `max_tokens - 2` word-pieces in the model's own tokenizer.
    """

    def __init__(self, tokenizer: Any, max_tokens: int, chunk_size: int, chunk_overlap: int):
        from llama_index.core.node_parser import SentenceSplitter

        self.tokenizer = tokenizer
        self.limit = max_tokens - SPECIAL_TOKENS
        size = min(chunk_size, self.limit)
        overlap = min(chunk_overlap, size // 2)
        # Tokenizing each article once (then counting spans from its token offsets) replaces
        # the splitter's repeated tokenizing of the article, its paragraphs and its sentences,
        # and the bound check's of every chunk: on the long news articles that was ~3.5 passes
        # over the text, most of the CPU the rebuild spent outside the encoder.
        self._aligned = bool(getattr(tokenizer, "word_aligned", False))
        self._tokens: _ArticleTokens | None = None
        self._count: Callable[[str], Sized] = self._count_tokens
        self.splitter = SentenceSplitter(
            chunk_size=size,
            chunk_overlap=overlap,
            tokenizer=self._count,
            paragraph_separator="\n\n",
        )

    def split(self, article: Article) -> list[Chunk]:
        if not self._aligned:
            return self._split(article)
        self._tokens = _ArticleTokens(article.text, *self.tokenizer.words(article.text))
        try:
            return self._split(article)
        finally:
            self._tokens = None

    def _count_tokens(self, piece: str) -> Sized:
        """Word-pieces of `piece` (the splitter only takes their number)."""
        if self._tokens is not None:
            n = self._tokens.count(piece)
            if n is not None:
                return range(n)
        return self.tokenizer.encode(piece, add_special_tokens=False)

    def _split(self, article: Article) -> list[Chunk]:
        text = article.text
        spans: list[tuple[int, int]] = []
        cursor = 0
        for piece in self.splitter.split_text(text):
            span = _locate(text, piece, cursor)
            if span is None:
                continue
            start, end = span
            for s, e in self._enforce_limit(text, start, end):
                if not spans or (s, e) != spans[-1]:
                    spans.append((s, e))
            cursor = start + 1
        bounded: list[tuple[int, int]] = []
        for s, e, is_gap in _cover_gaps(text, spans):
            bounded.extend(self._enforce_limit(text, s, e) if is_gap else [(s, e)])
        spans = bounded
        tokens = self._tokens
        return [
            Chunk(article.id, i, text[s:e], s, e, tokens.ids(s, e) if tokens else None)
            for i, (s, e) in enumerate(spans)
        ]

    def _enforce_limit(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Split a span at word-piece boundaries when it is longer than the model accepts."""
        offsets = self._tokens.offsets(start, end) if self._tokens is not None else None
        if offsets is None:
            enc = self.tokenizer(
                text[start:end], add_special_tokens=False, return_offsets_mapping=True
            )
            offsets = [(start + s, start + e) for s, e in enc["offset_mapping"]]
        if len(offsets) <= self.limit:
            return [(start, end)]
        out = []
        for i in range(0, len(offsets), self.limit):
            window = offsets[i : i + self.limit]
            out.append(trim(text, window[0][0], window[-1][1]))
        return out


class _ArticleTokens:
    """An article tokenized once, answering for any span that starts and ends between words
    (a span that cuts a word answers None: the caller tokenizes it on its own)."""

    def __init__(self, text: str, ids: list[int], tokens: list[tuple[int, int]],
                 words: list[tuple[int, int]]) -> None:
        import numpy as np

        self.text = text
        self.token_ids = np.asarray(ids, dtype=np.int32)
        self.tokens = tokens
        self.token_starts = [s for s, _ in tokens]
        self.word_starts = [s for s, _ in words]
        self.word_ends = [e for _, e in words]
        self.cursor = 0  # the splitter asks about pieces roughly in text order

    def between_words(self, p: int) -> bool:
        k = bisect_right(self.word_starts, p) - 1
        return k < 0 or not self.word_starts[k] < p < self.word_ends[k]

    def _range(self, start: int, end: int) -> tuple[int, int] | None:
        if not (self.between_words(start) and self.between_words(end)):
            return None
        return bisect_left(self.token_starts, start), bisect_left(self.token_starts, end)

    def count(self, piece: str) -> int | None:
        """Word-pieces of `piece`, from wherever it occurs in the text (any occurrence that
        starts and ends between words holds the same words, so the same word-pieces)."""
        at = self.text.find(piece, self.cursor)
        if at < 0:
            at = self.text.find(piece)
            if at < 0:
                return None
        self.cursor = at
        found = self._range(at, at + len(piece))
        return None if found is None else found[1] - found[0]

    def offsets(self, start: int, end: int) -> list[tuple[int, int]] | None:
        """The word-pieces' character spans within text[start:end], or None."""
        found = self._range(start, end)
        return None if found is None else self.tokens[found[0]:found[1]]

    def ids(self, start: int, end: int) -> Any:
        """The word-pieces' ids of text[start:end] (a view into the article's int32 array:
        4 bytes a piece, shared by overlapping chunks), or None."""
        found = self._range(start, end)
        return None if found is None else self.token_ids[found[0]:found[1]]


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Find `piece` in `text` at or after `cursor`, tolerating whitespace differences."""
    piece = piece.strip()
    if not piece:
        return None
    idx = text.find(piece, cursor)
    if idx < 0:
        idx = text.find(piece)
    if idx >= 0:
        return idx, idx + len(piece)
    words = piece.split()
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    m = pattern.search(text, cursor) or pattern.search(text)
    if m:
        return m.start(), m.end()
    # Last resort: anchor on the first and the last few words.
    head = re.compile(r"\s+".join(re.escape(w) for w in words[:4]))
    tail = re.compile(r"\s+".join(re.escape(w) for w in words[-4:]))
    h = head.search(text, cursor)
    if not h:
        return None
    t = None
    for t in tail.finditer(text, h.start()):
        if t.end() - h.start() >= len(piece) * 0.8:
            break
    if t is None:
        return None
    return h.start(), t.end()


def _cover_gaps(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int, bool]]:
    """Never lose text: a stretch no chunk covers becomes its own chunk (flagged as a gap)."""
    out: list[tuple[int, int, bool]] = []
    covered = 0
    for s, e in sorted(spans):
        if text[covered:s].strip():
            out.append((*trim(text, covered, s), True))
        out.append((s, e, False))
        covered = max(covered, e)
    if text[covered:].strip():
        out.append((*trim(text, covered, len(text)), True))
    return out
