"""Corpus files -> Article records (txt, md, html, json, jsonl); bad files become Skipped notes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qa.corpus.dates import date_int, normalize_date
from qa.corpus.readers import SUFFIXES, Item, make_article, read_file
from qa.corpus.walk import count_files, walk, walk_files
from qa.records import Article, Skipped, Warned

__all__ = [
    "SUFFIXES",
    "Item",
    "Warned",
    "count_files",
    "date_int",
    "file_of",
    "make_article",
    "normalize_date",
    "read_corpus",
    "read_file",
    "walk_files",
]


def read_corpus(root: Path, max_file_bytes: int = 10_000_000,
                probe: Callable[[Path, str], Any] | None = None) -> Iterator[Item]:
    """Yield every article under `root` (recursively), and a Skipped note for each bad input.

    Files are visited in sorted order and read one at a time, so memory does not grow with
    the corpus. `Warned` notes accompany articles that were indexed
    despite a problem. `probe(path, relative path)` is asked first about each file: what it
    returns, if anything, is yielded instead of reading the file (a rebuild's unchanged files).
    """
    root = Path(root)
    real_root = root.resolve()
    for path in walk(root, real_root):
        if isinstance(path, Skipped):
            yield path
            continue
        rel = path.relative_to(root).as_posix()
        instead = probe(path, rel) if probe is not None else None
        if instead is not None:
            yield instead
            continue
        yield from read_file(path, rel, real_root, max_file_bytes)


def file_of(item: Any) -> str:
    """The corpus file an item came from (relative path)."""
    if isinstance(item, Article):
        return item.source_path
    if isinstance(item, (Skipped, Warned)):
        return item.file
    return str(item.path)  # a rebuild's UnchangedFile
