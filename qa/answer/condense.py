"""Follow-up questions rewritten as standalone questions, with the conversation as context."""

from __future__ import annotations

import re

from qa.answer.verify import REFUSAL_TEXT, strip_markers
from qa.models import LLM, complete

History = list[tuple[str, str]]  # (question, answer text) pairs, oldest first

CONDENSE_PROMPT = (
    "Rewrite the follow-up question as one standalone question that names what\n"
    '"he", "she", "it", "they" or "that" refer to, using the conversation. '
    "Reply with the question only."
)


def build_condense_messages(question: str, history: list[tuple[str, str]]) -> list[dict[str, str]]:
    convo = "\n".join(f"User: {q}\nAssistant: {strip_markers(a)}" for q, a in history[-3:])
    return [
        {"role": "system", "content": CONDENSE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{convo}\n\nFollow-up question: {question}\n"
                                    "Standalone question:"},
    ]


def usable_history(history: History | None) -> History:
    """The turns a follow-up can refer to: those that were answered."""
    return [(q, a) for q, a in (history or []) if a and a != REFUSAL_TEXT]


def condense(llm: LLM, question: str, history: History | None) -> str:
    """A follow-up rewritten as a standalone question (unchanged without usable history)."""
    usable = usable_history(history)
    if not usable:
        return question
    rewritten = complete(llm, build_condense_messages(question, usable), 64)
    rewritten = rewritten.strip().strip('"').splitlines()[0].strip() if rewritten else ""
    if len(rewritten) <= 3:
        return question
    if _words(rewritten) == _words(question):
        # The model echoed the follow-up ("When will he meet him?"): carry the previous
        # question along, so retrieval and the answer still know who "he" is.
        return f"{question} (follow-up to: {usable[-1][0]})"
    return rewritten


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())
