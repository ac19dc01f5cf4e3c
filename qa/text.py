"""Text utilities shared by retrieval and verification: sentences with offsets, content tokens."""

from __future__ import annotations

import re
from functools import lru_cache

_BOUNDARY = re.compile(
    r"[.!?]+[\"'\u201d\u2019)]*(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*(?=\s|$)|\n"
)
_ABBREV = frozenset(
    "mr mrs ms dr prof st jr sr inc corp co ltd gen gov sen rep col lt sgt capt vs etc jan feb "
    "mar apr jun jul aug sep sept oct nov dec mt ft approx dept est fig".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; abbreviations like U.N. or Mr. and
    initials do not end a sentence."""
    spans = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group() != "\n":
            word = (
                text[start : m.start()].rsplit(None, 1)[-1]
                if text[start : m.start()].strip()
                else ""
            )
            word = word.lstrip("\"'(\u201c\u2018")
            if re.fullmatch(r"(?:[A-Za-z]\.)*[A-Z]", word) or word.lower() in _ABBREV:
                continue
        spans.append(trim(text, start, m.end()))
        start = m.end()
    spans.append(trim(text, start, len(text)))
    return [(s, e) for s, e in spans if e > s]


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Narrow text[start:end] to exclude leading and trailing whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "not",
        "no",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "shall",
        "about",
        "into",
        "over",
        "after",
        "before",
        "than",
        "then",
        "so",
        "such",
        "also",
        "very",
        "just",
        "only",
        "i",
        "you",
        "we",
        "our",
        "your",
        "my",
        "me",
        "us",
        "said",
        "says",
        "say",
        "according",
    ]
)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - PyStemmer is a dependency
        return None


def content_tokens(text: str) -> list[str]:
    words = [w.lower().replace(",", "") for w in _WORD.findall(text)]
    words = [w.removesuffix("'s") for w in words]
    words = [w for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())]
    st = _stemmer()
    return st.stemWords(words) if st else words
