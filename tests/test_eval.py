"""`qa eval` scoring: verdict words, whole-word matches, stratified samples, per-type figures."""

from __future__ import annotations

import json

import pytest

from qa.eval import is_correct, run_eval, sample_questions, verdict
from qa.models import ScriptedLLM

from .helpers import qa

ARTICLES = [
    {"id": "harbour", "title": "Harbour pilots strike", "source": "Coast Courier",
     "date": "2024-03-02", "text": "Harbour pilots in Velmora walked out on Friday over pay. "
     "The port authority said the tugboat Marlin Grey guided the last ferry in before dawn."},
    {"id": "orchard", "title": "Orchard cooperative expands", "source": "Valley Ledger",
     "date": "2024-03-05", "text": "The Dunmore orchard cooperative bought two cider presses. "
     "Its chair, Ilse Varga, said the presses came from a workshop in Brenlow."},
]
QUESTIONS = [
    {"id": "q1", "question": "Which tugboat guided the last ferry into Velmora?",
     "answers": ["Marlin Grey"], "gold_articles": ["harbour"], "type": "entity"},
    {"id": "q2", "question": "Did the Dunmore orchard cooperative buy cider presses?",
     "answers": ["Yes"], "gold_articles": ["orchard"], "type": "yesno"},
    {"id": "q3", "question": "How much did the Velmora pilots ask for in the pay talks?",
     "answers": [], "gold_articles": [], "answerable": False, "type": "null"},
]


@pytest.mark.parametrize(("answer", "golds", "right"), [
    ("Yes. The cooperative bought two presses [1].", ["Yes"], True),
    ("No, they did not [1].", ["Yes"], False),
    ("The cooperative bought presses [1].", ["Yes"], False),  # no verdict word
    ("Yes. The cooperative bought two presses [1].", ["True"], True),
    ("No. The cooperative bought no presses [1].", ["True"], False),
    ("The reports are inconsistent.", ["consistent"], False),
    ("The reports are consistent.", ["consistent"], True),
    ("The tugboat Marlin Grey [1].", ["Marlin Grey"], True),
    ("Marlinspike [1].", ["Marlin"], False),
    ("Marlin Grey's crew guided the ferry [1].", ["Marlin Grey"], True),  # possessive
    ("Marlin Grey’s crew guided the ferry [1].", ["Marlin Grey"], True),
    ("Marlin Greys guided the ferry [1].", ["Marlin Grey"], False),
    # a choice is scored by itself, not by the evidence quoted after it
    ("Inconsistent. The Ledger called the talks consistent [1].", ["Consistent"], False),
    ("Consistent. The Ledger called the talks consistent [1].", ["Consistent"], True),
    ("Mr. Grey guided the ferry [1].", ["Grey"], True),  # an abbreviation is not a choice
])
def test_answers_are_scored_by_verdict_or_whole_words(answer, golds, right) -> None:
    assert is_correct(answer, golds) is right


def test_verdict_is_the_first_yes_or_no_word() -> None:
    assert verdict("No. Yes, later.") == "no" and verdict("Nothing here.") == ""


def test_stratified_sample_is_fixed_and_balanced() -> None:
    qs = [{"id": str(i), "type": "big" if i < 90 else "small"} for i in range(100)]
    a, b = sample_questions(qs, 20, seed=3), sample_questions(qs, 20, seed=3)
    assert a == b and len(a) == 20
    assert sum(q["type"] == "small" for q in a) == 10  # equal shares while both types last
    assert sample_questions(qs, 20, seed=4) != a
    assert [q["id"] for q in a] == sorted((q["id"] for q in a), key=int)  # set order kept
    assert sample_questions(qs, 500) == qs


def _write_set(directory) -> None:
    directory.mkdir()
    (directory / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    (directory / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))


def test_run_eval_reports_each_type(tmp_path, settings, embedder) -> None:
    _write_set(tmp_path / "set")

    def reply(messages) -> str:
        q = messages[-1]["content"].rsplit("like [1]: ", 1)[-1]  # the question, not sources
        if "tugboat" in q:
            return "The tugboat Marlin Grey guided the last ferry in [1]."
        if "cider" in q:
            return "Yes. The Dunmore orchard cooperative bought two cider presses [1]."
        return "NOT FOUND"

    report = run_eval(tmp_path / "set", settings, llm=ScriptedLLM(reply), embedder=embedder,
                      top_k=2)
    assert report["refusal_rate_unanswerable"] == 1.0
    by_type = report["by_type"]
    assert set(by_type) == {"entity", "yesno", "null"}
    assert by_type["entity"]["accuracy"] == 1.0 and by_type["null"]["refused_unanswerable"] == 1.0
    yesno = next(r for r in report["questions"] if r["id"] == "q2")
    # The verified text is what is scored: right exactly when its verdict word survived.
    assert by_type["yesno"]["accuracy"] == float(verdict(yesno["answer"]) == "yes")
    assert report["answer_accuracy"] == (1.0 + by_type["yesno"]["accuracy"]) / 2
    assert by_type["entity"]["evidence_recall_at_k"] == 1.0
    assert by_type["entity"]["citation_recall"] == 1.0
    null = next(r for r in report["questions"] if r["id"] == "q3")
    assert null["refused"] and null["reason"] == "the model declined"


def test_cli_writes_per_question_records(tmp_path) -> None:
    _write_set(tmp_path / "set")
    out = qa("eval", str(tmp_path / "set"), "--retrieval-only", "--sample", "2",
             "--records", str(tmp_path / "records.jsonl"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("retrieved" in r and "seconds" in r for r in rows)
    assert "evidence_recall_at_k" in out.stdout and "type" in out.stdout
    bad = qa("eval", str(tmp_path / "set"), "--retrieval-only",
             "--records", str(tmp_path / "no-such-dir" / "r.jsonl"), cwd=tmp_path)
    assert bad.returncode == 1 and "--records" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_scores_the_verifier_on_labelled_claims(tmp_path) -> None:
    passage = "The Lindqvist bridge over the Vesle river opened in 1931 and carries two tram lines."
    rows = [
        {"passage": passage, "question": "When did the Lindqvist bridge open?",
         "answer": "1931", "supported": True},
        {"passage": passage, "question": "When did the Lindqvist bridge open?",
         "answer": "It opened in 1913", "supported": False},
        {"passage": passage, "question": "How many tram lines cross the Lindqvist bridge?",
         "answer": "two tram lines", "supported": True},
        {"passage": passage, "question": "Which river does the Lindqvist bridge cross?",
         "answer": "the Marne", "supported": False},
    ]
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "claims.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # Lexical verification alone: the check of meaning (on by default) is tested with the
    # verdict model in test_news_e2e.
    out = qa("eval", str(tmp_path / "claims"), "--claims", "--json", "--meaning-threshold", "0",
             cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["n"], report["accuracy"], report["precision"], report["recall"]) == (4, 1, 1, 1)
    bad = qa("eval", str(tmp_path), "--claims", cwd=tmp_path)
    assert bad.returncode != 0 and "claims.jsonl" in bad.stderr and "Traceback" not in bad.stderr


def test_the_check_of_meaning_decides_what_lexical_verification_cannot() -> None:
    from qa.claims import check_claim

    passage = "The Lindqvist bridge over the Vesle river opened in 1931 and carries two tram lines."
    asked: list[tuple[str, str]] = []

    def meaning(p_yes: float):
        def check(question, answer, citations) -> float:
            assert citations and citations[0].passage == passage
            asked.append((question, answer))
            return p_yes
        return check

    right = {"passage": passage, "question": "When did the Lindqvist bridge open?",
             "answer": "1931", "supported": True}
    assert check_claim(dict(right), meaning(0.9)) and asked[-1][1].startswith("1931")
    assert not check_claim(dict(right), meaning(0.2))  # the words are there, the meaning not
    wrong = dict(right, answer="1913")
    assert not check_claim(wrong, meaning(0.9))  # lexical verification refuses it first
    assert asked[-1][1].startswith("1931")  # ... without asking the model
    bare = {"passage": passage, "question": "Does the Lindqvist bridge carry trams?",
            "answer": "Yes", "supported": True}
    assert not check_claim(dict(bare))  # no words to check lexically
    item = dict(bare)
    assert check_claim(item, meaning(0.7)) and item["meaning"] == 0.7
    assert not check_claim(dict(bare), meaning(0.7), threshold=0.8)
