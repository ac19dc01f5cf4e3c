"""Article -> Chunks: llama-index SentenceSplitter, exact character offsets, a hard token bound."""

from __future__ import annotations

import re
from collections.abc import Callable
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
        self._count: Callable[[str], list[int]] = lambda t: tokenizer.encode(
            t, add_special_tokens=False
        )
        self.splitter = SentenceSplitter(
            chunk_size=size,
            chunk_overlap=overlap,
            tokenizer=self._count,
            paragraph_separator="\n\n",
        )

    def split(self, article: Article) -> list[Chunk]:
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
        return [
            Chunk(article.id, i, text[s:e], s, e) for i, (s, e) in enumerate(spans)
        ]

    def _enforce_limit(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Split a span at word-piece boundaries when it is longer than the model accepts."""
        enc = self.tokenizer(
            text[start:end], add_special_tokens=False, return_offsets_mapping=True
        )
        offsets = enc["offset_mapping"]
        if len(offsets) <= self.limit:
            return [(start, end)]
        out = []
        for i in range(0, len(offsets), self.limit):
            window = offsets[i : i + self.limit]
            s, e = start + window[0][0], start + window[-1][1]
            out.append(trim(text, s, e))
        return out


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
