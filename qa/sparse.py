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


def _save_tokens(folder: Path, tokens: list[list[str]]) -> None:
    """Each chunk's tokens, for the next generation's build: a vocabulary (JSON) and int32
    arrays of token numbers and per-chunk ends (.npy, loaded without pickle)."""
    import numpy as np

    vocab: dict[str, int] = {}
    flat = [vocab.setdefault(t, len(vocab)) for toks in tokens for t in toks]
    ends = np.cumsum([len(toks) for toks in tokens], dtype=np.int64)
    np.save(folder / "tokens.npy", np.asarray(flat, dtype=np.int32), allow_pickle=False)
    np.save(folder / "token_ends.npy", ends, allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps(list(vocab)))


def _previous(settings: Settings, gen: int) -> dict[str, tuple[list[str], list[Any]]]:
    """{chunk id: (tokens, filter fields)} from the newest cached index of an older generation;
    empty when there is none or it cannot be read (then everything is tokenized afresh)."""
    import numpy as np

    parent = _cache_dir(settings, gen).parent
    older = []
    for d in parent.glob(f"{settings.collection}-g*"):
        num = d.name.rsplit("-g", 1)[-1]
        if num.isdigit() and int(num) < gen:
            older.append((int(num), d))
    if not older:
        return {}
    d = max(older)[1]
    try:
        data = json.loads((d / "ids.json").read_text())
        ids, meta = data["ids"], data["meta"]
        vocab = json.loads((d / "vocab.json").read_text())
        flat = np.load(d / "tokens.npy", allow_pickle=False)
        ends = np.load(d / "token_ends.npy", allow_pickle=False)
        if len(ends) != len(ids) or (len(ends) and ends[-1] != len(flat)):
            return {}
        words = [vocab[i] for i in flat.tolist()]
        out = {}
        start = 0
        for k, (rid, end) in enumerate(zip(ids, ends.tolist(), strict=True)):
            out[rid] = (words[start:end], [meta[f][k] for f in _FIELDS])
            start = end
        return out
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}


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
        """Index the live chunks of generation `gen`.

        Committed chunk records never change (their ids carry the generation that added them),
        so the tokens and filter fields of chunks an earlier generation's index already holds are
        reused from its cache; only chunks new since then are read from Chroma and tokenized.
        """
        import bm25s

        live_ids = [rid for rid, _, _ in store.iter_records("chunks", live(gen), include=[])]
        known = _previous(settings, gen)
        fresh = {rid: (m, doc) for rid, m, doc in store.records_by_id(
            "chunks", [i for i in live_ids if i not in known], ["metadatas", "documents"])}
        fresh_tokens = dict(zip(fresh, _tokenize([doc or "" for _, doc in fresh.values()]),
                                strict=True))
        ids: list[str] = []
        tokens: list[list[str]] = []
        meta: dict[str, list[Any]] = {f: [] for f in _FIELDS}
        for rid in live_ids:
            if rid in known:
                toks, fields = known[rid]
            elif rid in fresh:
                toks, fields = fresh_tokens[rid], [fresh[rid][0].get(f) for f in _FIELDS]
            else:  # deleted between the two reads: not part of this generation after all
                continue
            ids.append(rid)
            tokens.append(toks)
            for f, v in zip(_FIELDS, fields, strict=True):
                meta[f].append(v)
        _quiet()
        bm25 = bm25s.BM25()
        df: dict[str, int] = {}
        for toks in tokens:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        if ids:
            bm25.index(tokens, show_progress=False)
        index = cls(gen, ids, meta, bm25, df)
        index._save(settings, tokens)
        return index

    def _save(self, settings: Settings, tokens: list[list[str]]) -> None:
        target = _cache_dir(settings, self.generation)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            if self.ids:
                self.bm25.save(str(tmp / "bm25"))
                _save_tokens(tmp, tokens)
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
