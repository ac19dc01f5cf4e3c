"""Ingestion on long real articles: `qa rebuild --full` ÷ raw encode in the SAME backend, on the
news evaluation set (../shared/eval/news: median 7.8k characters, up to 71k).

    python benchmarks/ingest_news.py [--articles 80] [--rounds 1] [--backends onnx-int8,torch]

For each backend: raw `Embedder.encode` of exactly the chunks the rebuild makes, and full
rebuilds into fresh indexes, alternating (raw first and last); the ratio is the mean raw time ÷
the mean rebuild time (1.0: the pipeline costs nothing beyond the encoder). `--articles` takes
an even spread of the 609 articles (all of them: `--articles 609`, ~35 min for both backends on
2 cores). Results: benchmarks/results/ingest_news.json.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=80, help="news articles (609: all)")
    ap.add_argument("--rounds", type=int, default=1, help="rebuilds per backend")
    ap.add_argument("--backends", default="onnx-int8,torch")
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
