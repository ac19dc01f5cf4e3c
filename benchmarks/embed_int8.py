"""The onnx-int8 embedding backend against torch fp32: throughput on the same chunks, and quality.

    python benchmarks/embed_int8.py [--articles 1000] [--queries 300]

- speed: chunks/s of the int8 ONNX encoder ÷ chunks/s of `SentenceTransformer.encode` (fp32
  torch) on exactly the chunks `qa rebuild` makes of the 1,000-article benchmark corpus; both
  warmed up, same batch size, same process.
- quality: `qa eval --retrieval-only` recall@5 on ../shared/eval/dev with each backend (the
  target: within 0.01), plus a harder dense-only probe on the big corpus: a sentence from the
  middle of a random chunk is the query, and a hit is a top-5 chunk containing that sentence.
Writes benchmarks/results/embed_int8.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from corpus_gen import DEV_ARTICLES, write_corpus  # noqa: E402


def _probe(texts: list[str], n: int, seed: int = 11) -> list[tuple[str, int]]:
    """(query sentence, chunk index) pairs: a mid-chunk sentence of 8-40 words."""
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    for i in rng.sample(range(len(texts)), len(texts)):
        sents = [s for s in re.split(r"(?<=[.!?])\s+", texts[i]) if 8 <= len(s.split()) <= 40]
        if len(sents) >= 3:
            out.append((sents[len(sents) // 2], i))
        if len(out) == n:
            break
    return out


def _recall5(queries: Any, vectors: Any, texts: list[str], probe: list[tuple[str, int]]) -> float:
    import numpy as np

    top = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    hits = sum(any(q in texts[j] for j in row) for (q, _), row in zip(probe, top, strict=True))
    return round(hits / len(probe), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()

    import numpy as np

    from qa import Settings
    from qa.chunking import Chunker
    from qa.corpus import read_corpus
    from qa.embed import Embedder
    from qa.eval import run_eval
    from qa.records import Article

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.articles)
        settings = Settings(corpus_dir=corpus, index_dir=Path(tmp) / "index",
                            model_cache_dir=HERE.parent / "indexes" / "models")
        fp32 = Embedder.from_settings(settings.model_copy(update={"embed_backend": "torch"}))
        int8 = Embedder.from_settings(settings.model_copy(update={"embed_backend": "onnx-int8"}))
        chunker = Chunker(fp32.tokenizer, fp32.max_tokens, settings.chunk_size,
                          settings.chunk_overlap)
        texts = [c.text for a in read_corpus(corpus) if isinstance(a, Article)
                 for c in chunker.split(a)]
        t = time.perf_counter()
        int8.encode(texts[:8])  # exports on first use (cached afterwards); not throughput
        export_s = time.perf_counter() - t
        fp32.encode(texts[:64])
        int8.encode(texts[:64])

        t = time.perf_counter()
        v32 = fp32.model.encode(texts, batch_size=settings.embed_batch_size,
                                normalize_embeddings=True, show_progress_bar=False)
        t32 = time.perf_counter() - t
        t = time.perf_counter()
        v8 = int8.encode(texts)
        t8 = time.perf_counter() - t
        cos = (v32 * v8).sum(axis=1)

        probe = _probe(texts, args.queries)
        q32 = fp32.encode([q for q, _ in probe])
        q8 = int8.encode([q for q, _ in probe])
        results["speed"] = {
            "chunks": len(texts),
            "torch_fp32_chunks_per_s": round(len(texts) / t32, 1),
            "onnx_int8_chunks_per_s": round(len(texts) / t8, 1),
            "ratio": round(t32 / t8, 3),
            "target": ">= 1.8",
            "first_use_export_s": round(export_s, 1),
        }
        results["vectors"] = {
            "cosine_to_fp32_mean": round(float(cos.mean()), 4),
            "cosine_to_fp32_p1": round(float(np.percentile(cos, 1)), 4),
            "cosine_to_fp32_min": round(float(cos.min()), 4),
        }
        results["probe"] = {
            "queries": len(probe),
            "recall_at_5_fp32": _recall5(q32, v32, texts, probe),
            "recall_at_5_int8": _recall5(q8, v8, texts, probe),
            "recall_at_5_int8_queries_on_fp32_index": _recall5(q8, v32, texts, probe),
        }

    dev = DEV_ARTICLES.parent
    if dev.is_dir():
        evals = {}
        for backend in ("torch", "onnx-int8"):
            s = Settings(embed_backend=backend, model_cache_dir=HERE.parent / "indexes" / "models")
            r = run_eval(dev, s, retrieval_only=True)
            evals[backend] = {k: r[k] for k in ("answerable", "recall_at_k", "recall_at_1", "mrr")}
        results["dev_eval"] = {
            **evals,
            "recall_at_5_diff": round(evals["onnx-int8"]["recall_at_k"]
                                      - evals["torch"]["recall_at_k"], 4),
            "target": "|diff| <= 0.01",
        }

    out = HERE / "results" / "embed_int8.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
