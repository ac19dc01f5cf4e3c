"""BM25 over the live chunks of one generation, derived from Chroma and cached on disk.

The sparse index is never a source of truth: it is rebuilt from the chunks of the committed
generation whenever its cache is missing or belongs to another generation, so it cannot drift
from Chroma. Files are bm25s arrays (.npy/.json, loaded without pickle) plus a JSON id list.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.store import Store, live

_FIELDS = ("article_id", "date_int", "source")


def _quiet() -> None:
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _cache_dir(settings: Settings, gen: int) -> Path:
    return settings.index_dir / "sparse" / f"{settings.collection}-g{gen}"


def _tokenize(texts: list[str]) -> Any:
    import bm25s

    _quiet()

    return bm25s.tokenize(texts, stopwords="en", show_progress=False)


@dataclass
class SparseIndex:
    generation: int
    ids: list[str]
    meta: dict[str, list[Any]]  # per chunk, for filtering without a round trip to Chroma
    bm25: Any

    @classmethod
    def build(cls, settings: Settings, store: Store, gen: int) -> SparseIndex:
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        meta: dict[str, list[Any]] = {f: [] for f in _FIELDS}
        for rid, m, doc in store.iter_records(
            "chunks", live(gen), include=["metadatas", "documents"]
        ):
            ids.append(rid)
            texts.append(doc or "")
            for f in _FIELDS:
                meta[f].append(m.get(f))
        bm25 = bm25s.BM25()
        if texts:
            bm25.index(_tokenize(texts), show_progress=False)
        index = cls(gen, ids, meta, bm25)
        index._save(settings)
        return index

    def _save(self, settings: Settings) -> None:
        target = _cache_dir(settings, self.generation)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            if self.ids:
                self.bm25.save(str(tmp / "bm25"))
            (tmp / "ids.json").write_text(json.dumps({"ids": self.ids, "meta": self.meta}))
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        # Older generations are no longer needed by anyone.
        for old in target.parent.glob(f"{settings.collection}-g*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, settings: Settings, store: Store, gen: int) -> SparseIndex:
        """The cached index of generation `gen`, rebuilt from Chroma when absent or unreadable."""
        import bm25s

        d = _cache_dir(settings, gen)
        try:
            data = json.loads((d / "ids.json").read_text())
            ids, meta = data["ids"], data["meta"]
            bm25 = bm25s.BM25.load(str(d / "bm25"), mmap=False) if ids else bm25s.BM25()
            return cls(gen, ids, meta, bm25)
        except (OSError, ValueError, KeyError):
            return cls.build(settings, store, gen)

    def search(self, query: str, k: int, allowed: Any = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; `allowed(i)` filters by chunk position."""
        if not self.ids:
            return []
        import numpy as np

        tokens = _tokenize([query])
        vocab = self.bm25.vocab_dict
        inv = {v: k for k, v in tokens.vocab.items()}
        words = [inv[t] for t in tokens.ids[0] if inv.get(t) in vocab]
        if not words:
            return []
        scores = self.bm25.get_scores(words)
        order = np.argsort(-scores)
        out = []
        for i in order:
            if scores[i] <= 0:
                break
            if allowed is not None and not allowed(int(i)):
                continue
            out.append((self.ids[i], float(scores[i])))
            if len(out) >= k:
                break
        return out
