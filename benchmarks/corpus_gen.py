"""Deterministic benchmark corpora recombined from real article text (the dev set and corpus/)."""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_ARTICLES = ROOT.parent / "shared" / "eval" / "dev" / "articles.jsonl"


def paragraphs() -> list[str]:
    paras: list[str] = []
    if DEV_ARTICLES.is_file():
        for line in DEV_ARTICLES.read_text().splitlines():
            if line.strip():
                paras += [p for p in json.loads(line)["text"].split("\n\n") if len(p) > 40]
    for f in sorted((ROOT / "corpus").rglob("*.txt")):
        paras += [p for p in f.read_text().split("\n\n") if len(p) > 40]
    if not paras:
        raise SystemExit("no source text: need ../shared/eval/dev/articles.jsonl or corpus/*.txt")
    return paras


def write_corpus(dest: Path, n: int, seed: int = 7) -> int:
    """Write n articles as .txt files in sub-folders of 500; returns total bytes."""
    rng = random.Random(seed)
    paras = paragraphs()
    total = 0
    for i in range(n):
        body = rng.sample(paras, rng.randint(2, 5))
        title = f"Article {i}: " + body[0].split(".")[0][:80]
        text = title + "\n\n" + "\n\n".join(body) + "\n"
        path = dest / f"part{i // 500:03d}" / f"article-{i:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        total += len(text)
    return total


def edit_one(dest: Path, i: int = 0) -> None:
    path = dest / f"part{i // 500:03d}" / f"article-{i:06d}.txt"
    path.write_text(path.read_text() + "\nA correction was appended to this article.\n")
