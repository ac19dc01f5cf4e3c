"""Retrieval's own rules: one search per report a question names, diversity of articles."""

from __future__ import annotations

from qa.question import analyze
from qa.retrieve import Filters, _parts, diversify

SOURCES = ["The Harbour Ledger", "Valley Wire", "Orbit News | Space Desk"]


def _art(cid: str) -> str:
    return cid.split("#")[0]


def test_diversify_gives_each_named_outlet_a_place_and_caps_articles() -> None:
    ranked = ["a#1", "a#2", "a#3", "b#1", "c#1", "a#4", "d#1"]
    got = diversify(ranked, [], 5, _art, per_article=2)
    assert got == ["a#1", "a#2", "b#1", "c#1", "d#1"]
    # Two named outlets, each with its own best article: both come first.
    got = diversify(ranked, [["x#1", "x#2"], ["y#1"]], 5, _art, per_article=2)
    assert got[:3] == ["x#1", "y#1", "x#2"] and len(got) == 5 and len(set(got)) == 5
    assert got[3:] == ["a#1", "a#2"]
    # Too few articles for the cap: the places are filled anyway.
    assert diversify(["a#1", "a#2", "a#3"], [], 3, _art, per_article=1) == ["a#1", "a#2", "a#3"]


def test_each_report_the_question_names_gets_its_own_search() -> None:
    q = ("Did the Harbour Ledger report on the strike published on March 4, 2024 and the Valley "
         "Wire report agree, and what did Orbit News say on 2024-03-09?")
    asked = analyze(q, SOURCES)
    got = [(f.sources, f.since, f.until) for f in _parts(asked, None)]
    assert got == [(("The Harbour Ledger",), "2024-03-04", "2024-03-04"),
                   (("Valley Wire",), "", ""),
                   (("Orbit News | Space Desk",), "2024-03-09", "2024-03-09")]
    # A user's filter still holds: an outlet it excludes is not searched, dates stay inside it.
    narrowed = _parts(asked, Filters(sources=("Valley Wire",), since="2024-03-05"))
    assert [(f.sources, f.since) for f in narrowed] == [(("Valley Wire",), "2024-03-05")]
