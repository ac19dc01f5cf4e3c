"""Question analysis, evidence diversity and the verdict form of answers — fast, no model."""

from __future__ import annotations

import pytest

from qa.answer import build_prompt, judge, verify
from qa.answer.judge import Thresholds
from qa.question import analyze, is_yes_no, named_dates, named_outlets, outlet_aliases
from qa.records import Passage

SOURCES = ["The Harbour Ledger", "Valley Wire", "The Independent - Sports",
           "The Independent - Travel", "The Age", "Wired", "Orbit News | Space Desk"]


@pytest.mark.parametrize(("question", "expected"), [
    ("Did the Harbour Ledger report the ferry strike before Valley Wire did?", True),
    ("Was there a change in how Valley Wire described the dam project?", True),
    ("Has the council's position stayed the same between the two reports?", True),
    ("Who opened the new bridge?", False),
    ("Which outlet reported the strike first, the Harbour Ledger or Valley Wire?", False),
    ("Is the new terminal in the north or the south of the port?", False),
    ("Is it true or not that the ferry strike ended?", True),
    ("Between the Valley Wire report of May 2 and the one of May 9, was there a change in the "
     "strike's cause?", True),
    ("After the Harbour Ledger reported the strike, did Valley Wire report its end?", True),
    ("After the strike ended, who paid the crews?", False),
    ("In the report on the strike, which union led it?", False),
    ("Considering the Harbour Ledger and Valley Wire reports, which port, known for its "
     "ferries, is both facing a strike and planning a new terminal?", False),
    ("Given the reports on the strike, who, according to Valley Wire, was paid, and was it "
     "the crews?", False),
    # the "No" restated as a question of its own: still a verdict on the first
    ("Do the Harbour Ledger and Valley Wire agree on the crews' pay, or do they give "
     "different figures?", True),
    ("Has the Ledger kept its view of the strike, or has there been a change in its tone?",
     True),
    ("Did the mayor speak first, or did the governor?", False),
    ("Regarding the ferry strike, did Valley Wire report its end?", True),
    ('After the Ledger quoted the union saying "we will not sail," did Valley Wire report '
     "the strike's end?", True),
])
def test_yes_no_questions_are_told_apart(question: str, expected: bool) -> None:
    assert is_yes_no(question) is expected


def test_outlets_named_in_a_question_map_to_the_archive_sources() -> None:
    aliases = outlet_aliases(SOURCES)
    q = ("Did The Harbour Ledger and 'Valley Wire' agree, and what did The Independent and "
         "Orbit News say, according to The Age?")
    found = named_outlets(q, aliases)
    assert [o.sources for o in found] == [
        ("The Harbour Ledger",), ("Valley Wire",),
        ("The Independent - Sports", "The Independent - Travel"), ("Orbit News | Space Desk",),
        ("The Age",)]
    assert found[0].mention == "The Harbour Ledger"


def test_outlet_names_must_be_proper_names_and_whole_words() -> None:
    aliases = outlet_aliases(SOURCES)
    assert named_outlets("How is the hard-wired network of the city built?", aliases) == ()
    assert named_outlets("How old is the wired network?", aliases) == ()
    assert named_outlets("At what Age do the players retire?", aliases) == ()  # not "The Age"
    assert [o.sources for o in named_outlets("What did Wired say?", aliases)] == [("Wired",)]
    assert named_outlets("What did the Ledger Times say?", aliases) == ()


@pytest.mark.parametrize(("text", "dates"), [
    ("published on October 7, 2023, and on Oct. 30 2023", ["2023-10-07", "2023-10-30"]),
    ("on 2023-11-24 and on the 4th of November 2015", ["2023-11-24", "2015-11-04"]),
    ("Sept 5, 2023 or September 6, 2023", ["2023-09-05", "2023-09-06"]),
    ("May 3rd, 2022, June 1 2024 and 2 Jul. 2023", ["2022-05-03", "2024-06-01", "2023-07-02"]),
    ("on Feb 30, 2023, in October 2023 or on Monday", []),
])
def test_calendar_dates_in_a_question(text: str, dates: list[str]) -> None:
    assert [d.iso for d in named_dates(text)] == dates


def test_analysis_combines_form_and_outlets() -> None:
    a = analyze("Does Valley Wire report a strike?", SOURCES)
    assert a.yes_no and [o.mention for o in a.outlets] == ["Valley Wire"]


LEDGER = ("The Harbour Ledger reported on Monday that the ferry crews ended their strike after "
          "the port authority agreed to a 6 percent raise.")
WIRE = ("Valley Wire wrote that the ferry crews returned to work on Tuesday once the raise of "
        "6 percent was signed.")


def _p(text: str, n: int, source: str, date: str = "2024-03-04") -> Passage:
    return Passage(chunk_id=f"a{n}@1#0", article_id=f"a{n}", title=f"Strike story {n}",
                   text=text, start=0, end=len(text), source=source, date=date, score=0.6)


PASSAGES = [_p(LEDGER, 1, "The Harbour Ledger"), _p(WIRE, 2, "Valley Wire", "2024-03-05")]
QUESTION = ("Do The Harbour Ledger and Valley Wire both report that the ferry crews got a raise "
            "of 6 percent?")


def test_sources_reach_the_model_with_outlet_date_and_title() -> None:
    prompt = build_prompt(QUESTION, PASSAGES, yes_no=True)
    user = prompt.messages[-1]["content"]
    assert 'Source [1]: (The Harbour Ledger, 2024-03-04, "Strike story 1") ' in user
    assert 'Source [2]: (Valley Wire, 2024-03-05, "Strike story 2") ' in user
    assert "Start with Yes or No" in user and user.endswith(QUESTION)
    assert prompt.sources == [LEDGER, WIRE]
    assert "Start with Yes or No" not in build_prompt("Who struck?", PASSAGES).messages[-1][
        "content"]


def test_a_verdict_stands_on_its_verified_sentences() -> None:
    reply = ("Yes, the Harbour Ledger says the strike ended with a 6 percent raise [1] and "
             "Valley Wire says the crews returned once the raise was signed [2].")
    v = verify(QUESTION, reply, PASSAGES, yes_no=True)
    assert not v.refused and v.text.startswith("Yes. The Harbour Ledger says")
    assert [c.article_id for c in v.citations] == ["a1", "a2"]
    for c in v.citations:
        assert c.passage[c.start:c.end] == c.quote
    # The same verdict over a sentence no source states: no verdict survives.
    bad = verify(QUESTION, "Yes. Both papers say the crews won a 9 percent raise in June [1].",
                 PASSAGES, yes_no=True)
    assert bad.refused and "9 percent" in bad.unsupported[0]
    # A bare verdict proves nothing.
    assert verify(QUESTION, "No.", PASSAGES, yes_no=True).refused


def test_a_yes_no_answer_is_judged_on_both_reports() -> None:
    reply = "No. The Harbour Ledger reports a 6 percent raise [1]; Valley Wire reports it too [2]."
    j = judge(QUESTION, reply, PASSAGES, Thresholds(), yes_no=True)
    assert not j.refused and j.verified.text.startswith("No. ")
    # Evidence is what the cited passages cover together.
    alone = judge(QUESTION, "Yes. The Harbour Ledger reports a 6 percent raise [1].",
                  PASSAGES[:1], Thresholds(), yes_no=True)
    assert j.verified.evidence > alone.verified.evidence


@pytest.mark.parametrize(("question", "unknown"), [
    ("What did a Morning Courier article say about the ferry strike?", ["Morning Courier"]),
    ("According to an article from The Coast Gazette, who ended the strike?",
     ["The Coast Gazette"]),
    ("Was the raise reported by Valley Wire and by the Daily Beacon?", ["Daily Beacon"]),
    ("Did The Harbour Ledger's report and the Valley Wire article agree on the raise?", []),
    ("What did the Orbit News piece published on October 3 say?", []),
    ("Who was named in the 'Rookie of the Year Odds' article from Valley Wire?", []),
    ("What did the report on the Harbour Authority say about the raise?", []),
    ("Who ended the strike?", []),
])
def test_publishers_the_archive_lacks_are_found(question: str, unknown: list[str]) -> None:
    assert list(analyze(question, SOURCES).unknown) == unknown


def test_a_question_about_an_outlet_the_archive_lacks_is_refused_with_the_reason() -> None:
    j = judge("What did the Morning Courier report say?", "", PASSAGES, Thresholds(),
              unknown_outlets=["Morning Courier"])
    assert j.refused and j.reason == "the named outlet is not in the archive (Morning Courier)"


@pytest.mark.parametrize(("question", "options"), [
    ("Were the Harbour Ledger's reports on the strike consistent or inconsistent?",
     ("Consistent", "Inconsistent")),
    ("Between the May 2 and May 9 reports, did Valley Wire agree or disagree on the cause?",
     ("Agree", "Disagree")),
    ("Did the crews return to work before or after the raise was signed?", ("Before", "After")),
    ("Does the Valley Wire article show a larger or smaller raise than the Ledger's?",
     ("Larger", "Smaller")),
    ("Did the Harbour Ledger report a win or a loss for the union?", ("Win", "Loss")),
    ("Which outlet reported the strike first, the Harbour Ledger or Valley Wire?",
     ("Harbour Ledger", "Valley Wire")),
    ("Which outlet said the raise was 6 percent? The Harbour Ledger or Valley Wire?",
     ("The Harbour Ledger", "Valley Wire")),
    ("Given the two reports, is the Ledger's figure in line with Valley Wire's? "
     "(consistent/inconsistent)", ("Consistent", "Inconsistent")),
    ("Did the Ledger report the strike's end? (yes/no)", ()),
    ("Do the Harbour Ledger and Valley Wire agree on the crews' pay, or do they give "
     "different figures?", ("Agree", "Disagree")),
    ("Did both outlets report the same fee, or is there a discrepancy between them?",
     ("Same", "Different")),
    ("Do both reports say the crews went home, or do they give different accounts?", ()),
    # alternatives that are not a choice: Yes or No answers them, or a thing is asked for
    ("Did the Ledger report on the crews' wages or hours?", ()),
    ("Is the new terminal in the north or the south of the port?", ()),
    ("Is it true or not that the ferry strike ended?", ()),
    ("Did the mayor speak first, or the governor?", ()),
    ("Did the crew repair it or unit 7?", ()),
    ("Who was consistent or inconsistent in the talks?", ()),
    ("Which union, the Dockers or the Deckhands, called the strike?", ()),
])
def test_choice_questions_offer_their_alternatives(question: str, options: tuple) -> None:
    asked = analyze(question, SOURCES)
    assert asked.options == options
    assert asked.verdicts == (options or ("Yes", "No"))
    if options:
        assert asked.yes_no  # answered like a verdict: the choice, then the quoted facts
    # A word and its opposite are asked as a yes/no question on the first; names are offered.
    assert asked.opposites == (bool(options) and options[0] not in (
        "Harbour Ledger", "The Harbour Ledger"))


def test_a_choice_is_verified_like_a_verdict() -> None:
    q = "Were the Harbour Ledger and Valley Wire reports of the raise consistent or inconsistent?"
    passages = [_p(LEDGER, 1, "The Harbour Ledger"), _p(WIRE, 2, "Valley Wire")]
    reply = f"Consistent. {LEDGER} [1] {WIRE} [2]"
    v = verify(q, reply, passages, yes_no=True, verdicts=("Consistent", "Inconsistent"))
    assert not v.refused and v.text.startswith("Consistent. The Harbour Ledger reported")
    bare = verify(q, "Inconsistent.", passages, yes_no=True,
                  verdicts=("Consistent", "Inconsistent"))
    assert bare.refused  # a choice alone proves nothing
    prompt = build_prompt(q, passages, yes_no=True, options=("Consistent", "Inconsistent"))
    assert "by choosing Consistent or Inconsistent" in prompt.messages[1]["content"]
    prompt = build_prompt(q, passages, yes_no=True, options=("Consistent", "Inconsistent"),
                          opposites=True)
    assert ("Answer Yes if the sources show consistent, or No if they show inconsistent"
            in prompt.messages[1]["content"])
