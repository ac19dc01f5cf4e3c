"""The corpus folder as a rebuild walks it: sorted, hidden files out, no symlink escapes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from qa.records import Skipped


def count_files(root: Path) -> int:
    """How many files a rebuild will visit (for a progress bar with an ETA)."""
    root = Path(root)
    return sum(1 for _ in walk_files(root))


def walk_files(root: Path) -> Iterator[Path]:
    """Every file a rebuild visits under `root` (sorted, hidden ones left out)."""
    return (p for p in walk(root, root.resolve()) if isinstance(p, Path))


def walk(root: Path, real_root: Path) -> Iterator[Path | Skipped]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            full = here / d
            if full.is_symlink():
                target = full.resolve()
                if not target.is_relative_to(real_root):
                    yield Skipped(rel(full, root), "",
                                  "symlink points outside the corpus folder")
                # A symlink to a folder inside the corpus is indexed through its real path.
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            yield here / name


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
