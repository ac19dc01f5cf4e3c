"""The corpus folder as the UI manages it: list files, save uploads safely, delete files."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa.corpus import SUFFIXES, walk_files
from qa.errors import CorpusError

ALLOWED = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")


@dataclass(frozen=True)
class Saved:
    name: str  # path relative to the corpus folder
    replaced: bool


def safe_name(name: str) -> str:
    """A plain file name for an upload: no folders, no traversal, no hidden files.

    Raises CorpusError for names that cannot be made safe or have a disallowed type.
    """
    base = re.split(r"[\\/]", name or "")[-1]  # drop any folder part, Windows or POSIX
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    suffix = Path(base).suffix.lower()
    if suffix not in ALLOWED:
        raise CorpusError(
            f"{name!r}: unsupported file type {suffix or '(none)'}; upload "
            f"{', '.join(ALLOWED)} files."
        )
    stem = base[: -len(suffix)].strip(" .")
    if not stem:
        raise CorpusError(f"{name!r}: the file name is empty once unsafe characters are removed.")
    while len((stem + suffix).encode("utf-8")) > 200:  # file systems allow 255 bytes
        stem = stem[:-1]
    return stem + suffix


def save_upload(corpus_dir: Path, name: str, source: Path, max_bytes: int) -> Saved:
    """Copy an uploaded file into the corpus folder under a sanitized name."""
    target_name = safe_name(name)
    size = source.stat().st_size
    if size > max_bytes:
        raise CorpusError(
            f"{name!r} is {size:,} bytes; the limit is {max_bytes:,} (max_file_bytes)."
        )
    if size == 0:
        raise CorpusError(f"{name!r} is empty.")
    corpus = corpus_dir.resolve()
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / target_name
    if target.resolve().parent != corpus or target.is_symlink():
        raise CorpusError(f"{name!r}: refusing to write outside the corpus folder.")
    replaced = target.exists()
    # Hidden (rebuilds skip it), with the upload's suffix (the reader picks its parser by it).
    fd, tmp_name = tempfile.mkstemp(dir=corpus, prefix=".upload-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)
        _check_readable(tmp, name, corpus, max_bytes)
        tmp.replace(target)  # atomic: a rebuild never reads half a file
    finally:
        tmp.unlink(missing_ok=True)
    return Saved(target_name, replaced)


def _check_readable(path: Path, name: str, corpus: Path, max_bytes: int) -> None:
    """Refuse an upload a rebuild would skip whole (binary data renamed .txt, malformed JSON),
    with the reader's own reasons: said at upload, not found out at the next rebuild."""
    from qa.corpus.readers import read_file
    from qa.records import Article, Skipped

    items = list(read_file(path, name, corpus, max_bytes))
    if any(isinstance(i, Article) for i in items):
        return
    reasons = [f"{name}{i.where}: {i.reason}" if i.where else i.reason
               for i in items if isinstance(i, Skipped)]
    raise CorpusError(f"{name!r} was not added: {'; '.join(reasons[:3]) or 'no article in it'}.")


def corpus_files(corpus_dir: Path) -> list[str]:
    """Article files in the corpus folder (relative paths), sorted: the files a rebuild visits
    (no hidden files, symlinked folders not followed)."""
    root = corpus_dir.resolve()
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in walk_files(root)
                  if p.suffix.lower() in SUFFIXES)


def pending_files(corpus_dir: Path, epoch: float | None, updated: str | None,
                  indexed: set[str]) -> list[str]:
    """Corpus files not in the index and changed after its last rebuild (the state's time:
    `epoch`, else its ISO time `updated`; every unindexed file when there is no index):
    uploaded or added since. A file the last rebuild skipped is older, so it is not listed."""
    from datetime import datetime

    since = epoch or 0.0
    if not since and updated:
        try:
            # Cut to the second: a file of that second was read by the rebuild.
            since = datetime.strptime(updated, "%Y-%m-%dT%H:%M:%S%z").timestamp() + 1.0
        except ValueError:
            since = 0.0
    root = corpus_dir.resolve()
    return [rel for rel in corpus_files(corpus_dir)
            if rel not in indexed and (root / rel).stat().st_mtime >= since]


def delete_file(corpus_dir: Path, rel: str) -> None:
    """Remove one article file (a path from corpus_files) from the corpus folder."""
    root = corpus_dir.resolve()
    if rel not in corpus_files(corpus_dir):
        raise CorpusError(f"{rel!r} is not an article file in the corpus folder.")
    target = root / rel  # a symlink is removed itself, never what it points to
    if not target.parent.resolve().is_relative_to(root):
        raise CorpusError(f"{rel!r} is not a file in the corpus folder.")
    target.unlink()
