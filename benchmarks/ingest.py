"""Ingestion benchmark: full / no-change / one-change rebuilds vs raw SentenceTransformer.encode,
and the onnx-int8 embedding backend against torch fp32 on the same chunks.

    python benchmarks/ingest.py [--articles 1000] [--speed-articles 300] [--rounds 3]
        [--queries 300]
                                [--memory-articles 20000]

- ingest: `qa rebuild --full` (torch) ÷ raw `SentenceTransformer.encode` of exactly the chunks
  the rebuild makes: three rebuilds and four raw encodes, alternating, compared by their means.
- ingest-int8: that same raw fp32 encode ÷ the int8 ONNX encoder on the same chunks.
- int8 quality: `qa eval --retrieval-only` recall@5 on ../shared/eval/dev with each backend (the
  target: within 0.01), plus a harder dense-only probe on the speed corpus: a sentence from the
  middle of a random chunk is the query, and a hit is a top-5 chunk containing it.
- no-change / one-change: against a full rebuild with the default backend.

Every speed figure is a ratio against a baseline measured in this same run. Results are written
to benchmarks/results/ingest.json and benchmarks/results/embed_int8.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from corpus_gen import DEV_ARTICLES, edit_one, write_corpus  # noqa: E402


def _rebuild_process(corpus: Path, index: Path) -> tuple[dict, list[tuple[float, float]]]:
    """Run `qa rebuild --json` in a child, sampling its RSS; returns (summary, [(s, MB)])."""
    import psutil

    cmd = [sys.executable, "-m", "qa", "rebuild", "--corpus", str(corpus), "--index", str(index),
           "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        try:
            samples.append((time.perf_counter() - t0, ps.memory_info().rss / 2**20))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"rebuild failed: {err}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    samples.append((time.perf_counter() - t0, peak))
    return json.loads(out), samples


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


def _int8_quality(texts: list[str], v32: Any, v8: Any, fp32: Any, int8: Any,
                  queries: int) -> dict:
    """Vector drift, the dense-only probe, and dev-set retrieval recall for both backends."""
    import numpy as np

    from qa import Settings
    from qa.eval import run_eval

    cos = (v32 * v8).sum(axis=1)
    probe = _probe(texts, queries)
    q32 = fp32.encode([q for q, _ in probe])
    q8 = int8.encode([q for q, _ in probe])
    out: dict = {
        "vectors": {
            "cosine_to_fp32_mean": round(float(cos.mean()), 4),
            "cosine_to_fp32_p1": round(float(np.percentile(cos, 1)), 4),
            "cosine_to_fp32_min": round(float(cos.min()), 4),
        },
        "probe": {
            "queries": len(probe),
            "recall_at_5_fp32": _recall5(q32, v32, texts, probe),
            "recall_at_5_int8": _recall5(q8, v8, texts, probe),
            "recall_at_5_int8_queries_on_fp32_index": _recall5(q8, v32, texts, probe),
        },
    }
    dev = DEV_ARTICLES.parent
    if dev.is_dir():
        evals = {}
        for backend, embedder in (("torch", fp32), ("onnx-int8", int8)):
            r = run_eval(dev, Settings(embed_backend=backend), embedder=embedder,
                         retrieval_only=True)
            evals[backend] = {k: r[k] for k in ("answerable", "recall_at_k", "recall_at_1", "mrr")}
        out["dev_eval"] = {
            **evals,
            "recall_at_5_diff": round(evals["onnx-int8"]["recall_at_k"]
                                      - evals["torch"]["recall_at_k"], 4),
            "target": "|diff| <= 0.01",
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=1000,
                    help="corpus size for the default full, no-change and one-change rebuilds")
    ap.add_argument("--speed-articles", type=int, default=300,
                    help="corpus size for the torch and int8 speed ratios")
    ap.add_argument("--rounds", type=int, default=5,
                    help="full torch rebuilds, each after a raw encode (one more raw encode ends)")
    ap.add_argument("--queries", type=int, default=300, help="dense-only probe queries")
    ap.add_argument("--memory-articles", type=int, default=20000,
                    help="corpus size for the peak-RSS run (0 skips it)")
    args = ap.parse_args()

    from qa import Settings, rebuild
    from qa.chunking import Chunker
    from qa.corpus import read_corpus
    from qa.models.embed import Embedder
    from qa.records import Article

    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                f"Python {platform.python_version()}"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        corpus = tmp_path / "corpus"
        write_corpus(corpus, args.articles)
        # The speed ratios use the first `--speed-articles` articles of the same generator: long
        # enough runs for a stable ratio, short enough for `make bench` to fit in 15 minutes.
        speed_corpus = tmp_path / "speed-corpus"
        write_corpus(speed_corpus, args.speed_articles)
        # The pipeline's efficiency is measured like for like: `qa rebuild --full` with the torch
        # backend against raw SentenceTransformer.encode (torch) of the same chunks.
        settings = Settings(corpus_dir=speed_corpus, index_dir=tmp_path / "index-torch",
                            embed_backend="torch")
        embedder = Embedder.from_settings(settings)
        # Load the model and import the index's libraries once, outside every timing: they are
        # start-up costs (see the cold-start benchmark), not ingestion throughput.
        embedder.model  # noqa: B018
        import bm25s  # noqa: F401
        import chromadb  # noqa: F401
        import llama_index.vector_stores.chroma  # noqa: F401
        from llama_index.core.node_parser import SentenceSplitter  # noqa: F401

        # The baseline: raw SentenceTransformer.encode of exactly the chunks the rebuild makes.
        chunker = Chunker(embedder.tokenizer, embedder.max_tokens, settings.chunk_size,
                          settings.chunk_overlap)
        texts = [c.text for a in read_corpus(speed_corpus) if isinstance(a, Article)
                 for c in chunker.split(a)]

        def raw_encode() -> tuple[float, Any]:
            t = time.perf_counter()
            vectors = embedder.model.encode(texts, batch_size=embedder.batch_size,
                                            normalize_embeddings=True, show_progress_bar=False)
            return time.perf_counter() - t, vectors

        embedder.model.encode(texts[:64], batch_size=embedder.batch_size)  # warm up
        # Raw encodes and full rebuilds alternate, raw first and last: single runs on this
        # shared machine vary by ~10%, and the mean of several alternating ones cancels drift.
        raw_runs, rebuild_runs = [], []
        for i in range(args.rounds):
            took, v32 = raw_encode()
            raw_runs.append(took)
            # Each into a new index, like the raw encode (a rebuild over an existing index also
            # retires the old generation's records).
            fresh = settings.model_copy(update={"index_dir": tmp_path / f"index-torch-{i}"})
            t = time.perf_counter()
            full = rebuild(fresh, full=True, embedder=embedder)
            rebuild_runs.append(time.perf_counter() - t)
            assert len(texts) == full.chunks, (len(texts), full.chunks)
        raw_runs.append(raw_encode()[0])
        t_raw = statistics.mean(raw_runs)
        t_full = statistics.mean(rebuild_runs)

        # The default backend (onnx-int8) on the same chunks, after the fp32 runs (so that its
        # session and threads do not exist during them). It is exported on first use (cached
        # afterwards), which is not throughput, so that happens outside the timing.
        dflt_settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                                 embed_backend="onnx-int8")
        dflt = Embedder.from_settings(dflt_settings)
        t = time.perf_counter()
        dflt.encode(texts[:8])
        export_s = time.perf_counter() - t
        dflt.encode(texts[:64])  # warm up
        int8_runs = []
        for _ in range(2):
            t = time.perf_counter()
            v8 = dflt.encode(texts)
            int8_runs.append(time.perf_counter() - t)
        t_int8 = statistics.mean(int8_runs)

        # No-change and one-change rebuilds against a full rebuild with the default settings
        # (the onnx-int8 backend), the full rebuild a user actually waits for.
        t = time.perf_counter()
        dflt_full = rebuild(dflt_settings, full=True, embedder=dflt)
        t_full_default = time.perf_counter() - t

        # Each small rebuild takes about a second, where a pause of the machine weighs a lot:
        # the median of three runs (a different article edited each time).
        nochange_runs, one_runs = [], []
        for i in range(3):
            t = time.perf_counter()
            nochange = rebuild(dflt_settings, embedder=dflt)
            nochange_runs.append(time.perf_counter() - t)
            assert nochange.embedded == 0
            edit_one(corpus, i * 7)
            t = time.perf_counter()
            one = rebuild(dflt_settings, embedder=dflt)
            one_runs.append(time.perf_counter() - t)
            assert one.updated == 1
        t_nochange, t_one = statistics.median(nochange_runs), statistics.median(one_runs)

        results["ingest"] = {
            "articles": args.speed_articles,
            "chunks": full.chunks,
            "full_rebuild_s": round(t_full, 2),
            "raw_encode_s": round(t_raw, 2),
            "raw_encode_runs_s": [round(x, 2) for x in raw_runs],
            "rebuild_runs_s": [round(x, 2) for x in rebuild_runs],
            "rebuild_chunks_per_s": round(full.chunks / t_full, 1),
            "raw_encode_chunks_per_s": round(len(texts) / t_raw, 1),
            "ratio": round(t_raw / t_full, 3),
            "target": ">= 0.90",
            "backend": "torch",
        }
        rate_default = dflt_full.chunks / t_full_default
        results["full_default"] = {
            "backend": dflt.backend,
            "articles": args.articles,
            "chunks": dflt_full.chunks,
            "seconds": round(t_full_default, 2),
            "chunks_per_s": round(rate_default, 1),
            "vs_raw_torch_encode": round(rate_default / (len(texts) / t_raw), 3),
        }
        results["no_change"] = {"seconds": round(t_nochange, 3),
                                "runs_s": [round(x, 3) for x in nochange_runs],
                                "ratio": round(t_nochange / t_full_default, 4),
                                "target": "<= 0.02"}
        results["one_change"] = {"seconds": round(t_one, 3),
                                 "runs_s": [round(x, 3) for x in one_runs],
                                 "ratio": round(t_one / t_full_default, 4), "target": "<= 0.02"}
        int8_results = {
            "speed": {
                "articles": args.speed_articles,
                "chunks": len(texts),
                "backend": dflt.backend,
                "torch_fp32_chunks_per_s": round(len(texts) / t_raw, 1),
                "onnx_int8_chunks_per_s": round(len(texts) / t_int8, 1),
                "onnx_int8_runs_s": [round(x, 2) for x in int8_runs],
                "ratio": round(t_raw / t_int8, 3),
                "target": ">= 1.8",
                "first_use_export_s": round(export_s, 1),
            },
            **_int8_quality(texts, v32, v8, embedder, dflt, args.queries),
        }

    if args.memory_articles:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            corpus = tmp_path / "corpus"
            write_corpus(corpus, args.memory_articles)
            t = time.perf_counter()
            summary, samples = _rebuild_process(corpus, tmp_path / "index")
            end = samples[-1][0]
            # Memory must not grow with the corpus: compare the peaks of each half of the run.
            first = max((mb for s, mb in samples[:-1] if s < end / 2), default=0.0)
            second = max((mb for s, mb in samples[:-1] if s >= end / 2), default=0.0)
            from qa import Settings as _S

            results["memory_rebuild"] = {
                "measured": time.strftime("%Y-%m-%d"),
                "backend": _S().embed_backend_or_default,
                "articles": args.memory_articles,
                "chunks": summary["chunks"],
                "seconds": round(time.perf_counter() - t, 1),
                "peak_rss_mb": round(max(mb for _, mb in samples)),
                "peak_rss_first_half_mb": round(first),
                "peak_rss_second_half_mb": round(second),
                "target": "<= 2560 MB",
            }

    out = HERE / "results" / "ingest.json"
    out.parent.mkdir(exist_ok=True)
    (HERE / "results" / "embed_int8.json").write_text(json.dumps(int8_results, indent=2) + "\n")
    if "memory_rebuild" not in results and out.exists():
        # Keep the last 20,000-article measurement (it takes 10-18 min; `make bench-memory`).
        old = json.loads(out.read_text()).get("memory_rebuild")
        if old:
            results["memory_rebuild"] = {**old, "stored": True}
    out.write_text(json.dumps(results, indent=2) + "\n")
    _table(results)


def _table(r: dict) -> None:
    print(f"machine: {r['machine']}")
    i = r["ingest"]
    rows = [
        ("ingest", (f"{i['rebuild_chunks_per_s']} vs raw {i['raw_encode_chunks_per_s']} chunks/s "
                   f"({i['chunks']} chunks)"), i["ratio"], i["target"]),
        ("no-change", (f"{r['no_change']['seconds']} s vs full "
                       f"{r['full_default']['seconds']} s ({r['full_default']['backend']})"),
         r["no_change"]["ratio"], "<= 0.02"),
        ("one-change", (f"{r['one_change']['seconds']} s vs full "
                        f"{r['full_default']['seconds']} s ({r['full_default']['backend']})"),
         r["one_change"]["ratio"], "<= 0.02"),
    ]
    if "memory_rebuild" in r:
        m = r["memory_rebuild"]
        rows.append(("memory (rebuild)", (("stored result: " if m.get("stored") else "")
                     + f"{m['articles']} articles, {m['chunks']} chunks, "
                     f"{m['seconds']} s; peak RSS 1st half {m['peak_rss_first_half_mb']} MB, "
                     f"2nd half {m['peak_rss_second_half_mb']} MB"), f"{m['peak_rss_mb']} MB",
                     m["target"]))
    print(f"{'benchmark':<18} {'figure':>10}  {'target':<10} detail")
    for name, detail, figure, target in rows:
        print(f"{name:<18} {figure!s:>10}  {target:<10} {detail}")


if __name__ == "__main__":
    main()
