"""What every LLM backend offers (stream, complete), the runaway guard, and a scripted fake."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Protocol

from qa.errors import LLMError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class LLM(Protocol):
    name: str

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Yield the reply as text deltas. Raises LLMError."""
        ...


class BaseLLM:
    """A backend implements `stream`; `complete` joins it unless the backend has a better call."""

    name = "llm"

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        raise NotImplementedError

    def complete(self, messages: list[Message], max_tokens: int) -> str:
        """The whole reply in one piece."""
        return "".join(until_runaway(self.stream(messages, max_tokens)))

    def choose(self, messages: list[Message], options: tuple[str, ...]) -> dict[str, float]:
        """How likely the reply starts with each option, normalized over the options.

        A backend without token probabilities writes a short reply: the option it starts with
        gets 1.0 (all get an equal share when it starts with none)."""
        return choice_of(self.complete(messages, 4), options)


def choice_of(reply: str, options: tuple[str, ...]) -> dict[str, float]:
    """The options scored by a written reply: 1.0 for the one it starts with."""
    first = re.match(r"\W*(\w+)", reply)
    word = first.group(1).lower() if first else ""
    hit = [o for o in options if o.split()[0].lower() == word]
    if not hit:
        return {o: 1.0 / len(options) for o in options}
    return {o: 1.0 if o == hit[0] else 0.0 for o in options}


def choose(llm: LLM, messages: list[Message], options: tuple[str, ...]) -> dict[str, float]:
    """The backend's `choose` when it has one, else the options scored by a short reply."""
    own = getattr(llm, "choose", None)
    if own is not None:
        return own(messages, options)
    return choice_of(complete(llm, messages, 4), options)


def complete(llm: LLM, messages: list[Message], max_tokens: int) -> str:
    """The whole reply in one piece: the backend's `complete` when it has one (a fake given
    as a bare object with `stream` may not), else its stream joined."""
    whole = getattr(llm, "complete", None)
    if whole is not None:
        return whole(messages, max_tokens)
    return "".join(until_runaway(llm.stream(messages, max_tokens)))


_MARKERS_ONLY = re.compile(r"(?:\s*\[\d{1,3}\]\s*:?)+\s*\[?\d{0,3}")
RUNAWAY_MARKERS = 8
# A phrase of two or more words said four times in a row, near the end of the text so far
# (a fifth copy may have begun). Fewer repeats, or a repeated word or figure, can be what the
# source says ("USA! USA! USA!", "6-4 6-4 6-4", "$2,000,000,000").
_LOOP = re.compile(r"(?<!\w)(\w[^\n]{3,79}?)(?:[\s,;]*\1){3,}[^\n]{0,40}$")
_LOOP_TAIL = 400  # characters searched for it


def _loop(text: str) -> re.Match[str] | None:
    m = _LOOP.search(text)
    phrase = m.group(1).strip() if m else ""
    return m if " " in phrase and re.search(r"[A-Za-z]", phrase) else None


def until_runaway(deltas: Iterator[str]) -> Iterator[str]:
    """The deltas of a reply, cut short when it has become nothing but a run of citation
    markers ("[1]: [2]: [3]: ...") or says one phrase over and over ("Jo Smith Jo Smith Jo
    Smith Jo Smith"): a small model stuck in a loop, which would otherwise go on to the token
    limit (256 tokens, ~12 s on 2 cores) and say nothing more."""
    text = ""
    try:
        for delta in deltas:
            text += delta
            yield delta
            if text.count("[") >= RUNAWAY_MARKERS and _MARKERS_ONLY.fullmatch(text):
                return
            if _loop(text[-_LOOP_TAIL:]):
                return
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()  # stops the generation and releases the backend's lock now


def without_loops(text: str) -> str:
    """The reply with a phrase said over and over at its end said once."""
    head, tail = text[:-_LOOP_TAIL], text[-_LOOP_TAIL:]
    m = _loop(tail)
    return head + (tail[:m.start()] + m.group(1) if m else tail)


class ScriptedLLM(BaseLLM):
    """A fake for tests and examples: replies come from a list or a function of the messages."""

    name = "scripted"

    def __init__(self, replies: list[str] | Callable[[list[Message]], str]) -> None:
        self.replies = replies
        self.calls: list[list[Message]] = []

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.calls.append(messages)
        if callable(self.replies):
            reply = self.replies(messages)
        elif self.replies:
            reply = self.replies.pop(0)
        else:
            raise LLMError("ScriptedLLM has no reply left")
        for i, word in enumerate(reply.split(" ")):
            yield word if i == 0 else " " + word
