"""Questions written for this test over real news articles (../shared/eval/news), answered by
the real bundled LLM over real Chroma and embeddings: one of each kind the news set has."""

from __future__ import annotations

import json

import pytest

from qa import Settings, rebuild
from qa.engine import Engine

from .helpers import ROOT, SHARED

pytestmark = pytest.mark.slow

NEWS = SHARED / "eval" / "news"
# Two reports on one team's manager from two outlets, two on one couple from one outlet, and
# three unrelated ones, so that retrieval has to find the named reports.
ARTICLES = ("mhr-a571", "mhr-a330", "mhr-a360", "mhr-a159", "mhr-a402", "mhr-a461", "mhr-a126")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("news")
    (root / "corpus").mkdir()
    rows = [json.loads(line) for line in (NEWS / "articles.jsonl").read_text().splitlines()]
    keep = [r for r in rows if r["id"] in ARTICLES]
    assert len(keep) == len(ARTICLES)
    (root / "corpus" / "news.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                        model_cache_dir=ROOT / "indexes" / "models")
    rebuild(settings)
    return Engine(settings)


def _articles(answer) -> set[str]:
    return {c.article_id.rsplit("#", 1)[-1] for c in answer.citations}


def test_an_entity_named_by_one_outlet(engine) -> None:
    a = engine.ask("Which app did TechCrunch report is back in operation after Apple tried to "
                   "shut it down?")
    assert not a.refused and "Beeper Mini" in a.text and _articles(a) == {"mhr-a402"}
    for c in a.citations:
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


def test_two_outlets_reports_are_both_retrieved(engine) -> None:
    q = "Did both Sky Sports and The Guardian report on Erik ten Hag at Manchester United?"
    found = engine.retriever.search(q)
    sources = {p.source for p in found.passages}
    assert {"Sky Sports", "The Guardian"} <= sources
    assert [o.mention for o in found.asked.outlets] == ["Sky Sports", "The Guardian"]


def test_a_dated_report_is_found_by_outlet_and_date(engine) -> None:
    found = engine.retriever.search("What did The Independent report on October 19, 2023 about "
                                    "Will Smith?")
    assert found.passages[0].article_id.endswith("mhr-a159")


def test_a_yes_no_question_is_asked_for_a_verdict_over_both_reports(engine) -> None:
    q = "Did both Sky Sports and The Guardian report on Erik ten Hag at Manchester United?"
    user = engine.prompt(engine.retriever.search(q)).messages[-1]["content"]
    assert "Start with Yes or No" in user
    assert "(Sky Sports, 2023-10-28, " in user and "(The Guardian, 2023-10-28, " in user
    a = engine.ask(q)
    assert not a.refused and a.text.startswith(("Yes. ", "No. "))
    assert {engine.article(c.article_id).source for c in a.citations} == {"Sky Sports",
                                                                          "The Guardian"}
    for c in a.citations:
        assert c.quote in a.text
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


@pytest.mark.parametrize(("fact", "verdict"), [
    ("The ferry to Skarholm left at noon on Friday, as it does every week.", "Yes"),
    ("The ferry to Skarholm was cancelled on Friday because of the storm.", "No"),
])
def test_the_local_model_chooses_the_verdict_its_source_states(engine, fact, verdict) -> None:
    from qa.models import choose

    messages = [{"role": "user", "content": f"Source [1]: {fact}\n\nAnswer this yes/no "
                 "question using the source. Start with Yes or No: Did the ferry to Skarholm "
                 "leave on Friday?"}]
    p = choose(engine.llm, messages, ("Yes", "No"))
    assert abs(p["Yes"] + p["No"] - 1.0) < 1e-6
    assert max(p, key=p.get) == verdict


@pytest.mark.parametrize("first", ["The Harbour Gazette", "The Valley Courier"])
def test_the_local_model_tells_apart_options_that_start_alike(engine, first) -> None:
    """Both options start with the token "The": only their later tokens tell them apart (the
    first token alone scores them 0.5 each)."""
    from qa.models import choose, complete

    options = ("The Harbour Gazette", "The Valley Courier")
    messages = [{"role": "user", "content": f"Source [1]: {first} was the first outlet to "
                 "report the ferry strike, on Monday morning.\n\nAnswer this question by "
                 f"choosing {options[0]} or {options[1]}: Which outlet reported the ferry strike "
                 "first?"}]
    p = choose(engine.verdict_llm, messages, options)  # the model that gives verdicts
    assert abs(sum(p.values()) - 1.0) < 1e-6
    assert p[first] > 0.6, p
    # Scoring left the options' tokens out of the cache: a reply to the same prompt reads it
    # as a fresh one would, and a second scoring gives the same figures (within what
    # evaluating the last token in a batch of its own changes).
    assert complete(engine.verdict_llm, messages, 8).startswith(first)
    again = choose(engine.verdict_llm, messages, options)
    assert all(abs(again[o] - p[o]) < 0.02 for o in options), (again, p)


def test_an_outlet_the_archive_lacks_is_refused_without_the_model(engine) -> None:
    a = engine.ask("What did the Bloomberg article say about Spotify's podcast budget?")
    assert a.refused and a.reason == "the named outlet is not in the archive (Bloomberg)"


CENSUS = ("The Velmora harbour board met on Tuesday. The 1990 census counted 4,000 people in "
          "Velmora, the board's report said, and the town has grown since then.")
FERRY = ("The ferry Marlin Grey was retired in March after 30 years of service, the harbour board "
         "said. Its sister ship, the Osprey, will take over the Skarholm route.")


@pytest.mark.parametrize(("text", "asked", "near_miss", "answer"), [
    (CENSUS, "How many people did the 1990 census count in Velmora?",
     "How many people did the 1980 census count in Velmora?",
     "The census counted 4,000 people [1]."),
    (FERRY, "Which ship will take over the Skarholm route?",
     "Which ship will take over the Velmora route?",
     "The Osprey will take over the Skarholm route [1]."),
])
def test_the_check_of_meaning_tells_the_question_answered_from_a_near_miss(
        engine, text, asked, near_miss, answer) -> None:
    """The same cited answer: given by the text for the question it answers, not for a near
    miss that changes one fact of the question."""
    from qa.answer.meaning import stated
    from qa.records import Citation

    cited = [Citation(number=1, article_id="a", title="", url="", date="", source_path="a",
                      passage=text, quote=text, start=0, end=len(text), score=0.5)]
    right = stated(engine.verdict_llm, asked, answer, cited)
    wrong = stated(engine.verdict_llm, near_miss, answer.replace(" the Skarholm route", ""),
                   cited)
    assert right > 0.6 and wrong < 0.5, (right, wrong)


def test_qa_eval_claims_checks_meaning_with_the_verdict_model(engine, tmp_path) -> None:
    """`qa eval --claims --meaning-threshold`: an answer whose words the passage holds, to a
    question the passage does not answer, is rejected; the right one and a bare "Yes" pass."""
    from .helpers import qa

    rows = [
        {"passage": CENSUS, "question": "How many people did the 1990 census count in Velmora?",
         "answer": "The census counted 4,000 people", "supported": True},
        {"passage": CENSUS, "question": "How many people did the 1980 census count in Velmora?",
         "answer": "The census counted 4,000 people", "supported": False},
        {"passage": FERRY, "question": "Will the Osprey take over the Skarholm route?",
         "answer": "Yes", "supported": True},
    ]
    (tmp_path / "claims.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = tmp_path / "records.jsonl"
    out = qa("eval", str(tmp_path), "--claims", "--meaning-threshold", "0.5", "--json",
             "--records", str(records),
             env={"QA_MODEL_CACHE_DIR": str(engine.settings.model_cache_dir)})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["accuracy"] == 1.0, [(r["answer"], r.get("meaning")) for r in report["items"]]
    kept = [json.loads(line) for line in records.read_text().splitlines()]
    assert all("meaning" in r for r in kept)  # P(Yes) of each check, for other thresholds
    lexical = qa("eval", str(tmp_path), "--claims", "--json")
    assert json.loads(lexical.stdout)["accuracy"] < 1.0  # words alone accept the near miss


def test_a_name_two_reports_share_is_chosen_by_the_local_model(engine) -> None:
    """A person described through facts from two outlets: the names both reports mention are
    offered, and the verdict model picks the one the question describes."""
    q = ("Who is the manager who, according to The Guardian, spoke about his goalkeeper's role "
         "and, according to Sky Sports, disagreed with Jamie Carragher?")
    found = engine.retriever.search(q)
    names = engine._names(found)
    assert names and any("Hag" in n.text for n in names), names
    a = engine.ask(q)
    assert not a.refused and "Hag" in a.text.split(".")[0], a.text
    assert {engine.article(c.article_id).source for c in a.citations} == {"Sky Sports",
                                                                          "The Guardian"}


def test_a_refused_answer_is_written_again_by_the_local_verdict_model(engine) -> None:
    """The answer model declines; the bundled verdict model writes the answer from the same
    prompt, and it is verified like the first."""
    from qa.models import ScriptedLLM

    decliner = ScriptedLLM(lambda messages: "I cannot tell from the sources.")
    second = Engine(engine.settings.model_copy(update={"shared_names": False}), llm=decliner,
                    verdict_llm=engine.verdict_llm)
    events = list(second.stream("Which app did TechCrunch report is back in operation after "
                                "Apple tried to shut it down?"))
    from qa.engine import REWRITING

    a = events[-1]
    assert REWRITING in events and len(decliner.calls) == 1
    assert not a.refused and "Beeper Mini" in a.text and _articles(a) == {"mhr-a402"}, a.text


def test_a_choice_question_is_answered_with_one_of_its_alternatives(engine) -> None:
    q = ("Were the Sky Sports and The Guardian reports on Manchester United's manager published "
         "on the same or a different date?")
    assert engine.retriever.search(q).asked.options == ("Same", "Different")
    a = engine.ask(q)
    assert not a.refused and a.text.startswith(("Same. ", "Different. ")), a.text
    assert {engine.article(c.article_id).source for c in a.citations} == {"Sky Sports",
                                                                          "The Guardian"}


def test_a_question_restating_its_no_is_answered_with_its_word(engine) -> None:
    q = ("Do Sky Sports and The Guardian agree that Erik ten Hag is Manchester United's "
         "manager, or do they give different accounts?")
    assert engine.retriever.search(q).asked.options == ("Agree", "Disagree")
    a = engine.ask(q)
    assert not a.refused and a.text.startswith(("Agree. ", "Disagree. ")), a.text
    assert {engine.article(c.article_id).source for c in a.citations} == {"Sky Sports",
                                                                          "The Guardian"}
