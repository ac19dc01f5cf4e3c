"""Ingestion on long real articles: `qa rebuild --full` ÷ raw encode in the SAME backend, on the
news evaluation set (../shared/eval/news: median 7.8k characters, up to 71k).

    python benchmarks/ingest_news.py [--articles 80] [--rounds 1] [--backends onnx-int8,torch]
    python benchmarks/ingest_news.py --pipeline-only [--articles 80]

For each backend: raw `Embedder.encode` of exactly the chunks the rebuild makes, and full
rebuilds into fresh indexes, alternating (raw first and last); the ratio is the mean raw time ÷
the mean rebuild time (1.0: the pipeline costs nothing beyond the encoder). `--articles` takes
an even spread of the 609 articles (all of them: `--articles 609`, ~35 min for both backends on
2 cores). Results: benchmarks/results/ingest_news.json.

--pipeline-only: where the rest goes. A rebuild whose embedder returns vectors computed
beforehand (so only reading, chunking, writing and BM25 remain), with the time of each stage
(wrapping the builder's own steps), and chunking alone; printed, not saved.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

NEWS = HERE.parent.parent / "shared" / "eval" / "news" / "articles.jsonl"


def news_subset(dst: Path, n: int) -> int:
    """Write an even spread of `n` news articles to dst/articles.jsonl; returns how many."""
    lines = [ln for ln in NEWS.read_text().splitlines() if ln.strip()]
    step = max(1, len(lines) / max(1, n))
    picked = [lines[int(i * step)] for i in range(min(n, len(lines)))]
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "articles.jsonl").write_text("\n".join(picked) + "\n")
    return len(picked)


def chunk_texts(settings: Any, embedder: Any) -> list[str]:
    from qa.chunking import Chunker
    from qa.corpus import read_corpus
    from qa.records import Article

    chunker = Chunker(embedder.tokenizer, embedder.max_tokens, settings.chunk_size,
                      settings.chunk_overlap)
    return [c.text for a in read_corpus(settings.corpus_dir) if isinstance(a, Article)
            for c in chunker.split(a)]


def measure(settings: Any, embedder: Any, rounds: int, tmp: Path) -> dict:
    """Raw encodes and full rebuilds of settings.corpus_dir, alternating; figures and ratio."""
    from qa import rebuild

    texts = chunk_texts(settings, embedder)
    embedder.encode(texts[:64])  # load and warm up the model outside the timing

    def raw() -> float:
        t = time.perf_counter()
        embedder.encode(texts)
        return time.perf_counter() - t

    raw_runs, rebuild_runs = [], []
    for i in range(rounds):
        raw_runs.append(raw())
        index = tmp / f"index-{embedder.backend}-{i}"
        t = time.perf_counter()
        summary = rebuild(settings.model_copy(update={"index_dir": index}), full=True,
                          embedder=embedder)
        rebuild_runs.append(time.perf_counter() - t)
        shutil.rmtree(index, ignore_errors=True)
        assert summary.chunks == len(texts), (summary.chunks, len(texts))
    raw_runs.append(raw())
    t_raw, t_rebuild = statistics.mean(raw_runs), statistics.mean(rebuild_runs)
    return {
        "backend": embedder.backend,
        "chunks": len(texts),
        "raw_encode_runs_s": [round(x, 1) for x in raw_runs],
        "rebuild_runs_s": [round(x, 1) for x in rebuild_runs],
        "raw_encode_chunks_per_s": round(len(texts) / t_raw, 1),
        "rebuild_chunks_per_s": round(len(texts) / t_rebuild, 1),
        "ratio": round(t_raw / t_rebuild, 3),
        "target": ">= 0.90",
    }


def pipeline_only(settings: Any, tmp: Path) -> dict:
    import numpy as np

    import qa.index.builder as builder
    import qa.index.pipeline as pipeline
    from qa import rebuild
    from qa.models.embed import Embedder

    embedder = Embedder.from_settings(settings)
    texts = chunk_texts(settings, embedder)  # the first also imports nltk (~8 s): not timed
    t = time.perf_counter()
    chunk_texts(settings, embedder)
    chunking = time.perf_counter() - t
    rng = np.random.default_rng(0)
    known = dict(zip(texts, rng.standard_normal((len(texts), 384)).astype(np.float32),
                     strict=True))

    class Precomputed(Embedder):
        def encode(self, xs: list[str]) -> Any:
            return np.stack([known[x] for x in xs])

        def encode_groups(self, groups: list[list[str]], tokens: Any = None) -> Any:
            return (self.encode(g) for g in groups)

    stages: dict[str, float] = {}

    def timing(name: str, fn: Any) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
        return timed

    for module, name in ((pipeline, "write_articles"), (pipeline, "write_chunks"),
                         (builder, "_build_sparse")):
        setattr(module, name, timing(name, getattr(module, name)))
    t = time.perf_counter()
    summary = rebuild(settings.model_copy(update={"index_dir": tmp / "index-pipeline"}),
                      full=True, embedder=Precomputed(None, None, settings.embed_backend))
    return {"chunks": summary.chunks, "rebuild_without_encoding_s": round(
        time.perf_counter() - t, 2), "chunking_alone_s": round(chunking, 2),
        **{f"{k}_s": round(v, 2) for k, v in stages.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=80, help="news articles (609: all)")
    ap.add_argument("--rounds", type=int, default=1, help="rebuilds per backend")
    ap.add_argument("--backends", default="onnx-int8,torch")
    ap.add_argument("--pipeline-only", action="store_true",
                    help="time the rebuild without the encoder, stage by stage")
    args = ap.parse_args()
    if not NEWS.is_file():
        raise SystemExit(f"no news set at {NEWS}")

    from qa import Settings
    from qa.models.embed import Embedder

    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                            f"Python {platform.python_version()}",
                 "measured": time.strftime("%Y-%m-%d %H:%M"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        corpus = tmp_path / "corpus"
        out["articles"] = news_subset(corpus, args.articles)
        if args.pipeline_only:
            settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                                embed_backend="onnx-int8")
            print(json.dumps({"articles": out["articles"], **pipeline_only(settings, tmp_path)}))
            return
        for backend in args.backends.split(","):
            settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                                embed_backend=backend)
            row = measure(settings, Embedder.from_settings(settings), args.rounds, tmp_path)
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ingest_news.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
