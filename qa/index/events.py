"""A rebuild's progress events: one frozen record per kind, in the order a rebuild emits them.

A `Progress` callback receives them. `ChunksWritten` comes from the writer thread, every other
event from the thread that called `rebuild`, so a callback must be safe to call from both.
An exception raised by the callback stops the rebuild there, as a crash would (the previous
generation stays committed until `Committed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qa.records import RebuildSummary, Skipped


@dataclass(frozen=True)
class Started:
    """The committed generation is loaded; reading begins."""

    existing: int  # articles in the committed generation
    files: int  # files the rebuild will visit; 0 when not counted (no progress shown)


@dataclass(frozen=True)
class FileRead:
    """The first item of the next corpus file (or the file found unchanged by its stat)."""

    path: str  # relative to the corpus folder


@dataclass(frozen=True)
class ArticleRead:
    """One article counted: unchanged, or changed and queued for embedding."""

    changed: bool
    chunks: int = 0  # chunks queued for embedding (0 when unchanged)


@dataclass(frozen=True)
class InputSkipped:
    """A file or record left out of the index (warnings are not reported as events)."""

    skipped: Skipped


@dataclass(frozen=True)
class ChunksWritten:
    """A group of embedded chunks is written to the store (from the writer thread)."""

    chunks: int


@dataclass(frozen=True)
class Committing:
    """Everything is written; the state record is about to name the new generation."""

    generation: int


@dataclass(frozen=True)
class Committed:
    """The new generation is live: readers see it from now on."""

    generation: int


@dataclass(frozen=True)
class CollectingGarbage:
    """Deleting what the new generation no longer needs."""

    generation: int


@dataclass(frozen=True)
class Done:
    """The rebuild finished after a commit (a rebuild that changed nothing emits no Done)."""

    summary: RebuildSummary


RebuildEvent = (Started | FileRead | ArticleRead | InputSkipped | ChunksWritten | Committing
                | Committed | CollectingGarbage | Done)
Progress = Callable[[RebuildEvent], None]
