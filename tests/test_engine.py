"""The Engine over a real index (real Chroma + embeddings) with a scripted LLM: fast and exact."""

from __future__ import annotations

import json

import pytest

from qa import rebuild
from qa.engine import Engine
from qa.errors import IndexMissingError, LLMError, QuestionError
from qa.models import ScriptedLLM
from qa.records import Answer

from .helpers import SEED_QUESTION


@pytest.fixture
def engine_factory(settings, embedder):
    rebuild(settings, embedder=embedder)

    def make(replies):
        return Engine(settings, llm=ScriptedLLM(replies), embedder=embedder)

    return make


def sent_sources(engine: Engine, question: str) -> list[str]:
    """Each numbered source as the model saw it in the engine's first call, read from the
    Prompt that Engine.prompt builds (checked to be the very messages the model was sent)."""
    prompt = engine.prompt(engine.retriever.search(question))
    assert prompt.messages == engine.llm.calls[0]
    return prompt.sources


def test_ask_returns_verified_citations(engine_factory) -> None:
    engine = engine_factory(["Russia invited Syrian opposition representatives to Moscow [1]."])
    a = engine.ask(SEED_QUESTION)
    assert not a.refused and a.text.endswith("[1]")
    c = a.citations[0]
    assert c.number == 1 and c.article_id == "russia-pushes-for-peace-talks.txt"
    assert "invite opposition representatives" in c.quote
    assert engine.article(c.article_id).text[c.start:c.end] == c.quote
    json.dumps(a.to_dict())  # records are JSON-serializable
    prompt = engine.llm.calls[0][1]["content"]
    assert "invite opposition representatives" in prompt and SEED_QUESTION in prompt


def test_source_chars_bounds_each_passage_in_the_prompt(settings, embedder) -> None:
    from qa.text import sentence_spans

    rebuild(settings, embedder=embedder)
    sources = {}
    for chars in (150, 1200):
        engine = Engine(settings.model_copy(update={"source_chars": chars}),
                        llm=ScriptedLLM(["Russia invited opposition representatives [1]."]),
                        embedder=embedder)
        a = engine.ask(SEED_QUESTION)
        assert not a.refused  # verification still reads the whole passage
        sources[chars] = sent_sources(engine, SEED_QUESTION)
        assert len(sources[chars]) == len(a.passages)
        # Whole sentences of the passage, never cut mid-sentence.
        for text, passage in zip(sources[chars], a.passages, strict=True):
            assert all(text[b:e] in passage.text for b, e in sentence_spans(text))
    # Each source fits its budget, or is the one sentence that did not fit.
    assert all(len(t) <= 150 or len(sentence_spans(t)) == 1 for t in sources[150])
    assert sum(map(len, sources[150])) < sum(map(len, sources[1200]))


def test_passages_off_the_question_get_the_weak_budget(settings, embedder) -> None:
    from qa.answer import coverage
    from qa.text import content_tokens, sentence_spans

    from .helpers import dev_articles

    rows = [r for r in dev_articles() if r["id"].startswith("reuters")][:20]
    (settings.corpus_dir / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rebuild(settings, embedder=embedder)
    engine = Engine(settings, llm=ScriptedLLM(["Russia invited opposition representatives [1]."]),
                    embedder=embedder)
    question = "Who did Russia invite to a consultation in Moscow next week?"
    a = engine.ask(question)
    sources = sent_sources(engine, question)
    q = set(content_tokens(question))
    idf = engine.retriever.sparse().idf
    weak = [i for i, p in enumerate(a.passages)
            if i > 0 and coverage(q, set(content_tokens(p.text)), idf) < settings.min_evidence]
    assert weak, "the corpus should give the question some passages that are off its topic"
    for i, (text, p) in enumerate(zip(sources, a.passages, strict=True)):
        budget = settings.weak_source_chars if i in weak else settings.source_chars
        assert len(text) <= budget or len(sentence_spans(text)) == 1, (i, text)
        if len(p.text) > budget:
            assert len(text) < len(p.text)
    # With the weak budget raised to source_chars, every passage gets the same room again.
    same = Engine(settings.model_copy(update={"weak_source_chars": settings.source_chars}),
                  llm=ScriptedLLM(["Russia invited opposition representatives [1]."]),
                  embedder=embedder)
    same.ask(question)
    assert len(same.llm.calls[0][1]["content"]) > len(engine.llm.calls[0][1]["content"])


@pytest.mark.parametrize("streaming", [True, False])
def test_a_reply_of_nothing_but_markers_is_cut_short_and_refused(settings, embedder,
                                                                 streaming) -> None:
    """The 0.5B model sometimes counts sources ("[1]: [2]: [3]: ...") up to the token limit;
    the engine stops reading it after a few markers, and the answer is a refusal."""
    rebuild(settings, embedder=embedder)
    pulled: list[str] = []
    closed: list[bool] = []

    class Counting:
        name = "counting"

        def stream(self, messages, max_tokens):
            try:
                for i in range(1, 200):
                    pulled.append(f"[{i}]:")
                    yield f"[{i}]: "
            finally:
                closed.append(True)

    engine = Engine(settings, llm=Counting(), embedder=embedder)
    if streaming:
        events = list(engine.stream(SEED_QUESTION))
        answer = events[-1]
    else:
        answer = engine.ask(SEED_QUESTION)
    assert answer.refused and answer.citations == []
    assert len(pulled) == 8 and closed == [True]


@pytest.mark.parametrize("streaming", [False, True])
def test_a_reply_stuck_in_a_loop_is_cut_short_and_said_once(settings, embedder,
                                                            streaming) -> None:
    """A small model sometimes repeats a phrase up to the token limit ("opposition
    representatives opposition representatives ..."): the engine stops reading after the
    fourth time, and the answer says it once."""
    rebuild(settings, embedder=embedder)
    pulled: list[str] = []

    class Looping:
        name = "looping"

        def stream(self, messages, max_tokens):
            yield "Russia invited "
            for _ in range(100):
                pulled.append("x")
                yield "opposition representatives "

    engine = Engine(settings, llm=Looping(), embedder=embedder)
    answer = (list(engine.stream(SEED_QUESTION))[-1] if streaming
              else engine.ask(SEED_QUESTION))
    assert len(pulled) == 4
    assert not answer.refused and answer.text == (
        "Russia invited opposition representatives [1]"), answer.text


def test_stream_yields_deltas_then_answer(engine_factory) -> None:
    engine = engine_factory(["Russia invited opposition representatives [1]."])
    events = list(engine.stream(SEED_QUESTION))
    assert all(isinstance(e, str) for e in events[:-1]) and len(events) > 2
    assert isinstance(events[-1], Answer)
    assert "".join(events[:-1]) == "Russia invited opposition representatives [1]."


def test_general_knowledge_answer_is_refused_with_nearest_passages(engine_factory) -> None:
    engine = engine_factory(["The capital of France is Paris [1]."])
    a = engine.ask("What is the capital of France?")
    assert a.refused and a.citations == [] and a.text.startswith("The articles don't say")
    assert a.passages  # still offered as the closest passages


def test_chat_condenses_follow_up(engine_factory) -> None:
    engine = engine_factory([
        "When will Sergei Lavrov meet the U.N. Syria envoy?",
        "Lavrov will meet U.N. Syria envoy Staffan de Mistura in Moscow on Wednesday [1].",
    ])
    history = [("Who is the Russian foreign minister?", "Sergei Lavrov [1].")]
    a = engine.chat("When will he meet the UN envoy?", history=history)
    assert "Lavrov" in engine.llm.calls[1][1]["content"]  # retrieval used the rewrite
    assert not a.refused and "Wednesday" in a.text
    assert "de Mistura" in a.citations[0].quote


def test_echoed_follow_up_names_the_person(engine_factory) -> None:
    """The 0.5B model sometimes returns the follow-up unchanged; "he" is then the name the
    previous question gave, and nothing else is added to the search."""
    engine = engine_factory([
        "When will he meet him?",
        "Lavrov will meet U.N. Syria envoy Staffan de Mistura in Moscow on Wednesday [1].",
    ])
    history = [("Who will Sergei Lavrov meet in Moscow?", "Staffan de Mistura [1].")]
    a = engine.chat("When will he meet him?", history=history)
    assert a.question == "When will Sergei Lavrov meet him?"
    assert "follow-up to" not in engine.llm.calls[1][1]["content"]
    assert not a.refused and "Wednesday" in a.text


def test_unrelated_question_is_asked_as_typed_without_a_rewrite_call(engine_factory) -> None:
    engine = engine_factory(["The capital of France is Paris [1]."])
    history = [("Who did Russia invite to Moscow?", "Opposition representatives [1].")]
    a = engine.chat("What is the capital of France?", history=history)
    assert a.question == "What is the capital of France?"
    assert len(engine.llm.calls) <= 1  # the answer only, no rewrite
    assert all("Follow-up question" not in m["content"] for c in engine.llm.calls for m in c)


@pytest.mark.parametrize("question,match", [
    ("", "empty"), ("   \n\t ", "empty"), ("x" * 100_000, "limit"), ("\x00\x01", "empty"),
])
def test_bad_questions(engine_factory, question, match) -> None:
    with pytest.raises(QuestionError, match=match):
        engine_factory([]).ask(question)


def test_control_characters_and_other_languages(engine_factory) -> None:
    engine = engine_factory(["NOT FOUND", "NOT FOUND"])
    assert engine.ask("Wer wurde\x07 nach Moskau eingeladen?").refused
    assert engine.ask("谁被邀请到莫斯科？").refused


def test_missing_index(tmp_path, embedder) -> None:
    from qa import Settings

    engine = Engine(Settings(index_dir=tmp_path / "none"), llm=ScriptedLLM([]), embedder=embedder)
    with pytest.raises(IndexMissingError, match="qa rebuild"):
        engine.ask(SEED_QUESTION)


def test_llm_failure_is_clear_and_next_question_works(engine_factory) -> None:
    def flaky(messages, state={"n": 0}):  # noqa: B006 - call counter
        state["n"] += 1
        if state["n"] == 1:
            raise LLMError("The LLM server at http://127.0.0.1:9 failed")
        return "Russia invited opposition representatives [1]."

    engine = engine_factory(flaky)
    with pytest.raises(LLMError):
        engine.ask(SEED_QUESTION)
    assert not engine.ask(SEED_QUESTION).refused


def test_filters_reach_retrieval(engine_factory) -> None:
    engine = engine_factory(["Russia invited opposition representatives [1]."])
    a = engine.ask(SEED_QUESTION, filters={"sources": ["Nowhere Gazette"]})
    assert a.refused and a.passages == []


def test_as_query_engine(engine_factory) -> None:
    qe = engine_factory(["Russia invited opposition representatives [1]."]).as_query_engine()
    resp = qe.query(SEED_QUESTION)
    assert "opposition" in str(resp)
    assert resp.source_nodes[0].node.metadata["article_id"] == "russia-pushes-for-peace-talks.txt"


@pytest.mark.parametrize("word", ["Yes", "No"])
def test_a_yes_no_answer_is_the_models_verdict_then_quoted_sources(engine_factory, word) -> None:
    engine = engine_factory([f"{word}, it did."])
    q = "Did Russia invite Syrian opposition representatives to a consultation in Moscow?"
    a = engine.ask(q)
    assert not a.refused and a.text.startswith(f"{word}. ")
    assert engine.llm.calls == [engine.prompt(engine.retriever.search(q)).messages]
    assert a.citations
    for c in a.citations:  # every word after the verdict is a source's own
        assert c.quote in a.text
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


@pytest.mark.parametrize(("check", "refused"), [("Yes", False), ("No", True)])
def test_the_check_of_meaning_refuses_an_answer_the_passages_do_not_give(
        settings, embedder, check, refused) -> None:
    rebuild(settings, embedder=embedder)
    engine = Engine(settings.model_copy(update={"meaning_threshold": 0.5}),
                    llm=ScriptedLLM(["Russia invited Syrian opposition representatives [1].",
                                     check]), embedder=embedder)
    a = engine.ask(SEED_QUESTION)
    assert a.refused is refused
    assert a.reason == ("the cited passages do not give this answer" if refused else "")
    check_prompt = engine.llm.calls[1][1]["content"]  # the cited text, question and answer
    assert "invite opposition representatives" in check_prompt
    assert SEED_QUESTION in check_prompt and "Proposed answer: Russia invited" in check_prompt
    assert "[1]" not in check_prompt.split("Proposed answer:")[1]


def test_no_check_of_meaning_for_a_verdict_or_when_it_is_off(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    checked = Engine(settings.model_copy(update={"meaning_threshold": 0.5}),
                     llm=ScriptedLLM(["Yes"]), embedder=embedder)
    assert not checked.ask("Did Russia invite opposition representatives to Moscow?").refused
    assert len(checked.llm.calls) == 1  # the verdict's own reading only
    off = Engine(settings, llm=ScriptedLLM(["Russia invited opposition representatives [1]."]),
                 embedder=embedder)
    assert off.settings.meaning_threshold == 0
    assert not off.ask(SEED_QUESTION).refused and len(off.llm.calls) == 1


def test_the_check_of_meaning_is_on_by_default_for_questions_that_name_no_outlet(
        settings, embedder) -> None:
    row = {"id": "gazette-1", "title": "Council backs the tram", "date": "2026-03-04",
           "source": "Harbor Gazette",
           "text": "Brenford City Council voted 31 to 9 on Tuesday night to approve the tram "
                   "line to the harbour. Work starts in May."}
    other = {"id": "courier-1", "title": "Ferry timetable", "date": "2026-03-05",
             "source": "Valley Courier",  # outlets are named only in an archive of several
             "text": "The winter ferry timetable starts on Monday with two fewer crossings."}
    (settings.corpus_dir / "more.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in (row, other)))
    rebuild(settings, embedder=embedder)
    auto = settings.model_copy(update={"meaning_threshold": None})  # the default
    reply = "The council voted 31 to 9 to approve the tram line [1]."

    def engine(checker: ScriptedLLM) -> Engine:
        return Engine(auto, llm=ScriptedLLM([reply]), embedder=embedder, verdict_llm=checker)

    named = engine(ScriptedLLM([]))
    a = named.ask("What did the Harbor Gazette report the council voted on the tram line?")
    assert not a.refused and named.verdict_llm.calls == []  # no check for a named outlet
    unnamed = engine(ScriptedLLM(["No"]))
    assert unnamed.meaning_threshold == 0.4
    a = unnamed.ask("How did Brenford City Council vote on the tram line?")
    assert "Proposed answer:" in unnamed.verdict_llm.calls[0][1]["content"]
    assert a.refused and a.reason == "the cited passages do not give this answer"
    assert not engine(ScriptedLLM(["Yes"])).ask("How did the council vote on the tram?").refused
    # The answer model never checks its own answer unless the setting asks for it.
    alone = Engine(auto, llm=ScriptedLLM([reply]), embedder=embedder)
    assert alone.meaning_threshold == 0
    assert not alone.ask("How did the council vote on the tram line?").refused
    assert Engine(settings.model_copy(update={"meaning_threshold": 0.7}),
                  llm=ScriptedLLM([])).meaning_threshold == 0.7


def test_the_bundled_models_have_a_verdict_model_of_their_own() -> None:
    from qa import Settings

    assert Settings().meaning_threshold is None
    assert Engine(Settings()).has_verdict_model  # known without loading a model
    remote = {"llm_backend": "openai", "openai_base_url": "http://127.0.0.1:9/v1"}
    for single in ({"verdict_model": ""}, remote,
                   {"verdict_model": "qwen-0.5b", "llm_model": "qwen-0.5b"}):
        assert not Engine(Settings(**single)).has_verdict_model, single
    assert Engine(Settings()).meaning_threshold == 0.4
    assert Engine(Settings(**remote)).meaning_threshold == 0


def test_a_refused_written_answer_is_rewritten_by_the_verdict_model(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    reader = ScriptedLLM(["Moscow hosted the Eurovision song contest in 2009 [1]."])
    second = ScriptedLLM(["Russia invited Syrian opposition representatives [1]."])
    engine = Engine(settings, llm=reader, embedder=embedder, verdict_llm=second)
    a = engine.ask(SEED_QUESTION)
    assert not a.refused and "opposition representatives" in a.text
    assert second.calls == reader.calls  # the same prompt, read by the other model
    off = Engine(settings.model_copy(update={"rewrite_refused": False}),
                 llm=ScriptedLLM(["Moscow hosted the Eurovision song contest in 2009 [1]."]),
                 embedder=embedder, verdict_llm=ScriptedLLM(["unused"]))
    refused = off.ask(SEED_QUESTION)
    assert refused.refused and refused.reason == "no source states it"
    assert off.verdict_llm.calls == []


def test_an_accepted_answer_or_a_verdict_is_not_rewritten(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    second = ScriptedLLM(["Yes"])
    engine = Engine(settings, llm=ScriptedLLM(["Russia invited opposition representatives [1]."]),
                    embedder=embedder, verdict_llm=second)
    assert not engine.ask(SEED_QUESTION).refused and second.calls == []
    verdict = engine.ask("Did Russia invite opposition representatives to Moscow?")
    assert verdict.text.startswith("Yes. ") and len(second.calls) == 1
    assert engine.llm.calls == [engine.llm.calls[0]]  # the answer model wrote only the first


@pytest.mark.parametrize("reply, verdict", [("No, they differ.", "Inconsistent. "),
                                             ("Yes, they agree.", "Consistent. ")])
def test_a_choice_of_opposites_is_a_yes_no_question_on_the_first(engine_factory, reply,
                                                                   verdict) -> None:
    engine = engine_factory([reply])
    q = ("Were the reports of Russia inviting the Syrian opposition to Moscow consistent or "
         "inconsistent?")
    a = engine.ask(q)
    assert not a.refused and a.text.startswith(verdict)
    sent = engine.llm.calls[0][1]["content"]
    assert "Answer Yes if the sources show consistent, or No if they show inconsistent" in sent
    assert "by choosing" not in sent
    for c in a.citations:  # the words after the choice are the sources' own
        assert c.quote in a.text
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


def test_a_choice_of_names_is_answered_with_one_of_them(engine_factory) -> None:
    engine = engine_factory(["Interfax, the news agency."])
    a = engine.ask("Did Deputy Foreign Minister Mikhail Bogdanov say next week Russia will invite "
                   "opposition representatives to a consultation in Moscow, according to Interfax "
                   "or Reuters?")
    assert not a.refused and a.text.startswith("Interfax. ")
    sent = engine.llm.calls[0][1]["content"]
    assert "by choosing Interfax or Reuters" in sent


def test_a_streamed_rewrite_says_the_text_starts_over(settings, embedder) -> None:
    from qa.engine import REWRITING

    rebuild(settings, embedder=embedder)
    engine = Engine(settings, embedder=embedder,
                    llm=ScriptedLLM(["Moscow hosted the Eurovision song contest in 2009 [1]."]),
                    verdict_llm=ScriptedLLM(["Russia invited opposition representatives [1]."]))
    events = list(engine.stream(SEED_QUESTION))
    text = "".join(e for e in events if isinstance(e, str))
    first, _, second = text.partition(REWRITING)
    assert first.startswith("Moscow hosted") and second.startswith("Russia invited")
    answer = events[-1]
    assert isinstance(answer, Answer) and not answer.refused
    assert "opposition representatives" in answer.text
