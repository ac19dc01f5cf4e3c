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
from qa.index.reader import chunk_texts
from qa.index.schema import ARTICLE_ID, DATE_INT, SOURCE, live
from qa.index.store import Store
from qa.text import content_tokens

_FIELDS = (ARTICLE_ID, DATE_INT, SOURCE)


def _quiet() -> None:
    import logging

    logging.getLogger("bm25s").setLevel(logging.WARNING)


def _cache_dir(settings: Settings, gen: int) -> Path:
    return settings.index_dir / "sparse" / f"{settings.collection}-g{gen}"


def _tokenize(texts: list[str]) -> list[list[str]]:
    # The same stemmed content tokens that answer verification uses, so that document
    # frequencies from this index can weight the evidence check.
    return [content_tokens(t) for t in texts]


def _save_tokens(folder: Path, words: list[str], flat: Any, ends: Any) -> None:
    """Each chunk's tokens, for the next generation's build: the vocabulary (JSON), and int32
    token numbers with each chunk's end in them (.npy, loaded without pickle)."""
    import numpy as np

    np.save(folder / "tokens.npy", np.asarray(flat, dtype=np.int32), allow_pickle=False)
    np.save(folder / "token_ends.npy", np.asarray(ends, dtype=np.int64), allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps(words))


def _previous(settings: Settings, gen: int) -> tuple[list[str], dict[str, tuple[Any, list[Any]]]]:
    """(vocabulary, {chunk id: (token numbers, filter fields)}) from the newest cached index of
    an older generation; empty when there is none or it cannot be read (then everything is
    tokenized afresh)."""
    import numpy as np

    parent = _cache_dir(settings, gen).parent
    older = []
    for d in parent.glob(f"{settings.collection}-g*"):
        num = d.name.rsplit("-g", 1)[-1]
        if num.isdigit() and int(num) < gen:
            older.append((int(num), d))
    if not older:
        return [], {}
    d = max(older)[1]
    try:
        data = json.loads((d / "ids.json").read_text())
        ids, meta = data["ids"], data["meta"]
        vocab = json.loads((d / "vocab.json").read_text())
        flat = np.load(d / "tokens.npy", allow_pickle=False)
        ends = np.load(d / "token_ends.npy", allow_pickle=False)
        if len(ends) != len(ids) or (len(ends) and ends[-1] != len(flat)) or \
                (len(flat) and not 0 <= int(flat.min()) <= int(flat.max()) < len(vocab)):
            return [], {}
        starts = np.concatenate([[0], ends[:-1]]).tolist()
        out = {rid: (flat[a:b], [meta[f][k] for f in _FIELDS])
               for k, (rid, a, b) in enumerate(zip(ids, starts, ends.tolist(), strict=True))}
        return list(vocab), out
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return [], {}


def bm25_index(flat: Any, lengths: Any, words: list[str]) -> tuple[Any, Any]:
    """A bm25s index (its defaults: Lucene BM25, k1 1.5, b 0.75) of chunks given as token
    numbers into `words`, one chunk after another, and each token's document frequency.

    The score matrix bm25s's own `index` builds, computed with numpy over all chunks at once
    instead of a Python loop per chunk (tests/test_sparse.py compares the two).
    """
    import bm25s
    import numpy as np

    _quiet()
    bm25 = bm25s.BM25()
    n_docs, n_words = len(lengths), max(1, len(words))
    chunk_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs, tf = np.unique(chunk_of * n_words + np.asarray(flat, dtype=np.int64),
                          return_counts=True)
    doc, tok = pairs // n_words, pairs % n_words
    seen = np.bincount(tok, minlength=n_words)  # chunks holding each token
    if not n_docs:
        return bm25, seen[: len(words)]
    idf = np.zeros(n_words, dtype=bm25.dtype)
    has = seen > 0
    idf[has] = np.log(1 + (n_docs - seen[has] + 0.5) / (seen[has] + 0.5))
    avg = float(np.mean(lengths))
    with np.errstate(divide="ignore", invalid="ignore"):  # every chunk empty: avg is 0
        tfc = tf / (bm25.k1 * ((1 - bm25.b) + bm25.b * lengths[doc] / avg) + tf)
    data = (idf[tok].astype(np.float64) * tfc).astype(bm25.dtype)
    order = np.argsort((tok << 32) | doc, kind="stable")  # column by column, as bm25s
    indptr = np.zeros(n_words + 1, dtype=np.int64)
    np.cumsum(seen, out=indptr[1:])
    bm25.scores = {"data": data[order], "indices": doc[order].astype(bm25.int_dtype),
                   "indptr": indptr, "num_docs": n_docs}
    numbers = {w: i for i, w in enumerate(words)} or {"": 0}
    if "" not in numbers:  # bm25s's empty token, after the real ones
        numbers[""] = len(numbers)
    bm25.vocab_dict = numbers
    bm25.unique_token_ids_set = set(numbers.values())
    bm25.nonoccurrence_array = None
    return bm25, seen[: len(words)]


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
        reused from its cache, as token numbers; only chunks new since then are read from Chroma
        (their spans of their article records' texts) and tokenized. Counting and renumbering
        run in numpy.
        """
        import numpy as np

        live_ids = [rid for rid, _, _ in store.iter_records("chunks", live(gen), include=[])]
        vocab, known = _previous(settings, gen)
        rows = list(store.records_by_id("chunks", [i for i in live_ids if i not in known],
                                        ["metadatas", "documents"]))
        texts = chunk_texts(store, [(m, doc) for _, m, doc in rows])
        # A chunk whose article record is gone was deleted by a rebuild meanwhile.
        fresh = {rid: (m, text) for (rid, m, _), text in zip(rows, texts, strict=True)
                 if text is not None}
        number = {w: i for i, w in enumerate(vocab)}

        def numbered(words: list[str]) -> Any:
            for w in words:
                if w not in number:
                    number[w] = len(vocab)
                    vocab.append(w)
            return np.fromiter((number[w] for w in words), dtype=np.int32, count=len(words))

        fresh_tokens = dict(zip(fresh, _tokenize([doc or "" for _, doc in fresh.values()]),
                                strict=True))
        ids: list[str] = []
        pieces: list[Any] = []
        meta: dict[str, list[Any]] = {f: [] for f in _FIELDS}
        for rid in live_ids:
            if rid in known:
                toks, fields = known[rid]
            elif rid in fresh:
                toks, fields = numbered(fresh_tokens[rid]), [fresh[rid][0].get(f) for f in _FIELDS]
            else:  # deleted between the two reads: not part of this generation after all
                continue
            ids.append(rid)
            pieces.append(toks)
            for f, v in zip(_FIELDS, fields, strict=True):
                meta[f].append(v)
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
        # Renumber the tokens the live chunks use (0..n-1): words of deleted chunks drop out.
        used, flat = np.unique(flat, return_inverse=True)
        flat = flat.astype(np.int32).reshape(-1)
        words = [vocab[i] for i in used.tolist()]
        bm25, counts = bm25_index(flat, lengths, words)
        df = dict(zip(words, counts.tolist(), strict=True))
        ends = np.cumsum(lengths)
        index = cls(gen, ids, meta, bm25, df)
        index._save(settings, words, flat, ends)
        return index

    def _save(self, settings: Settings, words: list[str], flat: Any, ends: Any) -> None:
        target = _cache_dir(settings, self.generation)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            if self.ids:
                self.bm25.save(str(tmp / "bm25"))
                _save_tokens(tmp, words, flat, ends)
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
