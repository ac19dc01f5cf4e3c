"""Answering: the prompt, verification of the reply, the refusal judge, follow-up rewriting."""

from qa.answer.condense import build_condense_messages, condense, usable_history
from qa.answer.defang import REMOVED, defang
from qa.answer.judge import Judgement, Thresholds, judge, refused_answer, to_answer
from qa.answer.prompt import (
    FOCUS_CHARS,
    SYSTEM_PROMPT,
    Prompt,
    build_messages,
    build_prompt,
    focus,
    source_budgets,
)
from qa.answer.verify import (
    REFUSAL_TEXT,
    Claim,
    Verified,
    best_quote,
    coverage,
    is_refusal,
    parse_claims,
    strip_markers,
    support,
    verify,
)

__all__ = [
    "FOCUS_CHARS",
    "REFUSAL_TEXT",
    "REMOVED",
    "SYSTEM_PROMPT",
    "Claim",
    "Judgement",
    "Prompt",
    "Thresholds",
    "Verified",
    "best_quote",
    "build_condense_messages",
    "build_messages",
    "build_prompt",
    "condense",
    "coverage",
    "defang",
    "focus",
    "is_refusal",
    "judge",
    "parse_claims",
    "refused_answer",
    "source_budgets",
    "strip_markers",
    "support",
    "to_answer",
    "usable_history",
    "verify",
]
