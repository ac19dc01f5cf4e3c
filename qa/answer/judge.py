"""The one refusal decision: a verified reply is answered only when its evidence is enough."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qa.answer.verify import REFUSAL_TEXT, Verified, verify
from qa.question import VERDICTS
from qa.records import Answer, Passage

# Why an answer was refused; the reason travels in Answer.reason.
NO_PASSAGES = "no passage matched the question"
DECLINED = "the model declined"
UNSUPPORTED = "no source states it"
OFF_TOPIC = "the cited passages are not about the question"
UNKNOWN_OUTLET = "the named outlet is not in the archive"
NOT_STATED = "the cited passages do not give this answer"


@dataclass(frozen=True)
class Thresholds:
    """When the cited passages are about the question (see Settings for each rule)."""

    strong_evidence: float = 0.45
    min_evidence: float = 0.15
    min_similarity: float = 0.45

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        return cls(settings.strong_evidence, settings.min_evidence, settings.min_similarity)


@dataclass(frozen=True)
class Judgement:
    verified: Verified
    reason: str = ""  # "" when the answer is given

    @property
    def refused(self) -> bool:
        return bool(self.reason)


def judge(question: str, reply: str, passages: list[Passage], thresholds: Thresholds,
          idf: Callable[[str], float] | None = None, yes_no: bool = False,
          unknown_outlets: Sequence[str] = (),
          verdicts: Sequence[str] = VERDICTS) -> Judgement:
    """Verify the reply, then decide: refuse when the question asks what an outlet the archive
    does not have reported, nothing was retrieved, the model declined, no sentence is
    supported, or the cited passages only share the answer's words.

    Passages about the question cover >= strong_evidence of its words (idf-weighted), or
    >= min_evidence while one of them is semantically close (cosine >= min_similarity).
    """
    if unknown_outlets:
        return Judgement(Verified(REFUSAL_TEXT, [], [], refused=True),
                         f"{UNKNOWN_OUTLET} ({', '.join(unknown_outlets)})")
    v = verify(question, reply, passages, idf=idf, yes_no=yes_no, verdicts=verdicts)
    if not passages:
        return Judgement(v, NO_PASSAGES)
    if v.declined:
        return Judgement(v, DECLINED)
    if v.refused:
        return Judgement(v, UNSUPPORTED)
    if v.evidence >= thresholds.strong_evidence:
        return Judgement(v)
    closest = max((c.score for c in v.citations), default=-1.0)
    if v.evidence >= thresholds.min_evidence and closest >= thresholds.min_similarity:
        return Judgement(v)
    return Judgement(v, OFF_TOPIC)


def not_stated(judgement: Judgement) -> Judgement:
    """The judgement refused because the check of meaning found the answer not given."""
    return Judgement(judgement.verified, NOT_STATED)


def to_answer(question: str, judgement: Judgement, passages: list[Passage],
              seconds: float) -> Answer:
    """The Answer record of a judgement: the verified text, or the refusal and its reason."""
    v = judgement.verified
    if judgement.refused:
        return refused_answer(question, passages, seconds, v.unsupported, v.evidence,
                              judgement.reason)
    return Answer(question=question, text=v.text, refused=False, citations=v.citations,
                  passages=passages, unsupported=v.unsupported, evidence=round(v.evidence, 4),
                  seconds=seconds)


def refused_answer(question: str, passages: list[Passage], seconds: float,
                   unsupported: list[str] | None = None, evidence: float = 0.0,
                   reason: str = NO_PASSAGES) -> Answer:
    return Answer(question=question, text=REFUSAL_TEXT, refused=True, citations=[],
                  passages=passages, unsupported=unsupported or [],
                  evidence=round(evidence, 4), seconds=seconds, reason=reason)
