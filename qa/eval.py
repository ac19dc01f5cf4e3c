"""`qa eval`: answer a QA set over its own temporary index; score retrieval, answers, refusals."""

from __future__ import annotations

import json
import re
import shutil
import string
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.answer import strip_markers
from qa.config import Settings
from qa.errors import CorpusError, QAError
from qa.models import LLM, Embedder

ARTICLES = "articles.jsonl"
QUESTIONS = "questions.jsonl"


def normalize(text: str) -> str:
    """SQuAD's answer normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if not p or not g or same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


# A gold of "True" or "False" answers a yes/no question too.
_AS_VERDICT = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}
MAX_CHOICE_WORDS = 4
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr gen sen rep gov inc co corp ltd vs no u s "
                           "jan feb mar apr jun jul aug sep sept oct nov dec".split())


def verdict(text: str) -> str:
    """The first yes/no word of an answer ("" when it has none)."""
    m = re.search(r"\b(yes|no)\b", text.lower())
    return m.group(1) if m else ""


def is_correct(prediction: str, golds: list[str]) -> bool:
    """A yes/no (or true/false) gold is matched by the answer's first verdict word; other golds
    by whole-word match of the normalized gold or token F1 >= 0.5 ("consistent" never matches
    inside "inconsistent"; a possessive "'s" is not part of the name)."""
    if golds and all(normalize(g) in _AS_VERDICT for g in golds):
        return verdict(prediction) in {_AS_VERDICT[normalize(g)] for g in golds}
    # An answer that opens with a choice ("Inconsistent. The Herald says ... consistent ...")
    # is scored by that choice alone: the quoted evidence may hold the other word.
    opening = re.match(r"\s*([^.!?\[\]]{1,40}?)\s*[.!]\s", prediction)
    if (opening and len(opening.group(1).split()) <= MAX_CHOICE_WORDS
            and opening.group(1).split()[-1].lower() not in _ABBREVIATIONS):
        prediction = opening.group(1)
    # A possessive names its owner: "Google's model" answers "Google".
    norm = normalize(re.sub(r"['\u2019]s\b", "", prediction))
    return any(
        (normalize(g) and re.search(rf"\b{re.escape(normalize(g))}\b", norm))
        or token_f1(prediction, g) >= 0.5
        for g in golds
    )


def load_questions(directory: Path, path: Path | None = None) -> list[dict[str, Any]]:
    path = path or directory / QUESTIONS
    if not (directory / ARTICLES).is_file() or not path.is_file():
        raise CorpusError(f"{directory} must hold {ARTICLES} and {QUESTIONS} "
                          "(see ../shared/eval/dev/README.md for the format).")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            rows.append({"id": q.get("id", str(n)), "question": q["question"],
                         "answers": list(q.get("answers") or []),
                         "gold_articles": list(q.get("gold_articles") or []),
                         "answerable": bool(q.get("answerable", bool(q.get("answers")))),
                         "source": q.get("source", ""), "type": str(q.get("type") or "")})
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path}:{n} is not a valid question record ({exc}).") from exc
    return rows


def sample_questions(questions: list[dict[str, Any]], n: int,
                     seed: int = 0) -> list[dict[str, Any]]:
    """A fixed-seed sample of n questions stratified by `type`: each type gets an equal share
    (as far as it has questions), the rest filled from the larger types; set order kept."""
    import random

    if n >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    by_type: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        by_type.setdefault(q.get("type", ""), []).append(i)
    for ids in by_type.values():
        rng.shuffle(ids)
    chosen: list[int] = []
    types = sorted(by_type)
    while len(chosen) < n:
        for t in types:
            if by_type[t] and len(chosen) < n:
                chosen.append(by_type[t].pop())
    return [questions[i] for i in sorted(chosen)]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def run_eval(
    directory: Path,
    settings: Settings,
    top_k: int | None = None,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
    questions_file: Path | None = None,
    select: Callable[[dict[str, Any]], bool] | None = None,
    retrieval_only: bool = False,
    sample: int | None = None,
    seed: int = 0,
    index_dir: Path | None = None,
) -> dict[str, Any]:
    """Index DIR/articles.jsonl into a temporary index (never the user's) and ask every question
    (of DIR/questions.jsonl, or `questions_file`; only those `select` keeps).

    retrieval_only: score retrieval alone (recall@k, MRR) without loading the language model.
    sample: a stratified sample of that many questions (`sample_questions`, fixed `seed`).
    index_dir: keep the set's index there and update it incrementally on the next run (an
    unchanged set is not embedded again), instead of a temporary index.
    """
    from qa.engine import Engine

    directory = Path(directory)
    questions = [q for q in load_questions(directory, questions_file) if not select or select(q)]
    if sample:
        questions = sample_questions(questions, sample, seed)
    k = top_k or settings.top_k
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        home = Path(index_dir) if index_dir else Path(tmp)
        corpus = home / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        _copy_if_changed(directory / ARTICLES, corpus / ARTICLES)
        eval_settings = settings.model_copy(update={
            "corpus_dir": corpus, "index_dir": home / "index", "chroma_url": None,
            "collection": "qa_eval", "model_cache_dir": settings.models_dir, "top_k": k,
        })
        engine = Engine(eval_settings, llm=llm, embedder=embedder)
        engine.rebuild()
        records = []
        for i, q in enumerate(questions):
            one = _retrieve_one if retrieval_only else _ask_one
            records.append(one(engine, q, k))
            if progress:
                progress(i + 1, len(questions))
    return summarize_retrieval(records) if retrieval_only else summarize(records)


def _copy_if_changed(src: Path, dst: Path) -> None:
    """Copy unless `dst` holds the same bytes (a copy would make the rebuild read it again)."""
    if dst.is_file() and dst.stat().st_size == src.stat().st_size \
            and dst.read_bytes() == src.read_bytes():
        return
    shutil.copy(src, dst)


def _record_id(article_id: str) -> str:
    return article_id.split("#", 1)[1] if "#" in article_id else article_id


def _ask_one(engine: Any, q: dict[str, Any], k: int) -> dict[str, Any]:
    try:
        a = engine.ask(q["question"], top_k=k)
    except QAError as exc:
        return {**q, "error": str(exc), "refused": True, "answer": "", "retrieved": [],
                "cited": [], "seconds": 0.0, "recall_hit": False, "evidence_recall": 0.0,
                "citation_recall": 0.0, "reason": "error", "correct": False, "f1": 0.0}
    retrieved = [_record_id(p.article_id) for p in a.passages]
    cited = [_record_id(c.article_id) for c in a.citations]
    text = strip_markers(a.text)
    gold = set(q["gold_articles"])
    return {
        **q,
        "answer": a.text,
        "refused": a.refused,
        "retrieved": retrieved,
        "cited": cited,
        "top_score": a.passages[0].score if a.passages else 0.0,
        "seconds": round(a.seconds, 3),
        "recall_hit": bool(gold & set(retrieved[:k])),
        "evidence_recall": _share(gold, retrieved[:k]),
        "citation_recall": _share(gold, cited),
        "reason": a.reason,
        "citations": [{"number": c.number, "article": _record_id(c.article_id),
                       "quote": c.quote} for c in a.citations],
        "correct": (not a.refused) and is_correct(text, q["answers"]),
        "f1": 0.0 if a.refused else max((token_f1(text, g) for g in q["answers"]), default=0.0),
    }


def _share(gold: set[str], found: list[str]) -> float:
    """Share of the gold articles among `found` (0 when there is no gold)."""
    return round(len(gold & set(found)) / len(gold), 4) if gold else 0.0


def _retrieve_one(engine: Any, q: dict[str, Any], k: int) -> dict[str, Any]:
    import time

    t0 = time.perf_counter()
    passages = engine.retrieve(q["question"], top_k=k)
    seconds = time.perf_counter() - t0
    retrieved = [_record_id(p.article_id) for p in passages]
    gold = set(q["gold_articles"])
    rank = next((i + 1 for i, a in enumerate(retrieved) if a in gold), 0)
    return {**q, "retrieved": retrieved, "gold_rank": rank, "recall_hit": rank > 0,
            "evidence_recall": _share(gold, retrieved),
            "top_score": passages[0].score if passages else 0.0, "seconds": round(seconds, 4)}


def summarize_retrieval(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Retrieval scores over the answerable questions (those with gold articles)."""
    ans = [r for r in records if r["answerable"] and r["gold_articles"]]
    n = len(ans)
    return {
        "n": len(records),
        "answerable": n,
        "recall_at_k": round(sum(r["recall_hit"] for r in ans) / n, 4) if n else 0.0,
        "recall_at_1": round(sum(r["gold_rank"] == 1 for r in ans) / n, 4) if n else 0.0,
        "mrr": round(sum(1 / r["gold_rank"] for r in ans if r["gold_rank"]) / n, 4) if n else 0.0,
        "evidence_recall_at_k": _mean([r["evidence_recall"] for r in ans]),
        "by_type": _by_type(records, _retrieval_row),
        "latency_p50": round(_pct([r["seconds"] for r in records], 0.5), 4),
        "questions": records,
    }


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _by_type(records: list[dict[str, Any]], row: Callable[[list[dict[str, Any]]], dict[str, Any]]
             ) -> dict[str, dict[str, Any]]:
    """`row` of each question type's records (empty when the set has no types)."""
    types = sorted({r.get("type", "") for r in records} - {""})
    return {t: row([r for r in records if r.get("type") == t]) for t in types}


def _retrieval_row(records: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in records if r["answerable"] and r["gold_articles"]]
    return {"n": len(records), "recall_at_k": _mean([float(r["recall_hit"]) for r in ans]),
            "evidence_recall_at_k": _mean([r["evidence_recall"] for r in ans])}


def _answer_row(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-type figures: accuracy over answerable questions, refusals, evidence and citations."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    row: dict[str, Any] = {"n": len(records)}
    if ans:
        row.update(
            accuracy=_mean([float(r["correct"]) for r in ans]),
            false_refusals=_mean([float(r["refused"]) for r in ans]),
            evidence_recall_at_k=_mean([r.get("evidence_recall", 0.0) for r in ans]),
            citation_recall=_mean([r.get("citation_recall", 0.0) for r in ans]),
        )
    if una:
        row["refused_unanswerable"] = _mean([float(r["refused"]) for r in una])
    return row


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    answered = [r for r in ans if not r["refused"]]
    cites = [c in set(r["gold_articles"]) for r in answered for c in r["cited"]]
    latencies = [r["seconds"] for r in records if not r.get("error")]

    def rate(hits: int, total: int) -> float:
        return round(hits / total, 4) if total else 0.0

    return {
        "n": len(records),
        "answerable": len(ans),
        "unanswerable": len(una),
        "recall_at_k": rate(sum(r["recall_hit"] for r in ans), len(ans)),
        "evidence_recall_at_k": _mean([r.get("evidence_recall", 0.0) for r in ans]),
        "citation_recall": _mean([r.get("citation_recall", 0.0) for r in ans]),
        "answer_accuracy": rate(sum(r["correct"] for r in ans), len(ans)),
        "answer_f1": round(sum(r["f1"] for r in ans) / len(ans), 4) if ans else 0.0,
        "citation_precision": rate(sum(cites), len(cites)),
        "refusal_rate_unanswerable": rate(sum(r["refused"] for r in una), len(una)),
        "false_refusal_rate": rate(sum(r["refused"] for r in ans), len(ans)),
        "latency_p50": round(_pct(latencies, 0.5), 3),
        "latency_p95": round(_pct(latencies, 0.95), 3),
        "errors": sum(1 for r in records if r.get("error")),
        "by_type": _by_type(records, _answer_row),
        "questions": records,
    }
