"""A question that asks for a name, answered by choosing among the names its sources share.

A question that describes one person or company through facts from several reports ("Who is
the founder that X reported ... and Y reported ...?") is answered by the name the reports have
in common. The small answer model, asked to write, often names someone else from one of them.
So the names the retrieved passages mention are gathered and ranked by how many articles
mention each; the verdict model reads the usual sources and picks one of the first few as a
lettered option (one prompt evaluation, no writing); the reply is that name, cited to the
passages that mention it, and verified and judged like any other.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from qa.records import Passage

# "Who ...", "Which company ...", "What institution ..."; not "What is/did ...", nor a question
# after a quantity or a time ("Which year ...", "What percentage ...").
_NOT_A_NAME = (
    r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must|"
    r"year|years|date|dates|day|days|month|months|week|time|times|percentage|percent|share|"
    r"number|amount|price|prices|age|rate|score|kind|type|sort|way|reason|role|happened|"
    r"[a-z]+ed)\b"
)
_ASKS_NAME = re.compile(rf"^\W*(?:who|whom\b|(?:which|what)\s+(?!{_NOT_A_NAME})\w)",
                        re.IGNORECASE)
# A run of capitalized words, maybe joined by "of"/"&"; dotted initials stay one word ("U.S").
_NAME = re.compile(r"[A-Z][\w'\u2019&-]*(?:\.[A-Z][\w'-]*)*"
                   r"(?:\s+(?:of\s+|&\s+)?[A-Z][\w'\u2019&-]*(?:\.[A-Z][\w'-]*)*)*")
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_OPENS = re.compile(r"[.!?:;\"\u201c\u201d]\s*$")
LETTERS = "ABCDE"
MIN_ARTICLES = 2  # a name fewer articles mention is not what several reports share


@dataclass(frozen=True)
class Name:
    """A name the passages mention, the passages that mention it, and in how many articles."""

    text: str
    passages: tuple[int, ...]
    articles: int

    def cited(self, passages: list[Passage], most: int = 3) -> list[int]:
        """The first passage of each article that mentions the name, at most `most`."""
        seen: dict[str, int] = {}
        for i in self.passages:
            seen.setdefault(passages[i].article_id, i)
        return list(seen.values())[:most]


def asks_for_name(question: str) -> bool:
    """True for a question whose answer is a person's or an organization's name."""
    return bool(_ASKS_NAME.match(question))


def _names_in(text: str, lowercase: set[str]) -> list[tuple[str, bool]]:
    """The capitalized names of a text, each with whether it opens a sentence; without a
    sentence's ordinary first word ("Though FTX" is "FTX": "though" appears in lower case
    elsewhere), months and days, or a possessive."""
    found = []
    for m in _NAME.finditer(text):
        words = [_POSSESSIVE.sub("", w) for w in m.group(0).split()]
        opens = not text[:m.start()].strip() or bool(_OPENS.search(text[:m.start()]))
        while words and (words[0].lower() in lowercase or words[0].lower() in _CALENDAR):
            words = words[1:]
            opens = False
        while words and words[-1].lower() in _CALENDAR:
            words = words[:-1]
        name = " ".join(w for w in words if w)
        if len(name) >= 2:
            found.append((name, opens))
    return found


def shared_names(question: str, passages: list[Passage],
                 limit: int = len(LETTERS)) -> list[Name]:
    """The names the passages mention and the question does not, most articles first (then
    most passages). A shorter form counts wherever a longer one ending with it appears; for a
    question about a person ("Who ...") a surname is shown with the first name most passages
    give it ("Bankman-Fried": "Sam Bankman-Fried"). Other names keep the short form: a word
    before a company's name is more often a headline's or a sentence's than the name's."""
    person = bool(re.match(r"^\W*whom?\b", question, re.IGNORECASE))
    lowercase = {w for p in passages for w in re.findall(r"\b[a-z][a-z'-]+\b", p.text)}
    asked = question.lower()
    # A one-word name seen only at the start of a sentence is an ordinary word ("Investors"),
    # unless it ends a longer name (a surname).
    seen = [(n, opens) for p in passages for n, opens in _names_in(p.text, lowercase)
            if n.lower() not in asked]
    longer = {n for n, _ in seen if " " in n}
    forms = longer | {n for n, opens in seen
                      if not opens or any(m.endswith(" " + n) for m in longer)}
    where: dict[str, list[int]] = defaultdict(list)
    for form in forms:
        pattern = re.compile(rf"(?<![\w-]){re.escape(form)}(?![\w-])")
        where[form] = [i for i, p in enumerate(passages) if pattern.search(p.text)]
    # A form that ends with a shorter one ("Sam Bankman-Fried", "Bankman-Fried") is the same
    # name; the group is known by its most used full form (two words), else the short one.
    groups: dict[str, str] = {}
    for form in sorted(forms, key=len):
        head = next((g for g in groups.values() if form.endswith(" " + g)), None)
        groups[form] = head or form
    members: dict[str, list[str]] = defaultdict(list)
    for form, head in groups.items():
        members[head].append(form)
    names = []
    for head, group in members.items():
        hits = where[head]
        if not hits:
            continue
        full = [f for f in group if person and f != head
                and len(f.split()) == len(head.split()) + 1 and len(where[f]) >= 2]
        shown = max(full, key=lambda f: len(where[f]), default=head)
        articles = len({passages[i].article_id for i in hits})
        names.append(Name(shown, tuple(hits), articles))
    names.sort(key=lambda n: (-n.articles, -len(n.passages), n.text))
    return names[:limit]


def name_reply(name: Name, passages: list[Passage]) -> str:
    """The reply judged like a written one: the name, cited to the first passage of each
    article that mentions it."""
    marks = "".join(f"[{i + 1}]" for i in name.cited(passages))
    return f"{name.text} {marks}."
