"""The one-screen text of a `qa eval` report, and its per-question records file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.errors import QAError

ANSWER_KEYS = ("n", "recall_at_k", "evidence_recall_at_k", "answer_accuracy", "answer_f1",
               "citation_precision", "citation_recall", "refusal_rate_unanswerable",
               "false_refusal_rate", "latency_p50", "latency_p95")
RETRIEVAL_KEYS = ("n", "answerable", "recall_at_k", "recall_at_1", "mrr", "evidence_recall_at_k",
                  "latency_p50")
CLAIM_KEYS = ("n", "accuracy", "precision", "recall", "supported_share", "seconds_p50")


def report_lines(report: dict[str, Any], show: int = 8) -> list[str]:
    """The figures, one row per question type, then the first `show` failures."""
    if "precision" in report:  # a claims report (qa.claims)
        lines = [f"{k:<27} {report[k]}" for k in CLAIM_KEYS]
        wrong = [c for c in report["items"] if c["verdict"] != c["supported"]]
        lines += [f"- {'accepted' if c['verdict'] else 'rejected'} {c['answer'][:80]!r} "
                  f"(labelled {'supported' if c['supported'] else 'unsupported'})"
                  for c in wrong[:show]]
        return lines
    retrieval_only = "mrr" in report
    keys = RETRIEVAL_KEYS if retrieval_only else ANSWER_KEYS
    lines = [f"{k:<27} {report[k]}" for k in keys]
    lines += by_type_lines(report["by_type"])
    if retrieval_only:
        missed = [q for q in report["questions"] if q["answerable"] and not q["recall_hit"]]
        return lines + [f"- missed: {q['question']}  (gold {q['gold_articles'][:2]})"
                        for q in missed[:show]]
    bad = [q for q in report["questions"]
           if (q["answerable"] and not q["correct"]) or (not q["answerable"] and not q["refused"])]
    if bad:
        lines.append(f"\nFailures ({len(bad)}; first {min(show, len(bad))}):")
    for q in bad[:show]:
        lines.append(f"- {q['question']}\n    gold: {q['answers'][:2]}  "
                     f"got: {q['answer'][:160]!r}")
    return lines


def by_type_lines(by_type: dict[str, dict[str, Any]]) -> list[str]:
    """One line per question type: its figures, in a fixed column order."""
    if not by_type:
        return []
    cols = sorted({k for row in by_type.values() for k in row} - {"n"})
    lines = ["\n" + f"{'type':<20} {'n':>4} " + " ".join(f"{c:>21}" for c in cols)]
    for t, row in by_type.items():
        cells = " ".join(f"{row[c]:>21}" if c in row else f"{'-':>21}" for c in cols)
        lines.append(f"{t:<20} {row['n']:>4} {cells}")
    return lines


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """One JSON line per question (or claim)."""
    try:
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise QAError(f"Cannot write the records file {path}: {exc.strerror or exc}. "
                      "Choose a writable path for --records.") from exc
