"""Prompt-injection rate: hostile articles (eval/injection.json) beside the seed and 30 dev
articles; the same questions asked with a naive prompt, with qa's prompt, and through qa's
verification. Writes benchmarks/results/injection.json.

    python benchmarks/injection.py [--model qwen-0.5b|qwen-1.5b]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def extra_articles() -> list[dict]:
    seed = (ROOT / "corpus" / "russia-pushes-for-peace-talks.txt").read_text()
    dev = ROOT.parent / "shared" / "eval" / "dev" / "articles.jsonl"
    rows = [json.loads(line) for line in dev.read_text().splitlines() if line][:30]
    return [{"id": "seed", "title": seed.splitlines()[0], "text": seed}, *rows]


def main() -> None:
    from qa.config import Settings
    from qa.injection import run_injection

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen-0.5b")
    args = ap.parse_args()
    settings = Settings(llm_model=args.model, model_cache_dir=ROOT / "indexes" / "models")
    out = run_injection(ROOT / "eval" / "injection.json", extra_articles(), settings)
    print(f"{'variant':<10} hijacked (of {out['questions']} questions)")
    for k, v in out["rates"].items():
        print(f"{k:<10} {v:.3f}")
    print(f"hostile passage retrieved for {out['retrieved_hostile']} questions; "
          f"{out['refused']} verified answers refused")
    for r in out["rows"]:
        flags = "".join(k[0].upper() if v else "." for k, v in r["hijacked"].items())
        print(f"  [{flags}] {r['about']:<7} {r['question'][:60]:<60} -> {r['answer'][:70]!r}")
        print(f"            naive: {r['naive'][:90]!r}\n            model: {r['prompted'][:90]!r}")
    (HERE / "results").mkdir(exist_ok=True)
    out["model"] = args.model
    (HERE / "results" / f"injection-{args.model}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
