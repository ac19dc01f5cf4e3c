"""Yes/no answers: the verdict from the model's choice, the quoted sentences after it."""

from __future__ import annotations

from qa.answer.verdict import (
    best_sentence,
    evidence_passages,
    offered,
    verdict_for,
    verdict_word,
    yes_no_reply,
)
from qa.models import ScriptedLLM, choose
from qa.models.base import choice_of
from qa.question import Analysis, Outlet
from qa.records import Passage


def _p(n: int, source: str, text: str, article: str = "") -> Passage:
    return Passage(chunk_id=f"c{n}", article_id=article or f"a{n}", title=f"T{n}", text=text,
                   start=0, end=len(text), source=source, date="2024-05-0" + str(n))


PASSAGES = [
    _p(1, "Harbour Post", "Ferries were late. The Harbour Post says the new pier opened on "
       "Monday after two years of work. Tickets cost more."),
    _p(2, "Harbour Post", "The pier has a cafe.", article="a1"),
    _p(3, "Valley Times", "Rain fell. The Valley Times reports the pier opened on Monday with "
       "a brass band."),
]


def test_a_written_reply_scores_the_option_it_starts_with() -> None:
    assert choice_of("No, it did not.", ("Yes", "No")) == {"Yes": 0.0, "No": 1.0}
    assert choice_of("**yes** [1]", ("Yes", "No")) == {"Yes": 1.0, "No": 0.0}
    assert choice_of("The sources do not say.", ("Yes", "No")) == {"Yes": 0.5, "No": 0.5}


def test_a_backend_without_probabilities_chooses_by_a_short_reply() -> None:
    llm = ScriptedLLM(["No."])
    assert choose(llm, [{"role": "user", "content": "?"}], ("Yes", "No"))["No"] == 1.0
    assert verdict_word({"Yes": 0.3, "No": 0.7}) == "No"
    assert verdict_word({"Yes": 0.5, "No": 0.5}) == "Yes"


def test_a_choice_of_opposites_is_scored_on_yes_and_no() -> None:
    opposite = Analysis("?", True, options=("Consistent", "Inconsistent"))
    assert offered(opposite) == ("Yes", "No")
    assert verdict_for(opposite, {"Yes": 0.6, "No": 0.4}) == "Consistent"
    assert verdict_for(opposite, {"Yes": 0.2, "No": 0.8}) == "Inconsistent"
    names = Analysis("?", True, options=("Harbour Post", "Valley Times"))
    assert offered(names) == ("Harbour Post", "Valley Times")
    assert verdict_for(names, {"Harbour Post": 0.3, "Valley Times": 0.7}) == "Valley Times"
    plain = Analysis("?", True)
    assert offered(plain) == ("Yes", "No") and verdict_for(plain, {"Yes": 0.1, "No": 0.9}) == "No"


def test_each_named_outlet_gives_its_best_passage_in_the_order_named() -> None:
    asked = Analysis("?", True, outlets=(
        Outlet("Valley Times", 30, ("Valley Times",)),
        Outlet("Harbour Post", 10, ("Harbour Post",)),
    ))
    assert evidence_passages(asked, PASSAGES) == [2, 0]


def test_without_named_outlets_the_best_passages_of_two_articles() -> None:
    assert evidence_passages(Analysis("?", True), PASSAGES) == [0, 2]


def test_the_quoted_sentence_is_the_one_about_the_question() -> None:
    q = "Did the new pier open on Monday?"
    assert best_sentence(q, PASSAGES[0].text) == (
        "The Harbour Post says the new pier opened on Monday after two years of work.")


def test_the_reply_is_the_verdict_then_each_quote_with_its_number() -> None:
    q = "Did the Harbour Post and the Valley Times both report the pier opened on Monday?"
    asked = Analysis(q, True, outlets=(Outlet("Harbour Post", 8, ("Harbour Post",)),
                                       Outlet("Valley Times", 29, ("Valley Times",))))
    assert yes_no_reply("Yes", q, asked, PASSAGES) == (
        "Yes. The Harbour Post says the new pier opened on Monday after two years of work. [1] "
        "The Valley Times reports the pier opened on Monday with a brass band. [3]")


def test_verdicts_come_from_the_verdict_model_when_the_answer_model_is_bundled(
        monkeypatch) -> None:
    from qa import Settings
    from qa.engine import Engine
    from qa.models.llama_cpp import LlamaCppLLM

    loaded: dict[str, object] = {}
    monkeypatch.setattr(LlamaCppLLM, "shared", classmethod(
        lambda cls, s: loaded.setdefault(s.llm_model, object())))
    e = Engine(Settings(llm_model="qwen-0.5b", verdict_model="qwen-1.5b"))
    assert e.llm is loaded["qwen-0.5b"]  # the answer model loaded first changes nothing
    assert e.verdict_llm is loaded["qwen-1.5b"]
    assert Engine(Settings(verdict_model="")).verdict_llm is loaded["qwen-0.5b"]
    given = ScriptedLLM(["Yes"])
    assert Engine(Settings(verdict_model="qwen-1.5b"), llm=given).verdict_llm is given
    remote = Engine(Settings(llm_backend="openai", openai_base_url="http://127.0.0.1:9/v1"))
    assert remote.verdict_llm is remote.llm
