"""Refusals that say why: filters nothing passes, a reversed date range, a question not in
English, no passage close enough (real index and embeddings, scripted LLM)."""

from __future__ import annotations

import pytest

from qa import rebuild
from qa.answer.judge import DECLINED, OFF_TOPIC, refused_answer
from qa.engine import NOT_CLOSE, NOT_ENGLISH, Engine, _with_reason
from qa.errors import ConfigError
from qa.models import ScriptedLLM
from qa.question import looks_english
from qa.retrieve import Filters

from .helpers import SEED_QUESTION

HARBOUR = """---
title: Harbour cranes return to Kestrel Bay
source: Valley Wire
date: 2024-03-05
---
The port authority of Kestrel Bay said on Tuesday that four new cranes will unload container
ships from April, after a storm wrecked the old ones in January.
"""


@pytest.fixture
def engine(settings, embedder):
    (settings.corpus_dir / "harbour.md").write_text(HARBOUR)
    rebuild(settings, embedder=embedder)
    return Engine(settings, llm=ScriptedLLM(["Four new cranes will unload ships [1]."]),
                  embedder=embedder)


def test_source_filter_ignores_case(engine) -> None:
    a = engine.ask("When will the new cranes unload ships?", filters={"sources": ["valley WIRE"]})
    assert not a.refused, a.text
    assert {p.article_id for p in a.passages} == {"harbour.md"}


def test_source_nothing_has_is_refused_naming_the_known_sources(engine) -> None:
    a = engine.ask(SEED_QUESTION, filters={"sources": ["Nonexistent Paper"]})
    assert a.refused and a.passages == [] and engine.llm.calls == []
    assert "'Nonexistent Paper'" in a.text and "Valley Wire" in a.text
    assert a.reason == a.text


def test_dates_nothing_has_are_refused_with_the_archive_span(engine) -> None:
    a = engine.ask(SEED_QUESTION, filters={"since": "1990-01-01", "until": "1990-12-31"})
    assert a.refused and engine.llm.calls == []
    assert "from 1990-01-01 to 1990-12-31" in a.text and "2024-03-05 to 2024-03-05" in a.text
    b = engine.ask(SEED_QUESTION, filters={"sources": ["Valley Wire"], "until": "2020-01-01"})
    assert b.refused and "from Valley Wire" in b.text and "on or before 2020-01-01" in b.text


def test_reversed_or_bad_dates_name_the_field() -> None:
    with pytest.raises(ConfigError, match="--since 2024-05-01 is after --until 2024-01-01.*Swap"):
        Filters.make(since="2024-05-01", until="2024-01-01")
    with pytest.raises(ConfigError, match="^From date 'soon' is not a date; use YYYY-MM-DD"):
        Filters.make(since="soon", labels=("From date", "Until date"))


def test_question_not_in_english_is_refused_saying_so(engine) -> None:
    engine.llm.replies = ["Das steht nicht in den Artikeln."]
    a = engine.ask("Wen hat Russland nach Moskau eingeladen und warum?")
    assert a.refused and a.text == NOT_ENGLISH


@pytest.mark.parametrize("question,english", [
    ("Who did Russia invite to Moscow?", True),
    ("Was Lavrov in Moscow?", True),
    ("Gazprom?", True),
    ("Wen hat Russland nach Moskau eingeladen und warum?", False),
    ("Qui la Russie a-t-elle invité à Moscou et pourquoi?", False),
    ("¿A quién invitó Rusia a Moscú y por qué?", False),
    ("Кого Россия пригласила в Москву?", False),
    ("俄罗斯邀请了谁去莫斯科？", False),
])
def test_looks_english(question, english) -> None:
    assert looks_english(question) is english


def test_refusal_reason_shown_only_when_the_user_can_act_on_it() -> None:
    off = refused_answer("What is the capital of France?", [], 0.0, reason=OFF_TOPIC)
    assert _with_reason(off).text == NOT_CLOSE
    declined = refused_answer("What is the capital of France?", [], 0.0, reason=DECLINED)
    assert _with_reason(declined).text == "The articles don't say."
