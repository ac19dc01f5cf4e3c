"""A yes/no answer: the verdict the model finds likelier, then the sentences it rests on.

The model reads the same prompt as for a written answer, and its verdict is taken from the
probabilities of "Yes" and "No" as its first word, so a small model that would otherwise
decline or restate the question still commits to one. The sentences after the verdict are not
written by the model: for each report the question names (or the two best passages) the
sentence of the passage that covers most of the question is quoted, so every word after the
verdict is the source's own and the judge still decides, from those quotes, whether the
passages are about the question at all.
"""

from __future__ import annotations

from collections.abc import Callable

from qa.answer.verify import coverage
from qa.question import VERDICTS, Analysis
from qa.records import Passage
from qa.text import content_tokens, sentence_spans

MAX_QUOTES = 3
UNNAMED_QUOTES = 2  # a question that names no report: the two best passages of two articles


def verdict_word(probabilities: dict[str, float]) -> str:
    """The verdict the model finds likelier ("Yes" or "No", or one of a choice question's
    alternatives); the first one offered on a tie."""
    return max(probabilities, key=lambda word: probabilities[word])


def offered(asked: Analysis) -> tuple[str, ...]:
    """The words the model's reply is scored on: Yes and No for a choice between a word and
    its opposite (the prompt asks it as a yes/no question on the first word)."""
    return VERDICTS if asked.opposites else asked.verdicts


def verdict_for(asked: Analysis, probabilities: dict[str, float]) -> str:
    """The verdict word of the answer from the probabilities of the `offered` words: for a
    choice of opposites, the first alternative on "Yes", the second on "No"."""
    word = verdict_word(probabilities)
    if asked.opposites:
        return asked.options[0] if word == VERDICTS[0] else asked.options[1]
    return word


def evidence_passages(asked: Analysis, passages: list[Passage]) -> list[int]:
    """Indexes of the passages the verdict rests on: the best one of each outlet the question
    names, in the order it names them; else the best of the first two articles."""
    picked: list[int] = []
    for outlet in asked.outlets:
        for i, p in enumerate(passages):
            if p.source in outlet.sources and i not in picked:
                picked.append(i)
                break
    if not picked:
        articles: set[str] = set()
        for i, p in enumerate(passages):
            if p.article_id not in articles:
                articles.add(p.article_id)
                picked.append(i)
            if len(picked) == UNNAMED_QUOTES:
                break
    return picked[:MAX_QUOTES]


def best_sentence(question: str, text: str,
                  idf: Callable[[str], float] | None = None) -> str:
    """The sentence of `text` that covers most of the question's words (the first on a tie)."""
    q = set(content_tokens(question))
    best, best_score = "", -1.0
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        score = coverage(q, set(content_tokens(sentence)), idf)
        if score > best_score:
            best, best_score = sentence, score
    return best


def yes_no_reply(word: str, question: str, asked: Analysis, passages: list[Passage],
                 idf: Callable[[str], float] | None = None) -> str:
    """The reply judged like a written one: the verdict, then one quoted sentence per
    evidence passage with its source number."""
    quotes = []
    for i in evidence_passages(asked, passages):
        sentence = best_sentence(question, passages[i].text, idf)
        if sentence:
            quotes.append(f"{sentence} [{i + 1}]")
    return " ".join([f"{word}."] + quotes)
