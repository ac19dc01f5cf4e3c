"""Rebuild throughput with the openai embedding backend: 1, 2 and 4 requests in flight against
infinity-emb on 127.0.0.1 (the bundled all-MiniLM-L6-v2, torch fp32 on CPU), each against the
local torch backend's raw encode of the same chunks, measured in the same run.

    python benchmarks/embed_server.py [--articles 80] [--concurrency 1,2,4]

The server runs on the same machine (2 cores here), so this measures the backend's overhead
(HTTP, JSON, batching) and what concurrency buys on one host, not a scale-out: with N servers
on other hosts the rebuild's own share is the chunking and writing (benchmarks/ingest_news.py).
The server's venv is the tests' (tests/embed_server.py: made on first use).
Results: benchmarks/results/embed_server.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest_news import NEWS, chunk_texts, news_subset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--articles", type=int, default=80, help="news articles (609: all)")
    ap.add_argument("--concurrency", default="1,2,4")
    args = ap.parse_args()
    if not NEWS.is_file():
        raise SystemExit(f"no news set at {NEWS}")

    from qa import Settings, rebuild
    from qa.models.embed import Embedder, resolve_model_path
    from tests.embed_server import SERVED_NAME, VENV, EmbedServer, install

    why = install(VENV)
    if why:
        raise SystemExit(f"infinity-emb could not be installed in {VENV}: {why}")
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                            f"Python {platform.python_version()}",
                 "measured": time.strftime("%Y-%m-%d %H:%M"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        corpus = tmp_path / "corpus"
        out["articles"] = news_subset(corpus, args.articles)
        local = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embed_backend="torch")
        torch = Embedder.from_settings(local)
        texts = chunk_texts(local, torch)
        torch.encode(texts[:64])
        t = time.perf_counter()
        torch.encode(texts)
        t_local = time.perf_counter() - t
        out["chunks"] = len(texts)
        out["local_torch_raw_encode_chunks_per_s"] = round(len(texts) / t_local, 1)
        del torch

        server = EmbedServer(VENV, resolve_model_path(None), tmp_path / "server.log")
        server.start()
        try:
            for n in [int(x) for x in args.concurrency.split(",")]:
                s = local.model_copy(update={
                    "embed_backend": "openai", "embed_model": SERVED_NAME,
                    "embed_base_url": server.base_url, "embed_concurrency": n,
                    "index_dir": tmp_path / f"index-{n}"})
                embedder = Embedder.from_settings(s)
                embedder.encode(texts[:64])  # connections and the server's warm-up
                t = time.perf_counter()
                summary = rebuild(s, full=True, embedder=embedder)
                took = time.perf_counter() - t
                shutil.rmtree(s.index_dir, ignore_errors=True)
                row = {"concurrency": n, "seconds": round(took, 1),
                       "rebuild_chunks_per_s": round(summary.chunks / took, 1),
                       "vs_local_torch_raw_encode": round(t_local / took, 3)}
                out["rows"].append(row)
                print(json.dumps(row), flush=True)
        finally:
            server.stop()
    base = out["rows"][0]["seconds"]
    for row in out["rows"]:
        row["vs_concurrency_1"] = round(base / row["seconds"], 3)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "embed_server.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
