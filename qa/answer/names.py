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
# after a quantity, a time or a thing that is no name ("Which year ...", "What impact ...").
_NOT_A_NAME = (
    r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might|must|"
    r"of|one|ones|year|years|date|dates|day|days|month|months|week|weeks|quarter|season|"
    r"decade|time|times|percentage|percent|share|number|amount|price|prices|cost|value|size|"
    r"distance|temperature|age|rate|score|kind|type|sort|way|reason|role|impact|effect|step|"
    r"steps|measure|measures|change|changes|product|products|charge|charges|penalty|"
    r"evidence|advice|information|happened|[a-z]+ed)\b"
)
_ASKS_NAME = re.compile(rf"^\W*(?:whom?\b|(?:which|what)\s+(?!{_NOT_A_NAME})\w)",
                        re.IGNORECASE)
# A run of capitalized words, maybe joined by "of"/"&"; dotted initials stay one word ("U.S").
_NAME = re.compile(r"[A-Z][\w'\u2019&-]*(?:\.[A-Z][\w'-]*)*"
                   r"(?:[ \t]+(?:of[ \t]+|&[ \t]+)?[A-Z][\w'\u2019&-]*(?:\.[A-Z][\w'-]*)*)*")
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_CONNECTORS = frozenset(("of", "&"))
_ARTICLE_WORDS = frozenset(("the", "of", "and", "&", "for"))
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_OPENS = re.compile(r"(?:^|[.!?:;\"\u201c\u201d\n])\s*$")
LETTERS = "ABCDE"
MIN_ARTICLES = 2  # a name fewer articles mention is not what several reports share
MAX_WORDS = 5  # a longer run of capitalized words is a headline or a slogan, not a name


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
    """The capitalized names of a text, each with whether it opens a sentence. A sentence's
    ordinary first word is left out ("Though FTX" is "FTX": "though" appears in lower case
    elsewhere), as are months, days and a possessive."""
    found = []
    for m in _NAME.finditer(text):
        words = [_POSSESSIVE.sub("", w) for w in m.group(0).split()]
        opens = bool(_OPENS.search(text[max(0, m.start() - 3):m.start()]))
        if opens and len(words) > 1 and words[0].lower() in lowercase:
            words = words[1:]
            opens = False
        while words and (words[0].lower() in _CALENDAR or words[0] in _CONNECTORS):
            words = words[1:]
        while words and (words[-1].lower() in _CALENDAR or words[-1] in _CONNECTORS):
            words = words[:-1]
        name = " ".join(w for w in words if w)
        if len(name) >= 2 and len(words) <= MAX_WORDS:
            found.append((name, opens))
    return found


def abbreviates(short: str, full: str) -> bool:
    """Whether one word is an abbreviation of a longer name: its initials ("RA": "Rugby
    Australia") or the start of its first word ("Fed": "Federal Reserve")."""
    words = full.split()
    if " " in short or len(words) < 2:
        return False
    if short.isupper() and 2 <= len(short) <= 6:
        initials = "".join(w[0] for w in words if w.lower() not in _ARTICLE_WORDS)
        return initials.upper() == short
    first = words[0]
    return (short.istitle() and len(short) >= 3 and len(first) > len(short)
            and first.startswith(short) and first[len(short)].isalpha())


def _expansions(forms: set[str], longer: set[str], text: str) -> dict[str, str]:
    """Each one-word form that abbreviates exactly one of the longer names, mapped to it (the
    shortest of the names that begin alike: "Federal Reserve", not "Federal Reserve Chair
    Jerome Powell"). A word the text writes with a period before a name is a title ("Gen.
    Mark Milley"), not an abbreviation of "General Motors"."""
    found = {}
    for form in forms:
        if " " in form or re.search(rf"(?<![\w.]){re.escape(form)}\.\s+[A-Z]", text):
            continue
        full = [f for f in longer if abbreviates(form, f)]
        full = [f for f in full if not any(g != f and f.startswith(g + " ") for g in full)]
        if len(full) == 1:
            found[form] = full[0]
    return found


def _said_in(question: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", question) is not None


def shared_names(question: str, passages: list[Passage],
                 limit: int = len(LETTERS)) -> list[Name]:
    """The names the passages mention and the question does not, most articles first (then
    most passages).

    A shorter form counts wherever a longer one ending with it appears. When one longer form
    alone ends with it, the two are one name; for a question about a person ("Who ...") it is
    shown in that full form when two passages give it ("Bankman-Fried": "Sam Bankman-Fried").
    Other names keep the short form: a word before a company's name is more often a
    headline's or a sentence's than the name's. Two longer forms that end the same way are
    two names ("Donald Trump", "Melania Trump"), and the short one stays a name of its own.
    An abbreviation of exactly one longer name is that name and shown with it ("Federal
    Reserve (Fed)"), so the answer carries the name in full.
    """
    person = bool(re.match(r"^\W*whom?\b", question, re.IGNORECASE))
    lowercase = {w for p in passages for w in re.findall(r"\b[a-z][a-z'-]+\b", p.text)}
    asked = question.lower()
    # A one-word name seen only at the start of a sentence is an ordinary word ("Investors"),
    # unless it is an acronym ("FTX") or ends a longer name (a surname).
    every = [(n, opens) for p in passages for n, opens in _names_in(p.text, lowercase)]
    seen = [(n, opens) for n, opens in every if not _said_in(asked, n)]
    longer = {n for n, _ in seen if " " in n}
    tails = {n.rsplit(" ", 1)[1] for n in longer}
    forms = longer | {n for n, opens in seen if not opens or not n.istitle() or n in tails}
    # An abbreviation is one name with the name it abbreviates, and no answer when that name
    # is the question's own.
    expanded = _expansions(forms, {n for n, _ in every if " " in n},
                           "\n".join(p.text for p in passages))
    forms -= {short for short, full in expanded.items() if _said_in(asked, full)}
    expanded = {short: full for short, full in expanded.items() if full in forms}
    where: dict[str, list[int]] = {}
    for form in forms:
        pattern = re.compile(rf"(?<![\w-]){re.escape(form)}(?![\w-])")
        where[form] = [i for i, p in enumerate(passages)
                       if form in p.text and pattern.search(p.text)]
    # Each form's longer forms, found through their last word.
    by_last: dict[str, list[str]] = defaultdict(list)
    for form in forms:
        by_last[form.rsplit(" ", 1)[-1]].append(form)
    merged: dict[str, str] = {}  # a longer form -> the short form it is one name with
    for form in forms:
        extended = [f for f in by_last[form.rsplit(" ", 1)[-1]]
                    if f != form and f.endswith(" " + form)]
        # "Reuters Two of Sam Bankman-Fried" extends "Sam Bankman-Fried": not another person.
        extended = [f for f in extended if not any(f.endswith(" " + g) for g in extended)]
        if len(extended) == 1:
            merged[extended[0]] = form
    abbreviated = {full: short for short, full in expanded.items()
                   if full not in merged and short not in merged.values()}
    names = []
    for form in forms:
        if form in merged or (form in expanded and expanded[form] in abbreviated):
            continue
        full = [f for f, short in merged.items() if short == form]
        shown = full[0] if person and full and len(where[full[0]]) >= 2 else form
        hits = where[form]
        if form in abbreviated:
            short = abbreviated[form]
            shown = f"{form} ({short})"
            hits = sorted(set(hits) | set(where[short]))
        if not hits:
            continue
        names.append(Name(shown, tuple(hits), len({passages[i].article_id for i in hits})))
    names.sort(key=lambda n: (-n.articles, -len(n.passages), n.text))
    return names[:limit]


def name_reply(name: Name, passages: list[Passage]) -> str:
    """The reply judged like a written one: the name, cited to the first passage of each
    article that mentions it."""
    marks = "".join(f"[{i + 1}]" for i in name.cited(passages))
    return f"{name.text} {marks}."
