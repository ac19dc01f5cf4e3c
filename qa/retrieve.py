"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank, over the live generation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from qa.config import Settings
from qa.corpus import date_int, normalize_date
from qa.errors import ConfigError
from qa.index.reader import chunk_texts
from qa.index.schema import (
    ARTICLE_ID,
    DATE_INT,
    SOURCE,
    chunk_article,
    filter_fields,
    is_live,
    live,
    passage_from_row,
)
from qa.index.store import Store, and_where
from qa.models import Embedder
from qa.question import Analysis
from qa.records import Passage

RRF_K = 60  # the constant of Cormack et al.; dampens the weight of the very first ranks


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval: any of sources, a date range (inclusive, ISO), article ids."""

    sources: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    article_ids: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        sources: Any = None,
        since: str | None = None,
        until: str | None = None,
        article_ids: Any = None,
        labels: tuple[str, str] = ("--since", "--until"),
    ) -> Filters | None:
        """The filters of the given fields, None when they filter nothing. `labels` names the
        date fields in messages the way the user sees them ("From date" in the UI)."""

        def dates(value: str | None, name: str) -> str:
            if not value:
                return ""
            iso = normalize_date(value)
            if not iso:
                raise ConfigError(f"{name} {value!r} is not a date; use YYYY-MM-DD.")
            return iso

        since_label, until_label = labels
        f = cls(
            sources=tuple(s.strip() for s in ([sources] if isinstance(sources, str)
                                              else sources or ()) if s.strip()),
            since=dates(since, since_label),
            until=dates(until, until_label),
            article_ids=tuple([article_ids] if isinstance(article_ids, str) else article_ids or ()),
        )
        if f.since and f.until and f.since > f.until:
            raise ConfigError(f"{since_label} {f.since} is after {until_label} {f.until}: no "
                              "date is in that range. Swap the two dates.")
        return f if f != cls() else None

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({SOURCE: {"$in": list(self.sources)}})
        if self.since:
            clauses.append({DATE_INT: {"$gte": date_int(self.since)}})
        if self.until:
            clauses.append({DATE_INT: {"$lte": date_int(self.until)}})
            clauses.append({DATE_INT: {"$gt": 0}})
        if self.article_ids:
            clauses.append({ARTICLE_ID: {"$in": list(self.article_ids)}})
        return and_where(*clauses)

    def allows(self, article_id: str, d: int, source: str) -> bool:
        if self.sources and source not in self.sources:
            return False
        if self.since and d < date_int(self.since):
            return False
        if self.until and (d == 0 or d > date_int(self.until)):
            return False
        return not (self.article_ids and article_id not in self.article_ids)


class Retriever:
    """Reads the committed generation on every call, so a finished rebuild shows up at once."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._sparse: Any = None
        self._outlets: tuple[int, dict[str, set[str]]] | None = None
        self._lock = threading.Lock()

    def _sparse_for(self, gen: int) -> Any:
        from qa.index.sparse import SparseIndex

        with self._lock:
            if self._sparse is None or self._sparse.generation != gen:
                self._sparse = SparseIndex.load(self.settings, self.store, gen)
            return self._sparse

    def _outlets_for(self, sparse: Any) -> dict[str, set[str]]:
        """The outlet aliases of a generation's sources (none for a single source), built once
        per generation: every question is matched against them."""
        from qa.question import outlet_aliases

        with self._lock:
            if self._outlets is None or self._outlets[0] != sparse.generation:
                sources = {s for s in sparse.meta[SOURCE] if s}
                aliases = outlet_aliases(sources) if len(sources) > 1 else {}
                self._outlets = (sparse.generation, aliases)
            return self._outlets[1]

    def sparse(self) -> Any:
        """The BM25 index of the generation last retrieved from (None before any retrieval)."""
        return self._sparse

    def resolve(self, filters: Filters | None) -> tuple[Filters | None, str]:
        """The filters with each source spelled as the archive spells it (matched without
        regard to case), and why nothing can pass them ("" when something can): a refusal
        that names the fix instead of "the articles don't say"."""
        if filters is None:
            return None, ""
        sparse = self._sparse_for(self.store.require_state().generation)
        return resolve_filters(filters, sparse.meta)

    def _dense(self, col: Any, qvec: list[float], pool: int, gen: int,
               filters: Filters | None) -> list[str]:
        """The `pool` nearest live chunks that pass the filters.

        Chroma's `where` pre-filter scans the metadata of every record (0.66 s at 100k chunks
        on 2 cores), so the nearest neighbours are fetched unfiltered and filtered here (10 ms).
        Only when too few survive (a rebuild in flight, a narrow filter) is the filtered query
        run. The result is the same either way.
        """
        n = pool * 2
        got = col.query(query_embeddings=[qvec], n_results=n, include=["metadatas"])
        ids, metas = got["ids"][0], got["metadatas"][0]
        keep = [
            rid for rid, m in zip(ids, metas, strict=True)
            if is_live(m, gen) and (filters is None or filters.allows(*filter_fields(m)))
        ]
        if len(keep) >= pool or len(ids) < n:  # enough, or every record was seen
            return keep[:pool]
        where = and_where(live(gen), filters.where() if filters else None)
        got = col.query(query_embeddings=[qvec], n_results=pool, where=where, include=[])
        return got["ids"][0]

    def retrieve(
        self, query: str, top_k: int | None = None, filters: Filters | None = None
    ) -> list[Passage]:
        """The top_k passages for `query`, best first; score is cosine similarity."""
        return self.search(query, top_k, filters).passages

    def search(self, query: str, top_k: int | None = None,
               filters: Filters | None = None) -> Retrieval:
        """The passages of `retrieve` with the idf weights of the BM25 index of the same
        generation (read here, not from the last search: questions run concurrently).

        A question that names outlets of the archive ("as reported by The Verge and
        TechCrunch") is also searched within each of them, and each named outlet's best
        passages are given first: a question about two reports needs both. No article gets
        more than one of the k places for such a question, `per_article` for others, while
        other articles are left to fill them.
        """
        import numpy as np

        from qa.question import analyze

        k = top_k or self.settings.top_k
        state = self.store.require_state()
        embedder = self.embedder.for_index(state.embed_model)
        gen = state.generation
        pool = max(4 * k, 20)
        qvec = np.asarray(embedder.encode_query(query), dtype=np.float32)
        col = self.store.collection("chunks")
        sparse = self._sparse_for(gen)
        search = _Search(col, sparse, qvec, gen, self)

        ranked = search.fused(query, pool, filters)
        asked = analyze(query, aliases=self._outlets_for(sparse))
        per_part = [search.fused(query, pool, f) for f in _parts(asked, filters)]
        cap = 1 if per_part else self.settings.per_article
        best = diversify(ranked, per_part, k, chunk_article, cap)
        if not best:
            return Retrieval(query, [], asked, sparse.idf)
        got = col.get(ids=best, include=["metadatas", "documents", "embeddings"])
        texts = chunk_texts(self.store, list(zip(got["metadatas"], got["documents"],
                                                 strict=True)))
        by_id = {
            rid: (got["metadatas"][i], texts[i], got["embeddings"][i])
            for i, rid in enumerate(got["ids"]) if texts[i] is not None
        }
        out = []
        for cid in best:
            if cid not in by_id:  # it or its article deleted by a rebuild that committed
                continue
            meta, doc, emb = by_id[cid]
            sim = float(np.dot(np.asarray(emb, dtype=np.float32), qvec))
            out.append(passage_from_row(cid, meta, doc, round(sim, 4)))
        return Retrieval(query, out, asked, sparse.idf)


def resolve_filters(filters: Filters, meta: dict[str, list[Any]]) -> tuple[Filters, str]:
    """`Retriever.resolve` over the per-chunk metadata of one generation."""
    known = sorted({s for s in meta[SOURCE] if s})
    by_lower = {s.lower(): s for s in known}
    if filters.sources:
        found = tuple(dict.fromkeys(by_lower[s.lower()] for s in filters.sources
                                    if s.lower() in by_lower))
        if not found:
            asked = ", ".join(repr(s) for s in filters.sources)
            offer = (f"sources in the archive: {', '.join(known)}. Change the source filter"
                     if known else "no article in the archive names its source. Clear the "
                     "source filter")
            return filters, f"No article is from {asked}; {offer}."
        filters = replace(filters, sources=found)
    rows = zip(meta[ARTICLE_ID], meta[DATE_INT], meta[SOURCE], strict=True)
    if any(filters.allows(a, d or 0, s) for a, d, s in rows):
        return filters, ""
    dated = sorted(d for d in meta[DATE_INT] if d)
    if filters.since or filters.until:
        span = (f"the articles are dated {_iso(dated[0])} to {_iso(dated[-1])}" if dated
                else "no article in the archive has a date")
        where = f" from {', '.join(filters.sources)}" if filters.sources else ""
        return filters, (f"No article{where} is dated {_range(filters)}; {span}. Widen the "
                         "dates or clear them.")
    return filters, "No article passes the filters. Clear them to search the whole archive."


def _iso(d: int) -> str:
    return f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"


def _range(f: Filters) -> str:
    if f.since and f.until:
        return f"from {f.since} to {f.until}"
    return f"on or after {f.since}" if f.since else f"on or before {f.until}"


class _Search:
    """One question's dense and BM25 rankings over one generation, fused by reciprocal rank."""

    def __init__(self, col: Any, sparse: Any, qvec: Any, gen: int, retriever: Retriever) -> None:
        self.col, self.sparse, self.qvec, self.gen = col, sparse, qvec, gen
        self.retriever = retriever

    def fused(self, query: str, pool: int, filters: Filters | None) -> list[str]:
        dense_ids = self.retriever._dense(self.col, self.qvec.tolist(), pool, self.gen, filters)
        allowed = None
        if filters:
            m = self.sparse.meta

            def allowed(i: int) -> bool:
                return filters.allows(m[ARTICLE_ID][i], m[DATE_INT][i] or 0, m[SOURCE][i])

        sparse_ids = [cid for cid, _ in self.sparse.search(query, pool, allowed)]
        fused: dict[str, float] = {}
        for ranking in (dense_ids, sparse_ids):
            for rank, cid in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        return sorted(fused, key=lambda c: -fused[c])


# A date belongs to the outlet named at most this many characters before it ("the TechCrunch
# report on Sam Bankman-Fried published on October 7, 2023").
DATE_REACH = 120


def _parts(asked: Analysis, filters: Filters | None) -> list[Filters]:
    """The filter of one search per report the question names, in its order: an outlet on a
    date, an outlet, or a date; each narrows `filters`. Each search asks the whole question
    (asking only the clause that names the report measured no better)."""
    base = filters or Filters()
    parts: list[tuple[int, Filters]] = []
    dated: set[int] = set()
    for d in asked.dates:
        before = [o for o in asked.outlets if 0 <= d.start - o.start <= DATE_REACH]
        outlet = max(before, key=lambda o: o.start, default=None)
        f = _narrow(base, outlet.sources if outlet else (), d.iso)
        if f is not None:
            parts.append((outlet.start if outlet else d.start, f))
        if outlet is not None:
            dated.add(outlet.start)
    for o in asked.outlets:
        if o.start not in dated:
            f = _narrow(base, o.sources, "")
            if f is not None:
                parts.append((o.start, f))
    parts.sort(key=lambda p: p[0])
    return [f for _, f in parts]


def _narrow(base: Filters, sources: tuple[str, ...], iso: str) -> Filters | None:
    """`base` narrowed to `sources` and the day `iso` (None when `base` excludes them)."""
    if sources:
        sources = tuple(s for s in sources if not base.sources or s in base.sources)
        if not sources:
            return None
    if iso and ((base.since and iso < base.since) or (base.until and iso > base.until)):
        return None
    return replace(base, sources=sources or base.sources, since=iso or base.since,
                   until=iso or base.until)


def diversify(ranked: list[str], per_outlet: list[list[str]], k: int,
              article_of: Callable[[str], str], per_article: int) -> list[str]:
    """The k chunks to give: first the best of each named outlet's own ranking, taken in turns
    (one each, then a second each), then the overall ranking; at most `per_article` chunks of
    one article while others can fill the places, and no more than k - 1 places for the named
    outlets together when the overall ranking has a best chunk of its own."""
    chosen: list[str] = []
    count: dict[str, int] = {}

    def take(cid: str, cap: int) -> None:
        art = article_of(cid)
        if cid not in chosen and count.get(art, 0) < cap and len(chosen) < k:
            chosen.append(cid)
            count[art] = count.get(art, 0) + 1

    if per_outlet:
        budget = max(1, k - 1)
        for turn in range(2):
            for ranking in per_outlet:
                fresh = [c for c in ranking if c not in chosen
                         and count.get(article_of(c), 0) < (1 if turn == 0 else per_article)]
                if fresh and len(chosen) < budget:
                    take(fresh[0], per_article)
    for cid in ranked:
        take(cid, per_article)
    for cid in ranked:  # too few articles to keep the cap: fill with what there is
        take(cid, k)
    return chosen


@dataclass(frozen=True)
class Retrieval:
    """What the answer step needs of one retrieval: the passages and the idf weights of the
    generation they came from (None when no BM25 index was read)."""

    query: str
    passages: list[Passage]
    asked: Analysis  # the question's form, the outlets and dates it names, unknown publishers
    idf: Callable[[str], float] | None = None
