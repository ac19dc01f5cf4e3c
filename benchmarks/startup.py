"""Cold start and serving memory.

- cold start: a new `qa ask` process, from start to the printed answer (median of 3);
- serving: `qa serve` with the model loaded, peak RSS while answering questions through the UI's
  API (gradio_client), sampled every 50 ms.

    python benchmarks/startup.py

Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
QUESTION = "Who did Russia invite to Moscow?"


def main() -> None:
    import psutil
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        index = Path(tmp) / "index"
        env = {**os.environ, "QA_MODEL_CACHE_DIR": str(ROOT / "indexes" / "models")}
        base = [sys.executable, "-m", "qa"]
        subprocess.run([*base, "rebuild", "--corpus", str(corpus), "--index", str(index)],
                       env=env, check=True, capture_output=True)
        cold = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = subprocess.run([*base, "ask", QUESTION, "--corpus", str(corpus), "--index",
                                str(index)], env=env, capture_output=True, text=True)
            cold.append(time.perf_counter() - t0)
            assert r.returncode == 0 and "[1]" in r.stdout, r.stderr
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = (Path(tmp) / "serve.log").open("w")
        proc = subprocess.Popen([*base, "serve", "--corpus", str(corpus), "--index", str(index),
                                 "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            ps = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], ps.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        t0 = time.perf_counter()
        while "qa is serving" not in (Path(tmp) / "serve.log").read_text():
            time.sleep(0.2)
        ready = time.perf_counter() - t0
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for q in (QUESTION, "Who will Sergei Lavrov meet in Moscow?", "What is the capital of "
                  "France?", QUESTION):
            client.predict(q, api_name="/ask")
        stop.set()
        proc.terminate()
        proc.wait(30)
    result = {
        "cold_start_qa_ask_median_s": round(statistics.median(cold), 2),
        "cold_start_runs_s": [round(c, 2) for c in cold],
        "serve_ready_s": round(ready, 2),
        "serve_peak_rss_mb": round(peak[0] / 2**20),
        "targets": {"cold start": "<= 12 s", "serving peak RSS": "<= 2048 MB"},
    }
    print(json.dumps(result, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
