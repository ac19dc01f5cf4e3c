"""Progress of a rebuild on a terminal: tqdm bars of files, articles and chunks embedded."""

from __future__ import annotations

import sys
from typing import Any


class Bars:
    """tqdm progress bars on a terminal: files (with rate and ETA), articles, chunks embedded."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.files: Any = None
        self.articles: Any = None
        self.chunks: Any = None

    def __call__(self, event: Any) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        from qa.index import events

        if isinstance(event, events.Started):
            self.files = tqdm(desc="files   ", total=event.files, unit=" file", position=0,
                              file=sys.stderr)
            self.articles = tqdm(desc="articles", unit=" art", position=1, file=sys.stderr)
            self.chunks = tqdm(desc="embedded", unit=" chunk", position=2, file=sys.stderr)
        elif isinstance(event, events.FileRead) and self.files is not None:
            self.files.update(1)
        elif isinstance(event, events.ArticleRead) and self.articles is not None:
            self.articles.update(1)
        elif isinstance(event, events.ChunksWritten) and self.chunks is not None:
            self.chunks.update(event.chunks)
        elif isinstance(event, (events.Committing, events.Done)):
            self.close()

    def close(self) -> None:
        for bar in (self.files, self.articles, self.chunks):
            if bar is not None:
                bar.close()
        self.files = self.articles = self.chunks = None
