"""The UI's handlers without a browser: the chat streams then shows the verified answer and its
sources, refuses, and turns failures into messages; rebuild progress; the error mapping.
Real index, scripted LLM (fast)."""

from __future__ import annotations

import copy
import logging
import re

import gradio as gr
import pytest

from qa import rebuild
from qa.engine import Engine
from qa.errors import IndexMissingError, LLMError, QuestionError
from qa.index.events import (
    ArticleRead,
    ChunksWritten,
    Committing,
    FileRead,
    InputSkipped,
    Started,
)
from qa.models import ScriptedLLM
from qa.records import Skipped
from qa.ui.errors import UNEXPECTED, user_error
from qa.ui.handlers import Handlers, RebuildProgress

from .helpers import SEED_QUESTION

REPLY = "Russia invited opposition representatives to Moscow [1]."


class _FailsMidStream:
    """An LLM backend that writes two words, then raises `error`."""

    name = "fails-mid-stream"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def stream(self, messages, max_tokens):
        yield "Russia"
        yield " invited"
        raise self.error


@pytest.fixture
def handlers(settings, embedder):
    """Handlers over a real index of the seed article; call with the LLM to answer with."""
    rebuild(settings, embedder=embedder)

    def make(llm) -> Handlers:
        return Handlers(Engine(settings, llm=llm, embedder=embedder), settings)

    return make


def updates_of(handler_run, into: list | None = None) -> list[tuple]:
    """A copy of each update as it is yielded (as Gradio sends each one to the page), appended
    to `into` when given so that the updates before a failure can be read."""
    into = [] if into is None else into
    for update in handler_run:
        into.append(copy.deepcopy(update))
    return into


def chat(h: Handlers, question: str, history=None, turns=None) -> list[tuple]:
    """Every update the chat handler yields for one question (filters left blank, top-k 5)."""
    return updates_of(h.chat(question, [], history or [], turns or [], 5, [], "", ""))


def bot(update: tuple) -> str:
    return update[0][-1]["content"]


def test_chat_streams_deltas_then_the_verified_answer_with_its_sources(handlers) -> None:
    llm = ScriptedLLM([REPLY])
    updates = chat(handlers(llm), SEED_QUESTION)
    first, streamed, final = updates[0], updates[1:-1], updates[-1]
    assert first[0][0] == {"role": "user", "content": SEED_QUESTION}
    assert bot(first) == "…" and first[1] == ""  # the box is cleared while answering
    texts = [bot(u) for u in streamed]
    assert len(texts) >= 2 and texts[0] == "Russia" and texts[-1].startswith("Russia invited")
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))  # deltas add up
    messages, box, history, turns, panel = final
    assert "[\\[1\\]](#qa-cite-1-1)" in bot(final)  # the citation became a chip
    assert box == "" and len(history) == 1
    assert history[0][0] == SEED_QUESTION and "[1]" in history[0][1]  # the verified text
    assert [t["turn"] for t in turns] == [1] and turns[0]["question"] == SEED_QUESTION
    assert 'id="qa-src-1-1"' in panel and "Russia Pushes For Peace Talks" in panel
    mark = panel[panel.index('<mark class="qa-quote">'):]
    assert "invite opposition representatives" in mark[:200]
    assert 'id="qa-art-1-1" hidden' in panel  # the full article, ready to open at the quote
    assert len(llm.calls) == 1  # no history: the question was not rewritten


def test_a_follow_up_is_rewritten_with_the_history(handlers) -> None:
    llm = ScriptedLLM(["Who did Russia invite to Moscow for talks?", REPLY])
    history = [["Who will Sergei Lavrov meet?", "Staffan de Mistura [1]."]]
    turns = [{"turn": 1, "question": history[0][0], "html": ""}]
    final = chat(handlers(llm), "And who else?", history=history, turns=turns)[-1]
    assert len(llm.calls) == 2  # the rewrite, then the answer
    assert final[2][-1][0] == "Who did Russia invite to Moscow for talks?"
    assert final[3][-1]["turn"] == 2 and "#qa-cite-2-1" in bot(final)
    assert "Searched for: Who did Russia invite to Moscow for talks?" in final[4]


def test_chat_refusal_lists_the_closest_passages(handlers) -> None:
    final = chat(handlers(ScriptedLLM(["Paris is the capital of France."])),
                 "What is the capital of France?")[-1]
    assert bot(final).startswith("The articles don't say.")
    assert "closest passages" in bot(final) and "#qa-cite-" not in bot(final)
    assert "Closest passages" in final[4] and 'class="qa-source"' in final[4]


@pytest.mark.parametrize("question,since,until,words", [
    ("   ", "", "", "empty"),
    (SEED_QUESTION, "last week", "", "From date 'last week' is not a date; use YYYY-MM-DD"),
    (SEED_QUESTION, "2024-05-01", "2024-01-01", "From date 2024-05-01 is after Until date"),
])
def test_a_mistake_in_the_form_is_one_message_and_the_chat_stays(handlers, question, since,
                                                                  until, words) -> None:
    """A toast (a warning), not a raised error: Gradio would put an "Error" badge over the
    chat, the box and the Sources panel. The date is checked before the follow-up rewrite's
    model call."""
    llm = ScriptedLLM([REPLY])
    chat_so_far = [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "X."}]
    history = [["Who will Sergei Lavrov meet?", "Staffan de Mistura [1]."]]
    turns = [{"turn": 1, "question": "Who?", "html": ""}]
    with pytest.warns(UserWarning) as warned:
        updates = updates_of(handlers(llm).chat(question, chat_so_far, history, turns, 5, [],
                                                since, until))
    assert [str(w.message) for w in warned if words in str(w.message)], \
        [str(w.message) for w in warned]
    assert updates == [(chat_so_far, question, history, turns, gr.update())]
    assert llm.calls == []


def test_a_question_in_the_form_after_a_follow_up_asks_the_model_once(handlers) -> None:
    llm = ScriptedLLM([REPLY])
    history = [["Who will Sergei Lavrov meet?", "Staffan de Mistura [1]."]]
    turns = [{"turn": 1, "question": history[0][0], "html": ""}]
    final = chat(handlers(llm), SEED_QUESTION, history=history, turns=turns)[-1]
    assert len(llm.calls) == 1 and final[2][-1][0] == SEED_QUESTION


def test_an_llm_failure_mid_stream_is_shown_and_the_question_kept(handlers) -> None:
    error = LLMError("The LLM server at http://127.0.0.1:9/v1 stopped in the middle of the "
                     "answer. Ask again.")
    updates: list[tuple] = []
    with pytest.raises(gr.Error) as info:
        updates_of(handlers(_FailsMidStream(error)).chat(SEED_QUESTION, [], [], [], 5, [], "", ""),
                   updates)
    assert info.value.message == str(error) and info.value.title == "LLM"
    assert bot(updates[-2]) == "Russia invited"  # what had streamed
    assert bot(updates[-1]).startswith("⚠ The LLM server")
    assert updates[-1][1] == SEED_QUESTION  # the question is back in the box
    assert updates[-1][2] == [] and updates[-1][3] == []  # no turn recorded


def test_an_unexpected_failure_is_generic_on_the_page_and_logged(handlers, caplog) -> None:
    updates: list[tuple] = []
    h = handlers(_FailsMidStream(RuntimeError("secret internals")))
    with caplog.at_level(logging.ERROR, logger="qa.ui.errors"), pytest.raises(gr.Error) as info:
        updates_of(h.chat(SEED_QUESTION, [], [], [], 5, [], "", ""), updates)
    assert info.value.message == UNEXPECTED
    assert "secret" not in bot(updates[-1]) and "RuntimeError" not in bot(updates[-1])
    assert [r.exc_info[0] for r in caplog.records] == [RuntimeError]


def test_errors_map_by_type() -> None:
    assert user_error(QuestionError("Too long.")).message == "Too long."
    missing = user_error(IndexMissingError("No index at x — run `qa rebuild` to build it."))
    assert "Rebuild index" in missing.message and missing.title == "No index"
    assert user_error(KeyError("x")).message == UNEXPECTED
    notice = gr.Error("Choose a file first.")
    assert user_error(notice) is notice


def test_rebuild_reports_progress_and_returns_the_summary(handlers, settings) -> None:
    h = handlers(ScriptedLLM([]))
    (settings.corpus_dir / "footbridge.txt").write_text(
        "Harbor City Approves Footbridge\n\nThe council voted to build a footbridge.\n")
    calls = []
    out = h.rebuild("", progress=lambda *a, **kw: calls.append((a, kw)))
    assert out[0].startswith("**Rebuilt:** 1 added, 0 updated, 0 removed, 1 unchanged")
    assert re.match(r"2 articles · updated \d{1,2} \w{3} \d{4}, \d\d:\d\d · answers by ",
                    out[1]), out[1]  # the status line, refreshed, in plain words
    assert "Harbor City Approves Footbridge" in [row[0] for row in out[2]]
    # The examples are made from the articles now indexed.
    assert "What do the articles say about “Harbor City Approves Footbridge”?" in \
        [u.get("value") for u in out[5:]]
    assert [u["visible"] for u in out[5:]] == [True, True, False]  # two articles, two examples
    # An incremental rebuild (one file unchanged) still advances to the end, by files read
    # and chunks embedded, before it commits.
    fractions = [a[0] for a, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0
    assert calls[-2][0] == (0.98,)
    assert re.fullmatch(r"2/2 files, 2 articles read, (\d+)/\1 chunks embedded",
                        calls[-2][1]["desc"]), calls[-2]
    assert calls[-1] == ((0.99,), {"desc": "Switching to the new index"})


def test_rebuild_progress_advances_by_files_and_chunks() -> None:
    calls = []
    bar = RebuildProgress(lambda *a, **kw: calls.append((round(a[0], 3), kw["desc"])))
    for event in [Started(existing=0, files=2), FileRead("a.txt"),
                  ArticleRead(changed=True, chunks=4), FileRead("b.txt"),
                  ArticleRead(changed=False), FileRead("c.txt"), ChunksWritten(2),
                  ChunksWritten(2), InputSkipped(Skipped("c.txt", "", "empty file")),
                  Committing(1)]:
        bar(event)
    assert [f for f, _ in calls] == [0.0, 0.49, 0.49, 0.49, 0.49, 0.49, 0.637, 0.98, 0.99]
    assert calls[-2][1] == "2/2 files, 2 articles read, 4/4 chunks embedded"
    assert calls[1][1] == "1/2 files, 0 articles read"  # no chunks to embed yet


def test_user_mistakes_are_one_log_line_without_a_traceback(caplog) -> None:
    """Gradio prints the traceback of a raised gr.Error unless print_exception is off; a
    user's mistake is one INFO line instead."""
    with caplog.at_level(logging.INFO, logger="qa.ui.errors"):
        error = user_error(QuestionError("The question is empty — type a question."))
    assert error.print_exception is False
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("INFO", "shown to the user: The question is empty — type a question.", None)]
    assert user_error(KeyError("x")).print_exception is True  # a fault keeps its traceback


def test_an_answer_notes_the_filters_it_was_searched_with(handlers) -> None:
    from qa.ui.render import filter_chips

    h = handlers(ScriptedLLM([REPLY, REPLY]))
    final = updates_of(h.chat(SEED_QUESTION, [], [], [], 5, [], "", "2030-01-01"))[-1]
    assert bot(final).endswith("*Searched only articles dated on or before 2030\\-01\\-01.*")
    plain = updates_of(h.chat(SEED_QUESTION, [], [], [], 5, [], "", ""))[-1]
    assert "Searched only" not in bot(plain)
    assert filter_chips([], "", "") == ""
    chips = filter_chips(["Valley <Wire>"], "2024-01-01", "")
    assert chips.count('class="qa-chip-filter"') == 2 and "Valley &lt;Wire&gt;" in chips
    assert "dated on or after 2024-01-01" in chips


def test_an_upload_is_listed_as_pending_until_a_rebuild(handlers, settings, tmp_path) -> None:
    from types import SimpleNamespace

    from qa.ui.handlers import PENDING

    h = handlers(ScriptedLLM([]))
    src = tmp_path / "upload-tmp"
    src.write_text("Harbor City Approves Footbridge\n\nThe council voted on Tuesday.\n")
    note, _, _, table = h.upload([SimpleNamespace(name=str(src), orig_name="bridge.txt")], "")
    assert "bridge.txt added" in note
    assert table[0] == [PENDING, "", "", "", "bridge.txt"]
    assert sum(row[0] == PENDING for row in table) == 1  # the indexed seed is not pending
    (settings.corpus_dir / "skipped.txt").write_text("")  # a file the rebuild will skip
    out = h.rebuild("", progress=lambda *a, **kw: None)
    assert not [row for row in out[2] if row[0] == PENDING]
    assert "Harbor City Approves Footbridge" in [row[0] for row in out[2]]
