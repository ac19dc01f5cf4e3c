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
from qa.text import content_tokens

_FIELDS = ("article_id", "date_int", "source")


def _quiet() -> None:
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _cache_dir(settings: Settings, gen: int) -> Path:
    return settings.index_dir / "sparse" / f"{settings.collection}-g{gen}"


def _tokenize(texts: list[str]) -> list[list[str]]:
    # The same stemmed content tokens that answer verification uses, so that document
    # frequencies from this index can weight the evidence check.
    return [content_tokens(t) for t in texts]


@dataclass
class SparseIndex:
    generation: int
    ids: list[str]
    meta: dict[str, list[Any]]  # per chunk, for filtering without a round trip to Chroma
    bm25: Any
    df: dict[str, int]  # chunks containing each token

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token the corpus never has weighs the most."""
        import math

        n = max(1, len(self.ids))
        return math.log((n + 1) / (self.df.get(token, 0) + 0.5))

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
        _quiet()
        bm25 = bm25s.BM25()
        tokens = _tokenize(texts)
        df: dict[str, int] = {}
        for toks in tokens:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        if texts:
            bm25.index(tokens, show_progress=False)
        index = cls(gen, ids, meta, bm25, df)
        index._save(settings)
        return index

    def _save(self, settings: Settings) -> None:
        target = _cache_dir(settings, self.generation)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            if self.ids:
                self.bm25.save(str(tmp / "bm25"))
            (tmp / "ids.json").write_text(
                json.dumps({"ids": self.ids, "meta": self.meta, "df": self.df})
            )
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
            ids, meta, df = data["ids"], data["meta"], data["df"]
            _quiet()
            bm25 = bm25s.BM25.load(str(d / "bm25"), mmap=False) if ids else bm25s.BM25()
            return cls(gen, ids, meta, bm25, df)
        except (OSError, ValueError, KeyError):
            return cls.build(settings, store, gen)

    def search(self, query: str, k: int, allowed: Any = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; `allowed(i)` filters by chunk position."""
        if not self.ids:
            return []
        import numpy as np

        vocab = self.bm25.vocab_dict
        words = [t for t in content_tokens(query) if t in vocab]
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
