"""Follow-up rewriting: which questions are rewritten, and the model call only for those."""

from __future__ import annotations

import pytest

from qa.answer.condense import condense, is_follow_up, resolve_people
from qa.models import ScriptedLLM

from .follow_up_chats import CHATS


def decision_accuracy() -> float:
    """The share of CHATS whose rewrite decision is right."""
    return sum(is_follow_up(second) == want for _, _, second, want in CHATS) / len(CHATS)


def test_chat_set_is_large_and_mixed() -> None:
    assert len(CHATS) >= 30
    assert 0.3 <= sum(want for *_, want in CHATS) / len(CHATS) <= 0.7


def test_rewrite_decision_is_right_on_own_chats() -> None:
    wrong = [second for _, _, second, want in CHATS if is_follow_up(second) != want]
    assert decision_accuracy() >= 0.95, wrong


@pytest.mark.parametrize("first,answer,second,want", CHATS[:3] + CHATS[-3:])
def test_model_is_called_only_for_a_follow_up(first, answer, second, want) -> None:
    llm = ScriptedLLM(["Standalone: what was meant?"])
    got = condense(llm, second, [(first, answer)])
    assert len(llm.calls) == int(want)
    assert got == ("Standalone: what was meant?" if want else second)


def test_no_rewrite_without_an_answered_turn() -> None:
    llm = ScriptedLLM([])
    assert condense(llm, "Why did he go?", []) == "Why did he go?"
    assert condense(llm, "Why did he go?", [("Who left?", "The articles don't say.")]) \
        == "Why did he go?"
    assert llm.calls == []


def test_echoed_rewrite_names_the_person_from_the_previous_turn() -> None:
    """The 0.5B model sometimes returns the follow-up unchanged: "he" is then replaced by the
    name the previous question gave, never padded with the previous question."""
    llm = ScriptedLLM(["When will he meet him?"])
    got = condense(llm, "When will he meet him?",
                   [("Who will Sergei Lavrov meet in Moscow?", "Staffan de Mistura [1].")])
    assert got == "When will Sergei Lavrov meet him?"
    assert "follow-up" not in got


@pytest.mark.parametrize("question,turn,want", [
    ("What was his margin?", ("Who won in Lagos?", "Tunde Okafor [1]."),
     "What was Tunde Okafor's margin?"),
    ("Where does she live?", ("Who is Ingrid Solberg?", "A climate scientist [1]."),
     "Where does Ingrid Solberg live?"),
    ("Why did it fall?", ("What did the euro do?", "It fell [1]."), "Why did it fall?"),
])
def test_resolve_people(question, turn, want) -> None:
    assert resolve_people(question, turn) == want
