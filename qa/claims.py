"""`qa eval --claims`: the verifier alone, on answers labelled supported or not by a passage."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.answer import verify
from qa.answer.verify import split_verdict
from qa.errors import CorpusError
from qa.records import Citation, Passage

# The check of meaning (qa.answer.meaning.stated, bound to a model): P(the cited text gives this
# answer to this question).
MeaningCheck = Callable[[str, str, list[Citation]], float]

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


def check_claim(item: dict[str, Any], meaning: MeaningCheck | None = None,
                threshold: float = 0.5) -> bool:
    """Whether verification accepts the answer, cited to its passage, as an answer to the
    question (the same checks every answer of `qa ask` goes through).

    Lexical verification first; with `meaning`, an answer it accepts must also reach
    `threshold` in the check of meaning (its P(Yes) is kept in item["meaning"]). A bare "Yes"
    or "No" has no words to check lexically: only the check of meaning can accept it."""
    text = item["passage"]
    passage = Passage(chunk_id="claim", article_id="claim", title="", text=text, start=0,
                      end=len(text))
    answer = item["answer"].strip().rstrip(".")
    word, rest = split_verdict(answer)
    if word and not rest.strip():
        if meaning is None:
            return False
        cited = [Citation(number=1, article_id="claim", title="", url="", date="",
                          source_path="", passage=text, quote=text, start=0, end=len(text),
                          score=0.0)]
        item["meaning"] = round(meaning(item["question"], word, cited), 4)
        return item["meaning"] >= threshold
    v = verify(item["question"], f"{answer} [1].", [passage])
    if v.refused or meaning is None:
        return not v.refused
    item["meaning"] = round(meaning(item["question"], v.text, v.citations), 4)
    return item["meaning"] >= threshold


def run_claims(path: Path, sample: int | None = None, seed: int = 0,
               meaning: MeaningCheck | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Accuracy, precision and recall of "supported" over the claims (or a fixed sample), by
    lexical verification alone or, with `meaning`, also by the check of meaning."""
    import random

    items = load_claims(path)
    if sample and sample < len(items):
        items = random.Random(seed).sample(items, sample)
    seconds = []
    for item in items:
        t0 = time.perf_counter()
        item["verdict"] = check_claim(item, meaning, threshold)
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
