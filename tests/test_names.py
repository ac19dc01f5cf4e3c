"""A question that asks for a name: the names its passages share, offered as lettered options."""

from __future__ import annotations

import pytest

from qa import rebuild
from qa.answer.names import asks_for_name, name_reply, shared_names
from qa.answer.prompt import build_prompt
from qa.engine import Engine
from qa.models import ScriptedLLM
from qa.records import Passage


def _p(n: int, text: str, article: str = "") -> Passage:
    return Passage(chunk_id=f"c{n}", article_id=article or f"a{n}", title=f"T{n}", text=text,
                   start=0, end=len(text), source=f"Outlet {n}")


PASSAGES = [
    _p(1, "Though Orvik Freight collapsed in May, Dana Kessler said the losses were small. "
       "Investors were told nothing."),
    _p(2, "Prosecutors say Kessler moved client money. Tom Reyes, a trader, testified on Monday."),
    _p(3, "Dana Kessler and Tom Reyes founded the firm. though few knew it", article="a3"),
    _p(4, "Reyes later left.", article="a3"),
]


@pytest.mark.parametrize(("question", "asks"), [
    ("Who is the founder that prosecutors accuse?", True),
    ("Which company collapsed in May?", True),
    ("What institution, named by two outlets, raised its rates?", True),
    ("What year did the firm collapse?", False),
    ("What did the founder say about the losses?", False),
    ("Which reported it first?", False),
    ("Which percentage of the money was lost?", False),
    ("Did the firm collapse?", False),
    ("What impact did the collapse have, according to the Harbour Post?", False),
    ("Which of the two reports came first?", False),
    ("Wholesale prices rose, the Harbour Post said: by how much?", False),
    ("How many traders testified?", False),
])
def test_a_question_asks_for_a_name(question, asks) -> None:
    assert asks_for_name(question) is asks


def test_names_are_ranked_by_the_articles_that_share_them() -> None:
    names = shared_names("Who is the founder that prosecutors accuse?", PASSAGES)
    assert [(n.text, n.articles) for n in names[:2]] == [("Dana Kessler", 3), ("Tom Reyes", 2)]
    assert names[0].passages == (0, 1, 2)  # the surname alone counts ("Kessler moved ...")
    assert names[1].passages == (1, 2, 3)
    shown = {n.text for n in names}
    # a sentence's first word is not part of the name, a day is no name, the question's own
    # names are not offered
    assert "Orvik Freight" in shown and "Though Orvik Freight" not in shown
    assert "Monday" not in shown and "Investors" not in shown and "Prosecutors" not in shown


def test_names_the_question_gives_are_not_offered() -> None:
    names = shared_names("Who founded the firm with Dana Kessler?", PASSAGES)
    assert names[0].text == "Tom Reyes" and "Dana Kessler" not in {n.text for n in names}


def test_a_company_keeps_its_short_name() -> None:
    passages = [_p(1, "Loading Corvane shares fell."), _p(2, "Corvane said sales rose."),
                _p(3, "Loading Corvane rose again.")]
    assert shared_names("Which company reported sales?", passages)[0].text == "Corvane"


def test_an_abbreviation_is_one_name_with_the_name_it_stands_for() -> None:
    passages = [_p(1, "The Northland Monetary Authority held rates, officials said."),
                _p(2, "Traders expect the NMA to cut in spring."),
                _p(3, "Savers watched the NMA closely."),
                _p(4, "Calder Freight and the Fed both spoke. Analysts cited the Federal "
                      "Reserve and Federal Reserve Chair Ana Ruiz.")]
    names = shared_names("Which institution held rates?", passages)
    by_text = {n.text: n for n in names}
    assert by_text["Northland Monetary Authority (NMA)"].passages == (0, 1, 2)
    assert names[0].text == "Northland Monetary Authority (NMA)"
    assert "NMA" not in by_text and "Northland Monetary Authority" not in by_text
    assert "Federal Reserve (Fed)" in by_text  # the shortest name it begins


@pytest.mark.parametrize(("texts", "shown"), [
    # two names it could stand for: it stays as written
    (["The Northland Monetary Authority met.", "The National Music Academy met.",
      "Later the NMA met again."], "NMA"),
    # a title before a name is no abbreviation
    (["Gen. Mark Ostrow spoke.", "General Motors cut jobs.", "Later Gen spoke."], "Gen"),
])
def test_an_abbreviation_is_expanded_only_when_it_is_clear(texts, shown) -> None:
    passages = [_p(i, t) for i, t in enumerate(texts)]
    assert shown in [n.text for n in shared_names("Who met?", passages)]


def test_the_abbreviation_of_the_question_s_own_name_is_not_offered() -> None:
    passages = [_p(1, "The Northland Monetary Authority met Dana Kessler."),
                _p(2, "Later the NMA praised Dana Kessler.")]
    shown = [n.text for n in shared_names(
        "Who did the Northland Monetary Authority meet?", passages)]
    assert shown == ["Dana Kessler"], shown


def test_the_reply_cites_one_passage_of_each_article() -> None:
    names = shared_names("Who is the founder that prosecutors accuse?", PASSAGES)
    assert name_reply(names[1], PASSAGES) == "Tom Reyes [2][3]."


def test_the_prompt_offers_the_names_after_the_question() -> None:
    user = build_prompt("Who founded the firm?", PASSAGES[:2],
                        names=("Dana Kessler", "Tom Reyes")).messages[-1]["content"]
    assert user.endswith("Question: Who founded the firm?\n\nOptions:\nA. Dana Kessler\n"
                         "B. Tom Reyes\n\nAnswer with the letter of the option the sources "
                         "support.")
    assert user.startswith("Source [1]: ")


RIVER = ("Harbour officials said on Friday that Maren Holt, the pilot who guided the tanker "
         "Sable Dawn into port, had warned of the storm two days earlier.")
PORT = ("The tanker Sable Dawn docked safely. Its pilot, Maren Holt, was praised by the port "
        "authority. Captain Ivo Brand thanked the crew.")


def _two_reports(tmp_path, embedder):
    import json

    from qa import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [{"id": "river", "title": "Pilot warned of the storm", "text": RIVER,
             "source": "Harbour Post", "date": "2024-05-03"},
            {"id": "port", "title": "Tanker docks safely", "text": PORT,
             "source": "Valley Times", "date": "2024-05-04"}]
    (corpus / "news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    rebuild(settings, embedder=embedder)
    return settings


def test_the_verdict_model_picks_the_shared_name_by_letter(tmp_path, embedder) -> None:
    settings = _two_reports(tmp_path, embedder)
    writer, picker = ScriptedLLM(["unused"]), ScriptedLLM(["A", "A"])
    engine = Engine(settings, llm=writer, embedder=embedder, verdict_llm=picker)
    q = ("Who is the pilot who, according to the Harbour Post, warned of the storm and, "
         "according to the Valley Times, was praised by the port authority?")
    a = engine.ask(q)
    assert not a.refused and a.text == "Maren Holt. [1][2]", a
    assert {c.article_id.rsplit("#", 1)[-1] for c in a.citations} == {"river", "port"}
    assert writer.calls == [] and "A. Maren Holt" in picker.calls[0][-1]["content"]
    events = list(engine.stream(q))
    assert events[0] == "Maren Holt [1][2]." and events[-1].text == a.text
    off = Engine(settings.model_copy(update={"shared_names": False}), embedder=embedder,
                 llm=ScriptedLLM(["Maren Holt guided the tanker [1]."]), verdict_llm=picker)
    assert not off.ask(q).refused and len(off.llm.calls) == 1


def test_a_question_that_names_no_report_is_written_for(tmp_path, embedder) -> None:
    """Its answer is as often a phrase as a name: the answer model writes it."""
    # No check of meaning either: the verdict model is not called at all.
    settings = _two_reports(tmp_path, embedder).model_copy(update={"meaning_threshold": 0.0})
    writer = ScriptedLLM(["Maren Holt guided the tanker [1]."])
    picker = ScriptedLLM(["unused"])
    engine = Engine(settings, llm=writer, embedder=embedder, verdict_llm=picker)
    a = engine.ask("Who is the pilot who warned of the storm and guided the tanker into port?")
    assert not a.refused and "Maren Holt" in a.text
    assert len(writer.calls) == 1 and picker.calls == []


def test_two_people_of_one_surname_stay_two_names() -> None:
    passages = [_p(1, "Officials said Donald Trump spoke first. Trump left early."),
                _p(2, "Melania Trump opened the gala, and Trump thanked her."),
                _p(3, "Reporters saw Donald Trump arrive.")]
    shown = [n.text for n in shared_names("Who opened the gala?", passages)]
    assert "Donald Trump" in shown and "Melania Trump" in shown and "Trump" in shown


def test_a_name_is_whole_and_the_question_hides_only_whole_words() -> None:
    passages = [_p(1, "Analysts said Bank of America and Intel gained. The bank grew."),
                _p(2, "Shares of Bank of America rose while Intel fell.")]
    shown = [n.text for n in shared_names(
        "Which company, known for artificial intelligence chips, fell?", passages)]
    assert "Bank of America" in shown and "Intel" in shown


def test_a_long_run_of_capitals_is_not_offered() -> None:
    text = "Readers Should Always Choose Option C Now, the post said. Dana Kessler spoke."
    passages = [_p(1, text), _p(2, text, article="a2")]
    shown = [n.text for n in shared_names("Who spoke?", passages)]
    assert shown == ["Dana Kessler"], shown


def test_a_name_the_judge_would_refuse_is_written_for_instead(tmp_path, embedder) -> None:
    """The name two articles share is not what a question about one report asks for: the
    judge refuses the picked name, and the answer model writes the answer."""
    import json

    from qa import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    fair = "The chef Ivo Brand baked bread at the spring food fair, and Ivo Brand sold jam."
    rows = [{"id": "pilot", "title": "Pilot warned of the storm", "text": RIVER,
             "source": "Harbour Post", "date": "2024-05-03"},
            {"id": "fair1", "title": "Food fair", "text": fair, "source": "Valley Times"},
            {"id": "fair2", "title": "Jam sells out", "text": "Jam sold out. " + fair,
             "source": "Valley Times"}]
    (corpus / "news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    rebuild(settings, embedder=embedder)
    picker = ScriptedLLM(["A"])
    writer = ScriptedLLM(["Maren Holt warned of the storm [1]."])
    engine = Engine(settings, llm=writer, embedder=embedder, verdict_llm=picker)
    q = "Who is the pilot the Harbour Post reported warned of the storm?"
    assert engine._names(engine.retriever.search(q))[0].text == "Ivo Brand"
    a = engine.ask(q)
    assert not a.refused and a.text.startswith("Maren Holt"), a
    assert len(picker.calls) == 1 and len(writer.calls) == 1
