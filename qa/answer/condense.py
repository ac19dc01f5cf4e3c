"""Follow-up questions rewritten as standalone questions, with the conversation as context.

Only a follow-up is rewritten: a question with a pronoun that points back ("When will he meet
him?") or an elliptic one ("And Germany?", "Why?"). Any other question is searched as typed, and
without the extra model call; a rewrite never invents context the question does not need.
"""

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

# Pronouns that stand for someone or something named earlier. "I", "you", "we" and "one" are
# the speakers or generic, so they never need the history.
_BACK_PRONOUNS = frozenset(
    "he him his himself she her hers herself it its itself they them their theirs themselves"
    .split())
# Demonstratives point back when they stand alone or before a noun ("that deal", "those
# talks"); "that" is also a conjunction or a relative pronoun, see _is_demonstrative_that.
_DEMONSTRATIVES = frozenset("this these those".split())
# Words that open a question continuing the previous one: "And Germany?", "What about Iran?".
_ELLIPTIC_OPENINGS = re.compile(
    r"^(?:and|but|so|also|what about|how about|what else|who else|where else|anything else|"
    r"why not|how come|and then|then what|same for|what of)\b", re.I)
# Words that ask for more of what was just discussed: "Who else was there?", "What happened
# next?", "Did they do the same?".
_CONTINUATIONS = re.compile(r"\b(?:else|instead|the same|the other|afterwards|after that|"
                            r"before that)\b|\b(?:next|then)\W*$", re.I)
# A dummy "it" refers to nothing: "Is it true that ...", "How long did it take ...".
_DUMMY_IT = re.compile(r"\b(?:it (?:is|was|be)|is it|was it) (?:true|possible|likely|known|"
                       r"reported|said|clear)(?: that)?\b|\bit (?:takes?|took)\b", re.I)
# Function words: a question made only of these has no subject of its own ("Why?", "When
# exactly?", "How many?").
_FUNCTION_WORDS = frozenset("""
a an the and but or so also too then what who whom whose which when where why how is are was
were be been being do does did done will would shall should can could may might must has have
had not no yes any some many much more most exactly about of for to in on at by with from
really ever just only again else there here
""".split())
# Words after which "that" is a pronoun or determiner, not a conjunction ("Who said that?",
# "Why did that happen?", "What about that deal?").
_BEFORE_DEMONSTRATIVE_THAT = frozenset("""
what who whom which when where why how is are was were be do does did will would can could
should has have had about of for to in on at by with from after before during despite and but
like than behind against into over under caused cause causes mean means meant
""".split())
# Words after which "that" begins a clause: "said that the talks ...", "the firm that makes".
_CLAUSE_STARTERS = frozenset("""
the a an he she it they we i you his her its their our my your there this these those some
""".split())


def build_condense_messages(question: str, history: list[tuple[str, str]]) -> list[dict[str, str]]:
    convo = "\n".join(f"User: {q}\nAssistant: {strip_markers(a)}" for q, a in history[-3:])
    return [
        {"role": "system", "content": CONDENSE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{convo}\n\nFollow-up question: {question}\n"
                                    "Standalone question:"},
    ]


def usable_history(history: History | None) -> History:
    """The turns a follow-up can refer to: those that were answered."""
    return [(q, a) for q, a in (history or [])
            if a and not strip_markers(a).startswith(REFUSAL_TEXT)]


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood: a pronoun that points
    back, a demonstrative, or an elliptic question ("And Germany?", "Why?")."""
    q = question.strip()
    if _ELLIPTIC_OPENINGS.search(q) or _CONTINUATIONS.search(q):
        return True
    tokens = re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", _DUMMY_IT.sub(" ", q))
    words = [t.lower() for t in tokens]
    for i, (token, word) in enumerate(zip(tokens, words, strict=True)):
        if len(token) > 1 and token.isupper():  # an acronym ("US", "IT"), not a pronoun
            continue
        if word in _BACK_PRONOUNS or word in _DEMONSTRATIVES:
            return True
        if word == "that" and _is_demonstrative_that(words, i):
            return True
    return bool(words) and all(w in _FUNCTION_WORDS for w in words)


def _is_demonstrative_that(words: list[str], i: int) -> bool:
    after = words[i + 1] if i + 1 < len(words) else None
    if after is None:  # "Who said that?"
        return True
    if after in _CLAUSE_STARTERS:  # "... said that the talks failed"
        return False
    before = words[i - 1] if i else None
    return before is None or before in _BEFORE_DEMONSTRATIVE_THAT


def condense(llm: LLM, question: str, history: History | None) -> str:
    """The question as it is searched: a follow-up rewritten to stand alone by the model, any
    other question (or one without usable history) unchanged and without a model call."""
    usable = usable_history(history)
    if not usable or not is_follow_up(question):
        return question
    rewritten = complete(llm, build_condense_messages(question, usable), 64)
    rewritten = rewritten.strip().strip('"').splitlines()[0].strip() if rewritten else ""
    if len(rewritten) <= 3 or _words(rewritten) == _words(question):
        # The model echoed the follow-up ("When will he meet him?"): name the person a
        # "he"/"she" stands for from the previous turn, the one rewrite that is safe by rule.
        return resolve_people(question, usable[-1])
    return rewritten


_PERSON_PRONOUNS = re.compile(r"\b(?:he|she|him|her)\b(?!')", re.I)
_POSSESSIVES = re.compile(r"\b(?:his|her)\b(?=\s+[a-z])", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -](?:de |van |von |al-)?[A-Z][a-z]+)+")


def resolve_people(question: str, turn: tuple[str, str]) -> str:
    """The question with its first "he"/"she" (or "his"/"her") replaced by the first full name
    (two or more capitalized words) of the previous question, else of its answer; unchanged
    when neither names anyone."""
    names = _NAME.findall(turn[0]) or _NAME.findall(strip_markers(turn[1]))
    if not names:
        return question
    name = names[0]
    possessive = _POSSESSIVES.search(question)
    personal = _PERSON_PRONOUNS.search(question)
    if possessive and (not personal or possessive.start() <= personal.start()):
        return question[:possessive.start()] + f"{name}'s" + question[possessive.end():]
    if personal:
        return question[:personal.start()] + name + question[personal.end():]
    return question


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())
