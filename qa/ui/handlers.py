"""The UI's event handlers over one Engine, as plain methods: testable without a browser.

Each returns (or yields) the values of its Gradio outputs, in the order `qa.ui.app` wires them.
Failures leave through `qa.ui.errors`, the one place that decides what the user sees.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError
from qa.index import events
from qa.index.events import RebuildEvent
from qa.records import Answer, Article
from qa.retrieve import Filters
from qa.ui.errors import notice, shown_to_user, user_error, warn
from qa.ui.render import (
    answer_markdown,
    article_table,
    example_questions,
    filters_note,
    md_escape,
    panel_html,
    sources_html,
    status_markdown,
    summary_markdown,
)
from qa.ui.uploads import corpus_files, delete_file, pending_files, save_upload

MAX_TABLE_ROWS = 500
EXAMPLES = 3  # example questions offered under the question box
PENDING = "(pending rebuild)"  # the title of a corpus file no rebuild has read yet
DATE_LABELS = ("From date", "Until date")  # the date fields as the page labels them
Chat = list[dict[str, Any]]


def make_filters(sources: list[str] | None, since: str, until: str) -> Filters | None:
    """The retrieval filters of the form's fields (blank fields filter nothing)."""
    return Filters.make(sources=sources or None, since=(since or "").strip() or None,
                        until=(until or "").strip() or None, labels=DATE_LABELS)


class RebuildProgress:
    """A Gradio progress bar driven by a rebuild's progress events: it advances by files read
    and by chunks embedded (the long part of a rebuild with changes), and says how many
    articles were read and chunks embedded so far."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.files = 0
        self.done = 0
        self.articles = 0
        self.queued = 0  # chunks of changed articles, to embed
        self.embedded = 0
        self.shown = 0.0
        self._lock = threading.Lock()  # ChunksWritten comes from the writer thread

    def __call__(self, event: RebuildEvent) -> None:
        with self._lock:
            if isinstance(event, events.Started):
                self.files = max(1, event.files)
            elif isinstance(event, events.FileRead):
                self.done = min(self.done + 1, self.files)
            elif isinstance(event, events.ArticleRead):
                self.articles += 1
                self.queued += event.chunks
            elif isinstance(event, events.ChunksWritten):
                self.embedded = min(self.embedded + event.chunks, max(self.queued, 1))
            elif isinstance(event, events.Committing):
                self.bar(0.99, desc="Switching to the new index")
                return
            else:
                return
            self.bar(self.fraction(), desc=self.words())

    def fraction(self) -> float:
        """Files read weigh 0.3, chunks embedded 0.7 (what is read is taken as embedded until
        chunks are queued); never lower than shown before, as chunks queued later would make
        it."""
        read = self.done / self.files if self.files else 0.0
        embedded = min(1.0, self.embedded / self.queued) if self.queued else read
        self.shown = max(self.shown, 0.98 * (0.3 * read + 0.7 * embedded))
        return self.shown

    def words(self) -> str:
        text = f"{self.done}/{self.files} files, {self.articles} articles read"
        return text + (f", {self.embedded}/{self.queued} chunks embedded" if self.queued else "")


class Handlers:
    """Everything the page can ask of the engine and the corpus folder."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.corpus_dir = Path(settings.corpus_dir)
        self._rebuild_lock = threading.Lock()

    # --- the status line and the lists -------------------------------------------------------

    def status(self) -> str:
        """The status line; while the bundled model is still being assembled (first start),
        says so and about how long it takes."""
        preparing = "".join(f" · preparing the language model {p.name} (one time, ~{p.seconds} s)"
                            for p in self.preparing())
        try:
            return status_markdown(self.engine.describe()) + preparing
        except QAError as exc:
            return f"Index unavailable: {md_escape(str(exc))}{preparing}"

    def preparing(self) -> list[Any]:
        """The bundled models still to assemble before the first answer (none once loaded)."""
        from qa.models.bundled import to_prepare

        return [] if self.engine.llm_loaded else to_prepare(self.settings)

    def status_tick(self) -> tuple[Any, Any]:
        """The status line again, and the timer kept running only while a model is prepared."""
        return self.status(), gr.Timer(active=bool(self.preparing()))

    def examples(self) -> list[Any]:
        """The EXAMPLES example buttons: questions made from the newest indexed articles, the
        buttons without one hidden (all of them without an index)."""
        try:
            rows = self.engine.articles()
        except QAError:
            rows = []
        questions = example_questions(rows, EXAMPLES)
        return [gr.update(value=questions[i], visible=True) if i < len(questions)
                else gr.update(visible=False) for i in range(EXAMPLES)]

    def article_rows(self, query: str = "") -> list[list[Any]]:
        """The indexed articles, after the corpus files changed since the last rebuild (each
        listed as "pending rebuild" until one indexes it)."""
        try:
            rows = self.engine.articles()
            described = self.engine.describe()
        except QAError:
            rows, described = [], {}
        pending = pending_files(self.corpus_dir, described.get("updated_epoch"),
                                described.get("updated"), {r["source_path"] for r in rows})
        return [[PENDING, "", "", "", rel] for rel in pending] + \
            article_table(rows, query, MAX_TABLE_ROWS)

    def source_choices(self) -> list[str]:
        try:
            return sorted({r["source"] for r in self.engine.articles() if r["source"]})
        except QAError:
            return []

    def corpus_choices(self) -> Any:
        return gr.update(choices=corpus_files(self.corpus_dir), value=None)

    def refresh(self, query: str) -> tuple[Any, ...]:
        """Status line, article table, sources filter, deletable files and the example
        questions, all current."""
        return (self.status(), self.article_rows(query),
                gr.update(choices=self.source_choices()), self.corpus_choices(),
                *self.examples())

    # --- chat --------------------------------------------------------------------------------

    def chat(self, question: str, messages: Chat, history: list[list[str]],
             turns: list[dict[str, Any]], top_k: float, sources: list[str], since: str,
             until: str) -> Iterator[tuple[Any, ...]]:
        """Yield (messages, question box, history, turns, sources panel): the question, the
        model's text as it streams, then the verified answer with its sources. On a failure the
        chat says what failed and the question goes back into the box."""
        try:
            # The form is checked first: a bad date must not wait for a model call.
            filters = make_filters(sources, since, until)
            standalone = self.engine.condense(question, [tuple(h) for h in history])
        except QAError as exc:  # a mistake in the form: one message, the chat unchanged
            warn(user_error(exc))
            yield messages, question, history, turns, gr.update()
            return
        except Exception as exc:  # noqa: BLE001 - whatever failed, the user gets a message
            raise user_error(exc) from exc
        turn = len(turns) + 1
        messages = [*messages, {"role": "user", "content": md_escape(question.strip())},
                    {"role": "assistant", "content": "…"}]
        yield messages, "", history, turns, gr.update()
        try:
            raw, answer = "", None
            for event in self.engine.stream(standalone, top_k=int(top_k), filters=filters):
                if isinstance(event, str):
                    raw += event
                    messages[-1] = {"role": "assistant", "content": md_escape(raw)}
                    yield messages, "", history, turns, gr.update()
                else:
                    answer = event
            assert answer is not None  # Engine.stream always ends with the Answer
            articles = self._articles_of(answer)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the user gets a message
            error = user_error(exc)
            messages[-1] = {"role": "assistant", "content": f"⚠ {md_escape(error.message)}"}
            yield messages, question, history, turns, gr.update()
            raise error from exc
        messages[-1] = {"role": "assistant", "content": answer_markdown(answer, turn)
                        + filters_note(sources, since, until)}
        turns = [*turns, {"turn": turn, "question": question.strip(),
                          "html": sources_html(answer, turn, articles, question)}]
        history = [*history, [standalone, answer.text]]
        yield messages, "", history, turns, panel_html(turns)

    def _articles_of(self, answer: Answer) -> dict[str, Article]:
        """The full articles the answer's sources open, by id."""
        articles: dict[str, Article] = {}
        for item in answer.citations or answer.passages[:3]:
            if item.article_id not in articles:
                try:
                    articles[item.article_id] = self.engine.article(item.article_id)
                except QAError:
                    pass  # removed by a rebuild meanwhile: the passage is still shown
        return articles

    @staticmethod
    def new_chat() -> tuple[Any, ...]:
        return [], "", [], [], panel_html([])

    def ask(self, question: str, top_k: int, sources: list[str] | None, since: str,
            until: str) -> dict[str, Any]:
        """The `/ask` API: the same JSON as `qa ask --json`."""
        k = max(1, min(50, int(top_k)))
        with shown_to_user():
            answer = self.engine.ask(question, top_k=k, filters=make_filters(sources, since, until))
        return answer.public()

    # --- the corpus folder and the index -----------------------------------------------------

    def upload(self, files: list[Any] | None, query: str) -> tuple[Any, ...]:
        """Save each uploaded file; one line per file says what happened."""
        notes = []
        for f in files or []:
            path = Path(getattr(f, "name", f))
            original = getattr(f, "orig_name", None) or path.name
            try:
                saved = save_upload(self.corpus_dir, original, path, self.settings.max_file_bytes)
            except (QAError, OSError) as exc:
                notes.append(f"✗ {md_escape(str(exc))}")
                continue
            verb = "replaced" if saved.replaced else "added"
            notes.append(f"✓ {md_escape(saved.name)} {verb}")
        if notes:
            notes.append("Press **Rebuild index** to make the changes searchable.")
        return "\n\n".join(notes), None, self.corpus_choices(), self.article_rows(query)

    def delete(self, rel: str | None, confirmed: bool = True) -> tuple[Any, ...]:
        """Delete a corpus file once the user confirmed it (the page asks in the browser)."""
        if not rel:
            raise notice("Choose a file to delete first.")
        if not confirmed:
            return gr.update(), gr.update()
        with shown_to_user():
            delete_file(self.corpus_dir, rel)
        msg = (f"✓ {md_escape(rel)} deleted from the corpus folder. Press **Rebuild index** to "
               "remove it from answers.")
        return msg, self.corpus_choices()

    def rebuild(self, query: str,
                progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """One rebuild at a time; returns its summary and everything `refresh` returns."""
        if not self._rebuild_lock.acquire(blocking=False):
            raise notice("A rebuild is already running; wait for it to finish.", "Busy")
        try:
            with shown_to_user():
                summary = self.engine.rebuild(progress=RebuildProgress(progress))
        finally:
            self._rebuild_lock.release()
        return (summary_markdown(summary), *self.refresh(query))
