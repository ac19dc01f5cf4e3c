"""Typed, JSON-serializable records passed between the layers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Article(_Record):
    """One article: `text` is the exact string every offset in qa points into."""

    id: str
    title: str
    text: str
    url: str = ""
    date: str = ""  # ISO yyyy-mm-dd, or "" when unknown
    source: str = ""
    author: str = ""
    source_path: str = ""  # file path relative to the corpus folder
    content_hash: str = ""


@dataclass(frozen=True)
class Chunk(_Record):
    """A passage of an article: article.text[start:end] == text.

    `tokens`: its word-piece ids in the embedding model's tokenizer (special tokens left out,
    a sequence of ints) when the chunker knows them, so that the encoder need not tokenize it
    again; not part of the record."""

    article_id: str
    number: int
    text: str
    start: int
    end: int
    tokens: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("article_id", "number", "text", "start", "end")}


@dataclass(frozen=True)
class _Note(_Record):
    file: str  # the corpus file, relative to the corpus folder
    # The place in the file, written as it follows the file's name, one way for every note:
    # ", line 3" (of a .jsonl file), ", record 2" (of a JSON list), "#7" (the article id of a
    # JSON record), "" (the file).
    where: str
    reason: str

    @property
    def path(self) -> str:
        """The file and the place in it, as users see it: "a.jsonl, line 3", "b.json, record 2"."""
        return self.file + self.where

    def to_dict(self) -> dict[str, Any]:
        # The JSON shape of `qa rebuild --json` (README): {"path", "reason"}.
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class Skipped(_Note):
    """A corpus input left out of the index, and why."""


@dataclass(frozen=True)
class Warned(_Note):
    """A corpus file that was indexed, but not cleanly (e.g. invalid UTF-8 replaced)."""


@dataclass(frozen=True)
class Passage(_Record):
    """A retrieved chunk with its article's metadata and its retrieval score."""

    chunk_id: str
    article_id: str
    title: str
    text: str
    start: int
    end: int
    url: str = ""
    date: str = ""
    source: str = ""
    source_path: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Citation(_Record):
    """A numbered source of an answer; quote == article text[start:end]."""

    number: int
    article_id: str
    title: str
    url: str
    date: str
    source_path: str
    passage: str
    quote: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Answer(_Record):
    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # what retrieval gave, nearest first
    unsupported: list[str] = field(default_factory=list)  # sentences no passage supports
    evidence: float = 0.0  # share of the question the cited passages cover (idf-weighted)
    seconds: float = 0.0
    reason: str = ""  # why it was refused ("" when answered): qa.answer.judge names the reasons

    def public(self) -> dict[str, Any]:
        """The JSON shape of `qa ask --json` and the UI's /ask endpoint."""
        keys = ("number", "article_id", "title", "url", "date", "source_path", "quote", "start",
                "end", "score")
        return {
            "answer": self.text,
            "refused": self.refused,
            "citations": [{k: getattr(c, k) for k in keys} for c in self.citations],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RebuildSummary(_Record):
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    reembedded: int = 0  # unchanged articles embedded again (`--full`)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Warned] = field(default_factory=list)
    chunks: int = 0  # chunks in the index after the rebuild
    embedded: int = 0  # chunks embedded by this rebuild
    seconds: float = 0.0
    generation: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["skipped"] = [k.to_dict() for k in self.skipped]
        d["warnings"] = [w.to_dict() for w in self.warnings]
        return d

    def line(self) -> str:
        again = f", re-embedded {self.reembedded}" if self.reembedded else ""
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged{again}, {len(self.skipped)} skipped; "
            f"{self.chunks} chunks ({self.embedded} embedded) in {self.seconds:.1f} s"
        )
