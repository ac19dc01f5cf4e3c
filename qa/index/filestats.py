"""Corpus files unchanged since the last rebuild, told by their stat instead of their bytes.

A rebuild records, for every file that gave only clean articles, its size, mtime, ctime, inode
and device and the ids of its articles, in `<index_dir>/filestats/<collection>-g<G>.json`, for
the generation G it committed. The next rebuild does not read a file whose stat is unchanged: its
articles are the ones already indexed. A no-change rebuild then reads no article at all.

Every write to a file changes its ctime, and tools that copy or restore files (`cp -p`, `rsync
-t`, `touch -d`) can set its mtime back but not its ctime. The one blind spot is a write in the
same clock tick as the read that recorded the stat (git's "racy clean" files), so a file whose
ctime is within RACY_NS of the recording rebuild's start is recorded as untrusted and is read
again next time. The file is a cache: when it is missing, unreadable, or made for another
generation, corpus folder or file size limit, every file is read. `qa rebuild --full` reads every
file too.
"""

from __future__ import annotations

import os
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.index import sidecar

VERSION = 1
RACY_NS = 2_000_000_000  # a ctime this close to the rebuild's start may hide a second write

Stat = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, device


@dataclass(frozen=True)
class UnchangedFile:
    """A corpus file whose stat says it is as the last rebuild read it: its articles' ids."""

    path: str  # relative to the corpus folder
    article_ids: tuple[str, ...]


def _stat(path: Path) -> Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


KIND = "filestats"


def _header(settings: Any, generation: int) -> dict[str, Any]:
    return {"version": VERSION, "generation": generation,
            "corpus": str(Path(settings.corpus_dir).resolve()),
            "max_file_bytes": settings.max_file_bytes}


class FileStats:
    """What one rebuild knows of the files the last one read, and what it records for the next.

    `probe` runs in the thread that reads the corpus; `article`, `taint` and `keep` in the
    rebuild's own thread; `save` after the reader has finished.
    """

    def __init__(self, known: dict[str, dict[str, Any]], existing: Container[str],
                 generation: int = 0) -> None:
        self._known = known
        self._generation = generation  # of the records in `known`
        self._existing = existing
        self._stats: dict[str, Stat] = {}
        self._ids: dict[str, list[str]] = {}
        self._kept: set[str] = set()
        self._tainted: set[str] = set()

    @classmethod
    def load(cls, settings: Any, generation: int, existing: Container[str],
             use: bool = True) -> FileStats:
        """The records of `generation`; none (every file is read) when `use` is False or they
        do not match the settings."""
        known: dict[str, dict[str, Any]] = {}
        if use and generation:
            header = _header(settings, generation)
            data = sidecar.read(settings, KIND, generation)
            if data is not None and {k: data.get(k) for k in header} == header and \
                    isinstance(data.get("files"), dict):
                known = data["files"]
        return cls(known, existing, generation if known else 0)

    def probe(self, path: Path, rel: str) -> UnchangedFile | None:
        """Stat the file before it is read; an UnchangedFile when reading it can be skipped."""
        stat = _stat(path)
        if stat is None:
            return None
        self._stats[rel] = stat
        old = self._known.get(rel)
        try:
            ids = tuple(str(i) for i in old["ids"]) if old else ()
            same = bool(old and old["trusted"] is True and tuple(old["stat"]) == stat)
        except (KeyError, TypeError):
            return None
        if same and ids and all(i in self._existing for i in ids):
            return UnchangedFile(rel, ids)
        return None

    def article(self, rel: str, article_id: str) -> None:
        self._ids.setdefault(rel, []).append(article_id)

    def taint(self, rel: str) -> None:
        """The file gave a skipped or doubtful item: always read it, to report it again."""
        self._tainted.add(rel)

    def keep(self, rel: str) -> None:
        self._kept.add(rel)

    def save(self, settings: Any, generation: int, started_ns: int) -> None:
        """Record the files of committed `generation` (a failure only costs the next rebuild
        the reads it would have saved)."""
        files: dict[str, dict[str, Any]] = {}
        for rel, stat in self._stats.items():
            if rel in self._tainted:
                continue
            if rel in self._kept:
                files[rel] = self._known[rel]
            elif self._ids.get(rel):
                files[rel] = {"stat": list(stat), "ids": self._ids[rel],
                              "trusted": stat[2] < started_ns - RACY_NS}
        if generation == self._generation and files == self._known:
            return  # nothing was read: the records on disk say it all
        sidecar.write(settings, KIND, generation,
                      {**_header(settings, generation), "files": files},
                      "the corpus file records", "the next rebuild reads every file")
