"""Claims of the model's reply checked against the passages they cite, with exact quotes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.question import VERDICTS
from qa.records import Citation, Passage
from qa.text import content_tokens, sentence_spans

REFUSAL_TEXT = "The articles don't say."


# --- parsing the model's reply -----------------------------------------------------------------

_MARKER = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_REFUSAL = re.compile(
    r"\bnot\s+found\b|\b(do(es)?\s+not|don't|doesn't)\s+(contain|mention|say|provide|include|"
    r"specify|state)|\bno\s+(information|mention)\b|\bnot\s+(mentioned|specified|provided|stated)\b"
    r"|\bcannot\s+(be\s+)?(answer|determin|found)|\bunable\s+to\b",
    re.IGNORECASE,
)


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


def is_refusal(text: str) -> bool:
    return not strip_markers(text) or bool(_REFUSAL.search(text))


@dataclass
class Claim:
    sentence: str  # without markers
    cited: list[int]  # 1-based source numbers as the model wrote them


def parse_claims(reply: str) -> list[Claim]:
    """Split the reply into sentences with the [n] markers that follow each."""
    text = reply.strip()
    # Chat-template leftovers and stray prefixes of small models.
    text = re.sub(r"^(answer|a)\s*:\s*", "", text, flags=re.IGNORECASE)
    # "[1]: Paris." — a leading marker with a colon cites the sentence after it.
    text = re.sub(r"(?:^|(?<=\s))((?:\[\d{1,3}\])+)\s*:\s*([^\[]+?)(?=\s*\[\d|$)", r"\2 \1", text)
    claims: list[Claim] = []
    for s, e in sentence_spans(text):
        raw = text[s:e]
        cited = [int(n) for m in _MARKER.finditer(raw) for n in re.split(r"\s*,\s*", m.group(1))]
        sentence = drop_unmatched_brackets(strip_markers(raw)).strip()
        if not sentence or re.fullmatch(r"[\W_]+", sentence):
            # A marker standing alone after the full stop belongs to the previous sentence.
            if claims and cited:
                claims[-1].cited.extend(cited)
            continue
        claims.append(Claim(sentence, cited))
    return claims


def drop_unmatched_brackets(text: str) -> str:
    """The text without the "[" or "]" that has no partner, left when a marker was taken out
    ("Doreen Achebe] filed"), and without the pair that opens it ("[Doreen Achebe] filed"):
    small models bracket a sentence's subject as if it were a source."""
    unmatched: set[int] = set()
    opened: list[int] = []
    for i, ch in enumerate(text):
        if ch == "[":
            opened.append(i)
        elif ch == "]":
            if not opened:
                unmatched.add(i)
            elif opened.pop() == 0:
                unmatched.update((0, i))
    unmatched.update(opened)
    return "".join(ch for i, ch in enumerate(text) if i not in unmatched)


# --- support scores ----------------------------------------------------------------------------


def support(claim_tokens: set[str], question_tokens: set[str], passage_tokens: set[str]) -> float:
    """How much of what the sentence adds beyond the question is found in the passage (0..1).

    Words the question already has prove nothing; the new words (names, numbers, facts) must
    come from the passage. A sentence that only restates the question answers nothing: 0.
    """
    new = claim_tokens - question_tokens
    if not new:
        return 0.0
    return len(new & passage_tokens) / len(new)


# --- quotes ------------------------------------------------------------------------------------

def best_quote(
    claim_tokens: set[str], question_tokens: set[str], passage: Passage
) -> tuple[int, int, float]:
    """The shortest span of the passage (one or two of its sentences) that best supports the
    claim, as absolute article offsets (start, end) and its support score."""
    spans = sentence_spans(passage.text)
    if not spans:
        spans = [(0, len(passage.text))]
    candidates = spans + [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    best = None
    for s, e in candidates:
        score = support(claim_tokens, question_tokens, set(content_tokens(passage.text[s:e])))
        key = (score, -(e - s))
        if best is None or key > best[0]:
            best = (key, s, e)
    assert best is not None
    (score, _), s, e = best
    return passage.start + s, passage.start + e, score


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    text: str
    citations: list[Citation]
    unsupported: list[str]
    refused: bool  # no sentence of the reply is supported (the judge decides what to answer)
    evidence: float = 0.0  # how much of the question the cited passages cover (idf-weighted)
    declined: bool = False  # the reply itself says the sources do not answer


def coverage(question_tokens: set[str], passage_tokens: set[str],
             idf: Callable[[str], float] | None = None) -> float:
    """Share of the question's content words found in the passage, rare words weighing more."""
    if not question_tokens:
        return 0.0
    w = idf or (lambda t: 1.0)
    total = sum(w(t) for t in question_tokens)
    return sum(w(t) for t in question_tokens & passage_tokens) / total if total else 0.0


def split_verdict(reply: str, verdicts: Sequence[str] = VERDICTS) -> tuple[str, str]:
    """(the verdict the reply opens with, as offered, or "", the rest) of a reply to a yes/no
    or choice question. The verdict may follow a stray marker ("[1]: Yes")."""
    words = "|".join(re.escape(w) for w in sorted(verdicts, key=len, reverse=True))
    m = re.match(rf"^\W*(?:\[\d{{1,3}}\]\W*)*({words})(?!\w)[\s,.!:;\u2014-]*", reply,
                 re.IGNORECASE)
    if not m:
        return "", reply
    said = m.group(1).lower()
    return next(w for w in verdicts if w.lower() == said), reply[m.end():]


_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand million billion trillion first second third fourth fifth sixth "
    "seventh eighth ninth tenth once twice half".split())
_NAMEISH = re.compile(r"(?<![\w'])(?:[A-Z][\w'&-]*|\d[\d.,]*)")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|nobody|nothing|without)\b|n't\b",
                       re.IGNORECASE)


# Words that turn a fact around ("31 voted against" of "voted 31 to 9 to approve").
_POLARITY = frozenset(
    "against oppose opposed opposes opposing reject rejected rejects deny denied denies refuse "
    "refused refuses lose lost loses fail failed fails ban banned bans block blocked blocks "
    "cancel cancelled canceled cancels".split())


def key_tokens(sentence: str) -> set[str]:
    """The sentence's names, numbers and words that reverse a fact (capitalized words after
    its first, digits, number words, "against", "rejected", ...), as content tokens: what a
    passage must state exactly, not only share in part."""
    words = [m.group() for m in _NAMEISH.finditer(sentence) if m.start() > 0]
    words += [w for w in re.findall(r"[A-Za-z]+", sentence)
              if w.lower() in _NUMBER_WORDS or w.lower() in _POLARITY]
    return set(content_tokens(" ".join(words)))


def contradicts(sentence: str, question: str, passage_text: str) -> bool:
    """True when the sentence negates where neither the question nor the passage does (a
    hallucinated answer often denies what the passage says)."""
    return bool(_NEGATION.search(sentence)) and not _NEGATION.search(question) \
        and not _NEGATION.search(passage_text)


def _supporters(toks: set[str], basis: set[str], p_tokens: list[set[str]], scores: list[float],
                cited: list[int], threshold: float) -> list[int]:
    """The passages that support a sentence: its cited ones that each do; else the passage that
    supports it best, if it does; else the fewest passages (at most three, its cited ones
    first) that support it together, each adding some of its words (a sentence comparing two
    reports rests on both). `scores` are each passage's `support` of the sentence alone."""
    good = [i for i in cited if scores[i] >= threshold]
    if good:
        return good
    best = max(range(len(p_tokens)), key=lambda i: (scores[i], i in cited))
    if scores[best] >= threshold:
        return [best]
    chosen: list[int] = []
    covered: set[str] = set()
    order = sorted(range(len(p_tokens)), key=lambda i: (i not in cited, -scores[i]))
    for _ in range(3):
        gain = {i: len((toks - basis) & p_tokens[i] - covered) for i in order if i not in chosen}
        pick = max(gain, key=lambda i: gain[i], default=None)
        if pick is None or gain[pick] == 0:
            break
        chosen.append(pick)
        covered |= p_tokens[pick]
        if support(toks, basis, covered) >= threshold:
            return sorted(chosen)
    return []


def _stating(sentence: str, question: str, q_tokens: set[str], passages: list[Passage],
             p_tokens: list[set[str]], good: list[int]) -> list[int]:
    """`good` when those passages (with the question) state every name and number of the
    sentence and do not contradict it, else []: "Norwegian Juniper" is not supported by
    "Nordic Juniper", nor 1997 by 1987."""
    if not good:
        return []
    stated = set().union(q_tokens, *(p_tokens[i] for i in good))
    if not key_tokens(sentence) <= stated or contradicts(
            sentence, question, " ".join(passages[i].text for i in good)):
        return []
    return good


def verify(
    question: str, reply: str, passages: list[Passage], threshold: float = 0.5,
    idf: Callable[[str], float] | None = None, yes_no: bool = False,
    verdicts: Sequence[str] = VERDICTS,
) -> Verified:
    """Check every sentence of the reply against the passages.

    Out-of-range markers are dropped. A sentence whose cited passage does not support it is
    re-attached to the passage that does, or reported as unsupported and left out of the answer.
    Citations are renumbered in order of first use, each with the quote that supports it.

    For a yes/no question the reply's leading verdict is kept only when a sentence after it is
    supported, and those sentences may use the question's own words (they restate what it asks
    about): the words the passages must hold are all of the sentence's.
    """
    verdict, reply = split_verdict(reply, verdicts) if yes_no else ("", reply)
    if is_refusal(reply) or not passages:
        return Verified(REFUSAL_TEXT, [], [], refused=True, declined=bool(passages))
    q_tokens = set(content_tokens(question))
    basis = set() if verdict else q_tokens
    # A source's outlet counts as stated by it ("The Verge reports ..."): the model is told it.
    p_tokens = [set(content_tokens(f"{p.text} {p.source}")) for p in passages]
    kept: list[tuple[str, list[int]]] = []
    unsupported: list[str] = []
    quotes: dict[int, tuple[int, int]] = {}
    backing: set[int] = set()  # every passage that supports a kept sentence, cited or not
    for claim in parse_claims(reply):
        toks = set(content_tokens(claim.sentence))
        if not toks:
            continue
        cited = [n - 1 for n in dict.fromkeys(claim.cited) if 1 <= n <= len(passages)]
        scores = [support(toks, basis, pt) for pt in p_tokens]
        good = _stating(claim.sentence, question, q_tokens, passages, p_tokens,
                        _supporters(toks, basis, p_tokens, scores, cited, threshold))
        if not good and cited:
            # The cited passage shares the sentence's words but not its names: another passage
            # may state them all ("The All Blacks" cited to a passage that says "all" only).
            good = _stating(claim.sentence, question, q_tokens, passages, p_tokens,
                            _supporters(toks, basis, p_tokens, scores, [], threshold))
        if not good:
            unsupported.append(claim.sentence)
            continue
        backing.update(good)
        backing.update(i for i, score in enumerate(scores) if score >= threshold)
        for i in good:
            if i not in quotes:
                s, e, _ = best_quote(toks, basis, passages[i])
                quotes[i] = (s, e)
        kept.append((claim.sentence, good))
    if not kept:
        return Verified(REFUSAL_TEXT, [], unsupported, refused=True)
    # Together the passages behind the answer must be about the question: a question about two
    # or three reports is covered by no single one of them.
    evidence = coverage(q_tokens, set().union(*(p_tokens[i] for i in backing)), idf)

    text, citations = _numbered(kept, passages, quotes)
    if verdict:
        text = f"{verdict}. {text[:1].upper()}{text[1:]}"
    return Verified(text, citations, unsupported, refused=False, evidence=evidence)


def _numbered(kept: list[tuple[str, list[int]]], passages: list[Passage],
              quotes: dict[int, tuple[int, int]]) -> tuple[str, list[Citation]]:
    """The kept sentences with their passages renumbered in order of first use, and one
    citation (with its quote) per number."""
    numbering: dict[int, int] = {}
    parts = []
    for sentence, idxs in kept:
        for i in idxs:
            numbering.setdefault(i, len(numbering) + 1)
        marks = "".join(f"[{numbering[i]}]" for i in idxs)
        parts.append(f"{sentence.rstrip()} {marks}")
    citations = []
    for i, number in sorted(numbering.items(), key=lambda kv: kv[1]):
        p = passages[i]
        s, e = quotes[i]
        citations.append(
            Citation(
                number=number, article_id=p.article_id, title=p.title, url=p.url, date=p.date,
                source_path=p.source_path, passage=p.text,
                quote=p.text[s - p.start : e - p.start], start=s, end=e, score=p.score,
            )
        )
    return " ".join(parts), citations
