"""Hybrid retrieval latency (query embedding + dense + BM25 + fusion) at 1k, 10k and 100k chunks.

    python benchmarks/retrieve.py [--levels 1000,10000,100000] [--queries 30]

The base chunks are real: generated articles (benchmarks/corpus_gen.py, real Reuters text)
indexed by `qa rebuild`. Larger levels add copies of those chunks whose vectors are perturbed,
so the index has the size and the geometry of a large archive without hours of embedding. One
collection grows from level to level, a generation per level. `build_s` is the time to add a
level's new chunks and build its BM25 index.
Writes benchmarks/results/retrieve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = ROOT.parent / "shared" / "eval" / "dev"

from corpus_gen import write_corpus  # noqa: E402


def _grow(store, base: list[tuple[str, dict, str, list[float]]], start: int, n: int,
          generation: int, rng) -> None:
    """Add chunk records start..n-1 (the base ones, then perturbed copies) in `generation` and
    commit it, the way a rebuild that added them would: earlier records stay live."""
    from qa.index.schema import ALIVE

    ids, docs, metas, embs = [], [], [], []
    step = store.max_batch()
    for i in range(start, n):
        rid, meta, doc, emb = base[i % len(base)]
        copy = i // len(base)
        vec = np.asarray(emb, dtype=np.float32)
        if copy:
            vec = vec + rng.normal(0, 0.35 / np.sqrt(vec.size), vec.size).astype(np.float32)
            vec /= np.linalg.norm(vec)
        article = f"{meta['article_id']}~{copy}" if copy else meta["article_id"]
        ids.append(f"{rid}~{copy}")
        docs.append(doc)
        metas.append({**meta, "article_id": article, "gen_added": generation,
                      "gen_removed": ALIVE})
        embs.append(vec.tolist())
        if len(ids) >= step or i == n - 1:
            store.add("chunks", ids, docs, metas, embs)
            ids, docs, metas, embs = [], [], [], []
    store.write_state(generation=generation, chunks=n, articles=n, clean=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--base-articles", type=int, default=400)
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    from qa.config import Settings
    from qa.engine import Engine
    from qa.index import rebuild
    from qa.index.reader import chunk_texts
    from qa.index.schema import live
    from qa.index.sparse import SparseIndex
    from qa.index.store import Store
    from qa.retrieve import Retriever

    questions = [json.loads(line)["question"] for line in
                 (DEV / "questions.jsonl").read_text().splitlines() if line][: args.queries]
    rng = np.random.default_rng(7)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.base_articles)
        base_settings = Settings(corpus_dir=corpus, index_dir=Path(tmp) / "index")
        engine = Engine(base_settings)
        rebuild(base_settings, embedder=engine.embedder)
        store = Store(base_settings)
        gen = store.require_state().generation
        got = store.collection("chunks").get(where=live(gen),
                                             include=["metadatas", "documents", "embeddings"])
        # The copies carry their text as documents: they have no article records to slice.
        texts = chunk_texts(store, list(zip(got["metadatas"], got["documents"], strict=True)))
        base = list(zip(got["ids"], got["metadatas"], texts, got["embeddings"], strict=True))
        print(f"base: {len(base)} real chunks from {args.base_articles} articles")
        # One collection grows through the levels, one generation each (as successive rebuilds
        # would add chunks): BM25 reuses the tokens of the earlier generations, and the smaller
        # levels' chunks are not written twice.
        s = base_settings.model_copy(update={"collection": "scale"})
        level_store = Store(s)
        filled = 0
        for generation, n in enumerate(sorted(levels), start=1):
            t0 = time.perf_counter()
            _grow(level_store, base, filled, n, generation, rng)
            filled = n
            SparseIndex.build(s, level_store, generation)
            build_s = time.perf_counter() - t0
            retriever = Retriever(s, level_store, engine.embedder)
            for q in questions[:3]:
                retriever.retrieve(q)  # warm caches
            times = []
            for q in questions:
                t0 = time.perf_counter()
                retriever.retrieve(q)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            row = {"chunks": n, "p50_ms": round(statistics.median(times), 1),
                   "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
                   "build_s": round(build_s, 1)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    t0 = time.perf_counter()
    for q in questions:
        engine.embedder.encode_query(q)
    embed_ms = (time.perf_counter() - t0) * 1000 / len(questions)
    result = {"levels": rows, "query_embedding_ms": round(embed_ms, 1),
              "target": "p50 <= 50 ms at 100k chunks"}
    print(json.dumps(result, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "retrieve.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
