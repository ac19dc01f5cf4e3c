"""What a question asks for: its form of answer, and the outlets, dates and publishers it names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from qa.corpus.dates import normalize_date

# A question whose main clause opens with an auxiliary verb asks for a verdict ("Did X report
# ...?", "Between the two reports, was there ...?"), unless it offers alternatives ("Is it X or
# Y?"), which asks to choose one of them.
_AUX = r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|" \
    r"might|must)\b"
_AUXILIARY = re.compile(rf"^\W*{_AUX}", re.IGNORECASE)
# A leading clause before the main one: "Between A and B, did ...", "After X reported Y, has ...".
# A question word on the way ("Considering A, which country, known for X, is ...") means the
# auxiliary belongs to a clause of a question that asks for a thing.
_LEAD = re.compile(
    r"^\W*(?:between|before|after|following|since|considering|given|based\s+on|according\s+to|"
    r"in|on|from|when|while|as|during|prior\s+to|comparing|regarding)\b"
    r"(?:(?!\b(?:which|who|whom|whose|what|where|why|how)\b)[^?])*?,\s*"
    r"['\"\u2019\u201d]?\s*(?:and\s+)?"
    rf"{_AUX}", re.IGNORECASE)
_CHOICE = re.compile(r"\bor\b(?![^?]*\b(?:not|no)\b)[^,;?]{0,60}\?\s*$", re.IGNORECASE)
# A yes/no question that restates its "No" as a question of its own ("Do the reports agree on
# the fee, or do they give different figures?") asks for a verdict on the first; "Did the
# mayor speak first, or did the governor?" offers no such opposite and is no yes/no question.
_RESTATED_NO = re.compile(
    rf",\s*or\s+{_AUX}[^?]*\b(?:differ|differs|differed|different|differing|discrepanc\w*|"
    r"disagree\w*|contradict\w*|inconsisten\w*|variations?|vary|varies|deny|denies|"
    r"conflict\w*|change|changed|changes)\b[^?]*\?\s*$", re.IGNORECASE)
# The word a question restating its "No" asks about, and its opposite: "Do they agree on the
# fee, or do they give different figures?" is answered "Agree" or "Disagree", not "Yes".
_SAMENESS = {"agree": "disagree", "same": "different", "similar": "different",
             "consistent": "inconsistent", "consistently": "inconsistently",
             "align": "differ", "aligned": "differed"}
# Alternatives written after the question in parentheses: "... the same? (consistent/inconsistent)".
_SLASHED = re.compile(r"\(\s*([A-Za-z]+)\s*/\s*([A-Za-z]+)\s*\)\s*$")
# Names offered as alternatives at the end of a question ("Which outlet said it first,
# TechCrunch or The Verge?"): the answer is one of them, chosen like a verdict.
_WORD = r"[\w'\u2019&.|-]+"
_LAST_OPTION = re.compile(rf"\s+or\s+(?P<b>['\u2018\u201c]?{_WORD}(?:\s+{_WORD}){{0,3}}"
                          r"['\u2019\u201d]?)\s*\?\s*$")
MAX_OPTION_WORDS = 4
VERDICTS = ("Yes", "No")

# Short outlet names are common words ("Age", "Time"): they count only as "The Age".
_MIN_BARE = 5


@dataclass(frozen=True)
class Outlet:
    """An outlet the question names, as written, and the archive's sources it stands for."""

    mention: str
    start: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class NamedDate:
    """A calendar date the question names, as written, and its ISO form."""

    mention: str
    start: int
    iso: str


@dataclass(frozen=True)
class Analysis:
    question: str
    yes_no: bool
    outlets: tuple[Outlet, ...] = ()
    unknown: tuple[str, ...] = ()  # publishers it names that the archive does not have
    dates: tuple[NamedDate, ...] = ()
    options: tuple[str, ...] = ()  # the alternatives of a choice question, as written

    @property
    def verdicts(self) -> tuple[str, ...]:
        """The words a verdict starts with: the question's alternatives, else Yes and No."""
        return self.options or VERDICTS

    @property
    def opposites(self) -> bool:
        """Whether the alternatives are a word and its opposite ("consistent or
        inconsistent?"): a verdict on the first one, as Yes or No would give it."""
        return len(self.options) == 2 and are_opposites(*self.options)


def is_yes_no(question: str) -> bool:
    """True for a question answered by Yes or No ("Does ...?", "Was there ...?")."""
    asks = _AUXILIARY.match(question) or _LEAD.match(question)
    return bool(asks) and (not _CHOICE.search(question)
                           or _RESTATED_NO.search(question) is not None)


def choice_options(question: str) -> tuple[str, ...]:
    """The two alternatives of a question that asks to choose, or () when it asks for a
    verdict or a thing. Two forms count, in a question that opens like a yes/no one:
    a pair of opposites ("Were the reports consistent or inconsistent with ...?",
    "... before or after ...?") and names closing it ("Which outlet said so first, TechCrunch
    or The Verge?", also after a question of its own), and two words in parentheses closing
    it ("(consistent/inconsistent)"), and a question that restates its "No" as a question of
    its own, by the word of sameness it asks about ("Do they agree on X, or do they report
    different figures?": Agree or Disagree). Other alternatives ("Did they report on conditions or
    treatments?") are not a choice: Yes or No answers them."""
    slashed = _SLASHED.search(question)
    if slashed:
        a, b = slashed.group(1).capitalize(), slashed.group(2).capitalize()
        return () if (a, b) == VERDICTS or a.lower() == b.lower() else (a, b)
    opens = bool(_AUXILIARY.match(question) or _LEAD.match(question))
    restated = _RESTATED_NO.search(question)
    if opens and restated:
        same = re.findall(rf"\b(?:{'|'.join(_SAMENESS)})\b", question[:restated.start()],
                          re.IGNORECASE)
        return (same[0].capitalize(), _SAMENESS[same[0].lower()].capitalize()) if same else ()
    for m in _PAIR.finditer(question):
        a, b = m.group("a"), m.group("b")
        if opens and _opposite(a, b):
            return (a.capitalize(), b.capitalize())
    m = _LAST_OPTION.search(question)
    if not m or question[:m.start()].rstrip().endswith(","):
        return ()  # "Did the mayor speak first, or the governor?": a clause, not a name
    right = m.group("b").split()
    before = question[:m.start()].split()
    if not before or not all(w[:1].isupper() for w in right + before[-1:]):
        return ()
    n = 0
    while n < min(len(before), MAX_OPTION_WORDS) and before[-1 - n][:1].isupper():
        n += 1
    left, rest = before[-n:], " ".join(before[:-n])
    rest = re.sub(r"\s*\b(?:the|a|an)$", "", rest, flags=re.IGNORECASE)
    a, b = (" ".join(words).strip(_QUOTES) for words in (left, right))
    alone = rest.endswith(("?", ":", ","))
    if not a or not b or a[:3].lower() == b[:3].lower() or not (alone or opens):
        return ()
    return (a, b)


_PAIR = re.compile(r"\b(?P<a>[a-z]+)\s+or\s+(?:an?\s+)?(?P<b>[a-z]+)\b", re.IGNORECASE)
_QUOTES = "'\"\u2018\u2019\u201c\u201d"
_NEGATING = ("in", "un", "dis", "non", "im", "ir", "il")
MIN_NEGATED = 4
_OPPOSITES = frozenset(frozenset(pair.split("/")) for pair in (
    "before/after earlier/later larger/smaller bigger/smaller higher/lower more/less "
    "more/fewer increase/decrease increased/decreased rise/fall rise/drop rose/fell up/down "
    "win/loss win/lose won/lost positive/negative true/false same/different "
    "similar/different change/consistency changed/unchanged agreement/disagreement "
    "support/oppose supported/opposed optimistic/pessimistic success/failure better/worse "
    "improved/worsened").split())


def are_opposites(a: str, b: str) -> bool:
    """Whether two alternatives are a word and its opposite: a negated word, a common pair
    ("before", "after") or a word of sameness and its contrary ("align", "differ")."""
    return _opposite(a, b) or _SAMENESS.get(a.lower()) == b.lower()


def _opposite(a: str, b: str) -> bool:
    """Whether two words are opposites: one negates the other ("consistent", "inconsistent")
    or they are a common pair of opposites ("before", "after")."""
    a, b = a.lower(), b.lower()
    if a == b:
        return False
    if frozenset((a, b)) in _OPPOSITES:
        return True
    # A negated word is a word of its own: "unit" is not the opposite of "it".
    return min(len(a), len(b)) >= MIN_NEGATED and any(
        b == p + a or a == p + b for p in _NEGATING)


def outlet_aliases(sources: Iterable[str]) -> dict[str, set[str]]:
    """Each way a question may name a source, lower-cased, mapped to the sources it means.

    A source's name, its part before " - ", " | " or ": " ("The Independent - Sports" is
    also "The Independent"), with and without a leading "The", and a leading acronym ("BBC").
    """
    aliases: dict[str, set[str]] = {}
    for source in sources:
        if not source or not source.strip():
            continue
        forms = {source}
        for sep in (" - ", " | ", ": "):
            forms.add(source.split(sep, 1)[0])
        first = source.split()[0]
        if len(first) >= 3 and first.isupper() and first.isalpha():
            forms.add(first)  # "BBC" of "BBC News - Technology"
        for form in list(forms):
            form = " ".join(form.split())
            forms.add(form)
            bare = re.sub(r"^the\s+", "", form, flags=re.IGNORECASE)
            if len(bare) >= _MIN_BARE:
                forms.add(bare)
        for form in forms:
            key = " ".join(form.lower().split())
            if len(key) >= 3:
                aliases.setdefault(key, set()).add(source)
    return aliases


def named_outlets(question: str, aliases: dict[str, set[str]]) -> tuple[Outlet, ...]:
    """The archive's outlets the question names, in the order it names them.

    A mention must start with a capital letter (outlets are proper names: "Wired" the outlet,
    not "wired" the adjective) and stand as whole words; the longest alias wins where two
    overlap ("The Independent - Sports" over "The Independent").
    """
    taken: list[tuple[int, int]] = []
    found: list[Outlet] = []
    for alias in sorted(aliases, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", re.IGNORECASE)
        for m in pattern.finditer(question):
            s, e = m.span()
            if not question[s].isupper() or any(s < b and a < e for a, b in taken):
                continue
            taken.append((s, e))
            found.append(Outlet(question[s:e], s, tuple(sorted(aliases[alias]))))
    found.sort(key=lambda o: o.start)
    unique: dict[tuple[str, ...], Outlet] = {}
    for o in found:
        unique.setdefault(o.sources, o)
    return tuple(unique.values())


# Where a question names where something was published: "an article from X", "a report by X",
# "reported by X", "published in X", "X's article", "the X report". The name is one to four
# capitalized words, optionally quoted.
_NAME = r"['\u2018\u201c]?(?P<name>(?:[Tt]he\s+)?[A-Z][\w&.]*(?:\s+(?:of\s+)?[A-Z][\w&.]*){0,3})"
_WORK = r"(?:article|report|piece|story|coverage|op-ed|column|editorial|feature)s?"
_CUES = [
    re.compile(rf"\b{_WORK}\s+(?:from|by|in|published\s+(?:by|in|on))\s+{_NAME}"),
    re.compile(rf"\b(?:reported|published)\s+(?:by|in)\s+{_NAME}"),
    re.compile(rf"(?<!\bof\s)\b(?:an?|the|one)\s+{_NAME}['\u2019\u201d]?(?:'s|\u2019s)?"
               rf"\s+{_WORK}\b"),
]


_CALENDAR = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())


# A second publisher joined to the first: "reported by X and by Y", "an article from X or Y".
_MORE = re.compile(rf"['\u2019\u201d]?\s*(?:,\s*|\s+)(?:and|or)\s+(?:by\s+|in\s+|from\s+)?{_NAME}")


def cited_publishers(question: str) -> list[str]:
    """Names the question gives as the publisher of a report ("a Bloomberg article", "reported
    by The Verge and by The Guardian"), as written."""
    names = []
    for cue in _CUES[:2]:
        for m in cue.finditer(question):
            found = [m.group("name")]
            more = _MORE.match(question, m.end())
            if more:
                found.append(more.group("name"))
            names.extend(found)
    for m in _CUES[2].finditer(question):
        names.append(m.group("name"))
    out = []
    for name in names:
        name = name.strip(" .'\u2019").removeprefix("the ")
        if name and name not in out and name.split()[-1] not in _CALENDAR:
            out.append(name)
    return out


def unknown_publishers(question: str, aliases: dict[str, set[str]]) -> list[str]:
    """Publishers the question names that are none of the archive's sources: what it asks of
    them cannot be found here."""
    out = []
    for name in cited_publishers(question):
        key = " ".join(name.lower().split())
        bare = re.sub(r"^the\s+", "", key)
        if key in aliases or bare in aliases or f"the {bare}" in aliases:
            continue
        if named_outlets(name, aliases):  # "The Verge's" or a longer name holding an outlet
            continue
        out.append(name)
    return out


_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_ORD = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"\b(?:(?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}}){_ORD},?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<m2>{_MONTH})\.?,?\s+(?P<y2>\d{{4}})"
    r"|\d{4}-\d{2}-\d{2})\b")


def named_dates(question: str) -> tuple[NamedDate, ...]:
    """The full calendar dates the question names ("October 7, 2023", "7 Oct 2023",
    "2023-10-07"), in order."""
    out = []
    for m in _DATE.finditer(question):
        month = m.group("m1") or m.group("m2")
        day, year = m.group("d1") or m.group("d2"), m.group("y1") or m.group("y2")
        month = "Sep" if month == "Sept" else month
        # One written form for the corpus's date parser: "7 Oct 2023" ("%d %b %Y").
        text = f"{day} {month} {year}" if month else m.group()
        iso = normalize_date(text)
        if iso:
            out.append(NamedDate(m.group(), m.start(), iso))
    return tuple(out)


def analyze(question: str, sources: Iterable[str] = (),
            aliases: dict[str, set[str]] | None = None) -> Analysis:
    """The form of answer the question needs, the outlets (of `sources`, or of their
    `outlet_aliases` when given) it names, the publishers it names that are none of them, and
    the dates it names."""
    if aliases is None:
        aliases = outlet_aliases(sources)
    options = choice_options(question)
    return Analysis(question, is_yes_no(question) or bool(options),
                    named_outlets(question, aliases), tuple(unknown_publishers(question, aliases)),
                    named_dates(question), options)


# Frequent function words, enough to tell an English question from one in another language
# (the bundled embedding model, all-MiniLM-L6-v2, was trained on English text only).
_ENGLISH = frozenset("""
the a an of to in on at for from by with about and or is are was were be been do does did has
have had will would can could should what who whom whose which when where why how did not it
he she they this that these those there said say says
""".split())
_OTHER = frozenset("""
der die das und ist sind wer was wie wo warum wann nicht ein eine einen dem den des mit von zu
auf für le la les est sont qui que quoi où pourquoi quand comment une des du au aux avec pour
dans el los las es son quién qué cómo dónde cuándo por qué una con para del al é são quem quando
onde porque como uma com il lo gli che chi cosa perché di della het een wie wat waar waarom
niet zijn van met voor och är vem vad hur och inte ett
""".split())


def looks_english(question: str) -> bool:
    """Whether the question is written in English: mostly Latin letters, and not more of
    another language's function words than of English ones (a name or a single word is
    taken as English)."""
    letters = [ch for ch in question if ch.isalpha()]
    if not letters:
        return True
    latin = sum(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters)
    if latin / len(letters) < 0.5:
        return False
    words = re.findall(r"[^\W\d_]+", question.lower())
    english = sum(w in _ENGLISH for w in words)
    other = sum(w in _OTHER and w not in _ENGLISH for w in words)
    return other < 2 or english >= other
