"""`qa eval --claims`: the verifier alone, on answers labelled supported or not by a passage."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from qa.answer import verify
from qa.errors import CorpusError
from qa.records import Passage

CLAIMS = "claims.jsonl"


def load_claims(path: Path) -> list[dict[str, Any]]:
    """Items `{"passage", "question", "answer", "supported"}` from a folder's claims.jsonl or a
    .jsonl file."""
    path = Path(path)
    if path.is_dir():
        path = path / CLAIMS
    if not path.is_file():
        raise CorpusError(f"No claims file at {path}: give a folder holding {CLAIMS} or a .jsonl "
                          "file of {passage, question, answer, supported} records.")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append({"id": str(row.get("id", n)), "passage": str(row["passage"]),
                          "question": str(row["question"]), "answer": str(row["answer"]),
                          "supported": bool(row["supported"])})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorpusError(f"{path}:{n} is not a claim record ({exc}).") from exc
    return items


def check_claim(item: dict[str, Any]) -> bool:
    """Whether verification accepts the answer, cited to its passage, as an answer to the
    question (the same check every answer of `qa ask` goes through)."""
    text = item["passage"]
    passage = Passage(chunk_id="claim", article_id="claim", title="", text=text, start=0,
                      end=len(text))
    answer = item["answer"].strip().rstrip(".")
    v = verify(item["question"], f"{answer} [1].", [passage])
    return not v.refused


def run_claims(path: Path, sample: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Accuracy, precision and recall of "supported" over the claims (or a fixed sample)."""
    import random

    items = load_claims(path)
    if sample and sample < len(items):
        items = random.Random(seed).sample(items, sample)
    seconds = []
    for item in items:
        t0 = time.perf_counter()
        item["verdict"] = check_claim(item)
        seconds.append(time.perf_counter() - t0)
    tp = sum(1 for c in items if c["verdict"] and c["supported"])
    accepted = sum(1 for c in items if c["verdict"])
    positive = sum(1 for c in items if c["supported"])
    correct = sum(1 for c in items if c["verdict"] == c["supported"])

    def rate(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    seconds.sort()
    return {"n": len(items), "accuracy": rate(correct, len(items)), "precision": rate(tp, accepted),
            "recall": rate(tp, positive), "supported_share": rate(accepted, len(items)),
            "seconds_p50": round(seconds[len(seconds) // 2], 5) if seconds else 0.0,
            "items": items}
