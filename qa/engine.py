"""Engine: the Python API the CLI, UI and benchmarks share (retrieve -> prompt -> LLM -> verify)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any

from qa.answer import (
    Prompt,
    Thresholds,
    build_prompt,
    condense,
    judge,
    source_budgets,
    to_answer,
    usable_history,
)
from qa.answer.condense import History, is_follow_up
from qa.answer.judge import (
    DECLINED,
    NO_PASSAGES,
    OFF_TOPIC,
    UNSUPPORTED,
    Judgement,
    not_stated,
    refused_answer,
)
from qa.answer.meaning import VERDICT_MODEL_THRESHOLD, checks_meaning, stated
from qa.answer.names import LETTERS, MIN_ARTICLES, Name, asks_for_name, name_reply, shared_names
from qa.answer.verdict import offered, verdict_for, verdict_word, yes_no_reply
from qa.config import Settings
from qa.errors import ArticleMissingError, QuestionError, QuestionTooLongError
from qa.index.reader import list_articles, read_article
from qa.index.store import Store
from qa.models import (
    LLM,
    Embedder,
    choose,
    complete,
    llm_name,
    make_llm,
    until_runaway,
    without_loops,
)
from qa.question import looks_english
from qa.records import Answer, Article, Passage, RebuildSummary
from qa.retrieve import Filters, Retrieval, Retriever

log = logging.getLogger(__name__)

# Streamed between a refused first reply and the verdict model's second one, so a reader of the
# stream knows why the text starts over.
REWRITING = "\n\n(No source states that answer; the larger model is writing it again.)\n\n"


class Engine:
    """Answers questions over the index with verified citations.

    Heavy parts (embedding model, LLM, Chroma) load on first use. Pass `llm=` to plug in another
    backend (e.g. `ScriptedLLM` in tests) instead of the one the settings choose, and
    `verdict_llm=` for the model that gives verdicts, checks meaning and rewrites refused answers.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
        verdict_llm: LLM | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._llm = llm
        self._llm_given = llm is not None
        self._embedder = embedder
        self._store: Store | None = None
        self._retriever: Retriever | None = None
        # One lock per component: loading the LLM must not block a status query of the index.
        self._verdict_llm = verdict_llm
        self._locks = {k: threading.Lock()
                       for k in ("embedder", "llm", "verdict", "store", "retriever")}

    # --- components, loaded lazily -------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._locks["embedder"]:
            if self._embedder is None:
                self._embedder = Embedder.from_settings(self.settings)
            return self._embedder

    @property
    def llm(self) -> LLM:
        with self._locks["llm"]:
            if self._llm is None:
                self._llm = make_llm(self.settings)
            return self._llm

    @property
    def llm_loaded(self) -> bool:
        """Whether the answer model is loaded (or was given)."""
        return self._llm is not None

    @property
    def verdict_llm(self) -> LLM:
        """The model that decides yes/no verdicts, checks meaning and rewrites refused answers:
        the one passed as `verdict_llm=`, else the bundled `verdict_model` when the answer model
        is a bundled one too (and was not passed in), else the answer model."""
        if self._verdict_llm is not None:
            return self._verdict_llm
        if not self.has_verdict_model:
            return self.llm
        s = self.settings
        with self._locks["verdict"]:
            if self._verdict_llm is None:
                from qa.models.llama_cpp import LlamaCppLLM

                self._verdict_llm = LlamaCppLLM.shared(
                    s.model_copy(update={"llm_model": s.verdict_model}))
            return self._verdict_llm

    @property
    def has_verdict_model(self) -> bool:
        """Whether verdicts come from a model other than the answer model (one passed as
        `verdict_llm=`, or the bundled `verdict_model`), known without loading either."""
        if self._verdict_llm is not None:
            return self._verdict_llm is not self._llm
        s = self.settings
        own = (not self._llm_given and s.llm_backend == "llama-cpp"
               and s.llm_model_path is None)
        return own and bool(s.verdict_model) and s.verdict_model != s.llm_model

    @property
    def meaning_threshold(self) -> float:
        """The check of meaning's threshold: the setting when set, else
        VERDICT_MODEL_THRESHOLD when a verdict model of its own checks, else 0 (off)."""
        if self.settings.meaning_threshold is not None:
            return self.settings.meaning_threshold
        return VERDICT_MODEL_THRESHOLD if self.has_verdict_model else 0.0

    @property
    def store(self) -> Store:
        with self._locks["store"]:
            if self._store is None:
                self._store = Store(self.settings)
            return self._store

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            store, embedder = self.store, self.embedder
            with self._locks["retriever"]:
                if self._retriever is None:
                    self._retriever = Retriever(self.settings, store, embedder)
        return self._retriever

    # --- the API -------------------------------------------------------------------------------

    def retrieve(self, question: str, top_k: int | None = None,
                 filters: Filters | dict[str, Any] | None = None) -> list[Passage]:
        resolved, _ = self.retriever.resolve(_filters(filters))
        return self.retriever.retrieve(self._check(question), top_k, resolved)

    def ask(self, question: str, top_k: int | None = None,
            filters: Filters | dict[str, Any] | None = None) -> Answer:
        answer = None
        for event in self._explained(question, top_k, filters, streaming=False):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, question: str, top_k: int | None = None,
               filters: Filters | dict[str, Any] | None = None) -> Iterator[str | Answer]:
        """Yield text deltas as the model writes, then the verified Answer (always last).

        The final Answer's text may differ from the streamed deltas: verification drops
        unsupported sentences and renumbers citations.
        """
        yield from self._explained(question, top_k, filters, streaming=True)

    def _explained(self, question: str, top_k: int | None,
                   filters: Filters | dict[str, Any] | None,
                   streaming: bool) -> Iterator[str | Answer]:
        """The events of `_answer`, with a refusal saying why when the user can do something
        about it: filters that nothing passes are refused before any model runs, a question in
        another language or with no passage close enough says so."""
        t0 = time.perf_counter()
        question = self._check(question)
        resolved, why = self.retriever.resolve(_filters(filters))
        if why:
            yield replace(refused_answer(question, [], time.perf_counter() - t0, reason=why),
                          text=why)
            return
        for event in self._answer(question, top_k, resolved, streaming):
            if isinstance(event, Answer) and event.refused:
                event = _with_reason(event)
            yield event

    def _answer(self, question: str, top_k: int | None, filters: Filters | dict[str, Any] | None,
                streaming: bool) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        question = self._check(question)
        found = self.retriever.search(question, top_k, _filters(filters))
        asked = found.asked
        thresholds = Thresholds.from_settings(self.settings)
        if not found.passages or asked.unknown:  # nothing for the model to read
            verdict = judge(question, "", found.passages, thresholds, found.idf, asked.yes_no,
                            asked.unknown)
            yield to_answer(question, verdict, found.passages, time.perf_counter() - t0)
            return
        messages = self.prompt(found).messages
        named = None if asked.yes_no else self._named(found, thresholds)
        if named:
            text, verdict = named
            if streaming:
                yield text
        else:
            if asked.yes_no:
                word = verdict_for(asked, choose(self.verdict_llm, messages, offered(asked)))
                text = yes_no_reply(word, found.query, asked, found.passages, found.idf)
                if streaming:
                    yield text
            else:
                text = yield from self._write(self.llm, messages, streaming)
            verdict = judge(question, text, found.passages, thresholds, found.idf, asked.yes_no,
                            verdicts=asked.verdicts)
        if (verdict.reason in (UNSUPPORTED, DECLINED) and not asked.yes_no
                and self.settings.rewrite_refused and self.verdict_llm is not self.llm):
            log.info("question=%r first reply=%r refused=%r: rewritten by the verdict model",
                     question, text, verdict.reason)
            if streaming:
                yield REWRITING
            text = yield from self._write(self.verdict_llm, messages, streaming)
            verdict = judge(question, text, found.passages, thresholds, found.idf)
        meant = None
        if not verdict.refused and checks_meaning(asked) and self.meaning_threshold > 0:
            meant = stated(self.verdict_llm, found.query, verdict.verified.text,
                           verdict.verified.citations)
            if meant < self.meaning_threshold:
                verdict = not_stated(verdict)
        log.info("question=%r reply=%r refused=%r evidence=%.2f meaning=%s", question, text,
                 verdict.reason, verdict.verified.evidence,
                 "-" if meant is None else f"{meant:.2f}")
        yield to_answer(question, verdict, found.passages, time.perf_counter() - t0)

    def _write(self, llm: LLM, messages: list[dict[str, str]],
               streaming: bool) -> Generator[str, None, str]:
        """The model's written reply to the prompt, a phrase it repeated in a loop said once;
        when streaming, each delta is yielded as it comes."""
        if not streaming:
            return without_loops(complete(llm, messages, self.settings.llm_max_tokens))
        reply = []
        for delta in until_runaway(llm.stream(messages, self.settings.llm_max_tokens)):
            reply.append(delta)
            yield delta
        return without_loops("".join(reply))

    def _named(self, found: Retrieval,
               thresholds: Thresholds) -> tuple[str, Judgement] | None:
        """The reply naming the shared name the verdict model picks (`_names`) and its
        judgement, or None when none is offered or the judge refuses it: a question about one
        report may ask for a name only its article gives, and the answer model writes that
        one."""
        names = self._names(found)
        if not names:
            return None
        options = tuple(LETTERS[:len(names)])
        letter = verdict_word(choose(self.verdict_llm, self.prompt(found, names).messages,
                                     options))
        text = name_reply(names[LETTERS.index(letter)], found.passages)
        verdict = judge(found.query, text, found.passages, thresholds, found.idf)
        if verdict.refused:
            log.info("question=%r name=%r refused=%r: written instead", found.query, text,
                     verdict.reason)
            return None
        return text, verdict

    def _names(self, found: Retrieval) -> list[Name]:
        """The names offered for a question that asks for one through what named outlets
        reported, when the passages of two or more articles share the first of them
        (`shared_names`); else none. A question that names no report is written for: its
        answer is as often a phrase ("opposition representatives") as a name."""
        asked = found.asked
        if (not self.settings.shared_names or asked.yes_no or not asked.outlets
                or not asks_for_name(found.query)):
            return []
        names = shared_names(found.query, found.passages)
        return names if names and names[0].articles >= MIN_ARTICLES else []

    def prompt(self, found: Retrieval, names: list[Name] | None = None) -> Prompt:
        """The prompt of one answer: the passages, each cut to its budget, and the question in
        the form of answer it needs (a verdict for a yes/no question, the letter of one of
        `names` for a question that asks for a name)."""
        s = self.settings
        budgets = source_budgets(found.query, found.passages, s.source_chars,
                                 s.weak_source_chars, s.min_evidence, found.idf)
        asked = found.asked
        yes_no = asked.yes_no
        # Outlets, dates and titles are evidence for a question that names reports or asks for
        # a verdict on them; otherwise the 0.5B model answers with a title it was shown (dev
        # accuracy 0.7 -> 0.3 with them, docs/benchmarks.md).
        headers = bool(asked.outlets or asked.dates or yes_no)
        return build_prompt(found.query, found.passages, budgets, yes_no, headers, asked.options,
                            tuple(n.text for n in names or ()), asked.opposites)

    def condense(self, question: str, history: History | None) -> str:
        """The question as searched: a follow-up ("When will he meet him?") rewritten to stand
        alone; any other question, or one without answered history, unchanged and without a
        model call."""
        question = self._check(question)
        usable = usable_history(history)
        if not usable or not is_follow_up(question):  # no rewrite: the LLM need not be loaded
            return question
        return condense(self.llm, question, usable)

    def chat(self, question: str, history: History | None = None, top_k: int | None = None,
             filters: Filters | dict[str, Any] | None = None) -> Answer:
        standalone = self.condense(question, history)
        return self.ask(standalone, top_k=top_k, filters=filters)

    def article(self, article_id: str) -> Article:
        """The article text every citation's offsets point into."""
        article = read_article(self.store, article_id)
        if article is None:
            raise ArticleMissingError(f"No article {article_id!r} in the index — run `qa rebuild` "
                                    "if it was added recently.")
        return article

    def articles(self) -> list[dict[str, Any]]:
        """The indexed articles' metadata (title, date, source, chunks, file), by date, newest
        first."""
        return list_articles(self.store)

    def describe(self) -> dict[str, Any]:
        """What a status line shows: the model in use and the index size (None if no index)."""
        model = llm_name(self.settings)
        state = self.store.read_state()
        if state is None or state.generation == 0:
            return {"model": model, "articles": None, "chunks": None, "updated": None,
                    "updated_epoch": None}
        return {"model": model, "articles": state.articles, "chunks": state.chunks,
                "updated": state.updated_at, "updated_epoch": state.updated_epoch or None}

    def rebuild(self, full: bool = False, progress: Any = None) -> RebuildSummary:
        from qa.index import rebuild

        return rebuild(self.settings, full=full, progress=progress, embedder=self.embedder)

    def as_query_engine(self) -> Any:
        from qa.llama_index import QAQueryEngine

        return QAQueryEngine(engine=self)

    def as_retriever(self, top_k: int | None = None) -> Any:
        """A llama-index `BaseRetriever` over `retrieve` (passages as nodes with their text)."""
        from qa.llama_index import QARetriever

        return QARetriever(self, top_k)

    # --- helpers -------------------------------------------------------------------------------

    def _check(self, question: str) -> str:
        if not isinstance(question, str):
            raise QuestionError("The question must be text.")
        q = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question)
        q = " ".join(q.split())
        if not q:
            raise QuestionError("The question is empty — type a question about the articles.")
        if len(q) > self.settings.max_question_chars:
            raise QuestionTooLongError(
                f"The question is {len(q):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,} (max_question_chars). Shorten it."
            )
        return q


NOT_ENGLISH = ("The articles don't say. Questions are matched in English (the embedding model "
               "reads English only): ask it in English.")
NOT_CLOSE = "The articles don't say: no passage is close enough to the question."


def _with_reason(answer: Answer) -> Answer:
    """A refusal that says why when the reason is one the user can act on: a question not in
    English, or no passage close to it (other refusals keep the plain text)."""
    if not looks_english(answer.question):
        return replace(answer, text=NOT_ENGLISH)
    if answer.reason in (NO_PASSAGES, OFF_TOPIC):
        return replace(answer, text=NOT_CLOSE)
    return answer


def _filters(filters: Filters | dict[str, Any] | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    return Filters.make(**filters)

