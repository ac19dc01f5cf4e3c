"""The Gradio web UI: chat with streamed, verified answers; sources and articles; index management.

`build_ui(settings)` returns the Blocks; `launch(demo, settings)` serves it on loopback by default.
Everything shown that comes from articles, questions or the model is HTML-escaped here: article
text is data, never markup.
"""

from __future__ import annotations

import html
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from qa.config import Settings  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.errors import ConfigError, IndexMissingError, QAError  # noqa: E402
from qa.records import Answer, Article, RebuildSummary  # noqa: E402
from qa.retrieve import Filters  # noqa: E402
from qa.uploads import ALLOWED, corpus_files, delete_file, save_upload  # noqa: E402

log = logging.getLogger(__name__)

EXAMPLES = [
    "Who did Russia invite to Moscow?",
    "Who will Sergei Lavrov meet?",
    "What is the capital of France?",
]
NO_INDEX = "There is no index yet: open the **Articles** tab and press **Rebuild index**."
MAX_TABLE_ROWS = 500
# System fonts: the page loads nothing from the internet.
THEME = gr.themes.Soft(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])

CSS = """
#qa-status { font-size: 0.85em; opacity: 0.85; }
a.qa-chip, #qa-chat a[href^="#qa-cite-"] {
  display: inline-block; padding: 0 0.45em; margin: 0 0.1em; border-radius: 0.8em;
  background: var(--color-accent-soft); color: var(--color-accent); font-size: 0.85em;
  text-decoration: none; font-weight: 600; cursor: pointer;
}
.qa-turn { margin-bottom: 0.8em; }
.qa-turn > summary { cursor: pointer; font-weight: 600; }
.qa-searched { font-size: 0.85em; opacity: 0.8; }
.qa-refused { font-weight: 600; }
.qa-sources { list-style: none; padding-left: 0; margin: 0; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 0.5em 0.7em; margin: 0.4em 0; }
.qa-source.qa-active { border-color: var(--color-accent); }
.qa-source.qa-active > .qa-passage { display: none; }  /* the open article shows it in place */
.qa-open { all: unset; cursor: pointer; font-weight: 600; color: var(--color-accent); }
.qa-meta { font-size: 0.8em; opacity: 0.8; margin: 0.2em 0; word-break: break-all; }
.qa-passage { margin: 0.3em 0; font-size: 0.9em; }
.qa-article-head { font-size: 0.8em; font-weight: 600; opacity: 0.8; margin-bottom: 0.3em;
  white-space: normal; }
.qa-article { margin-top: 0.5em; padding: 0.5em; max-height: 22em; overflow-y: auto;
  white-space: pre-wrap; font-size: 0.9em; border-top: 1px dashed var(--border-color-primary); }
mark.qa-quote { background: #ffe58a; color: #111; padding: 0 1px; }
"""

# One delegated listener: citation chips in the chat and source titles open the article view.
HEAD = """
<script>
(function () {
  function qaOpen(id) {
    var art = document.getElementById(id);
    if (!art) return;
    document.querySelectorAll('.qa-article').forEach(function (a) { if (a !== art) a.hidden = true; });
    document.querySelectorAll('.qa-source.qa-active').forEach(function (s) { s.classList.remove('qa-active'); });
    var details = art.closest('details');
    if (details) details.open = true;
    art.hidden = false;
    var src = art.closest('.qa-source');
    if (src) src.classList.add('qa-active');
    var mark = art.querySelector('mark');
    (mark || art).scrollIntoView({block: 'center'});
  }
  document.addEventListener('click', function (ev) {
    var el = ev.target.closest && ev.target.closest('a[href^="#qa-cite-"], .qa-open');
    if (!el) return;
    ev.preventDefault();
    ev.stopPropagation();
    var id = el.classList.contains('qa-open') ? el.getAttribute('data-target')
      : 'qa-art-' + el.getAttribute('href').slice('#qa-cite-'.length);
    qaOpen(id);
  }, true);
})();
</script>
"""


# --- rendering (pure functions: strings in, escaped HTML/markdown out) --------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")


def md_escape(text: str) -> str:
    """Text shown literally by a Markdown renderer: no HTML, no links, no emphasis."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(answer: Answer, turn: int) -> str:
    """The answer for the chat, each [n] a chip linking to source n of this turn."""
    if answer.refused:
        closest = " The closest passages are listed beside the chat." if answer.passages else ""
        return md_escape(answer.text) + f"\n\n*{closest.strip()}*" if closest else md_escape(
            answer.text)
    numbers = {c.number for c in answer.citations}

    def chip(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]](#qa-cite-{turn}-{n})" if n in numbers else m.group(0)

    return re.sub(r"\\\[(\d+)\\\]", chip, md_escape(answer.text))


def _highlight(text: str, start: int, end: int) -> str:
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end <= start:
        return html.escape(text)
    return (html.escape(text[:start]) + '<mark class="qa-quote">' + html.escape(text[start:end])
            + "</mark>" + html.escape(text[end:]))


def _meta_line(date: str, source: str, url: str, path: str) -> str:
    parts = [html.escape(date or "no date")]
    if source:
        parts.append(html.escape(source))
    if url.startswith(("http://", "https://")):
        parts.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" '
                     f'rel="noopener noreferrer">{html.escape(url)}</a>')
    elif path:
        parts.append(html.escape(path))
    return " · ".join(parts)


def _source_item(turn: int, n: int, title: str, meta: str, passage_html: str,
                 article: Article | None, start: int, end: int) -> str:
    art_id = f"qa-art-{turn}-{n}"
    body = (f'<div class="qa-article" id="{art_id}" hidden><div class="qa-article-head">'
            "Full article, the cited span highlighted</div>"
            f"{_highlight(article.text, start, end)}</div>") if article else ""
    return (f'<li class="qa-source" id="qa-src-{turn}-{n}">'
            f'<button class="qa-open" data-target="{art_id}">[{n}] {html.escape(title)}</button>'
            f'<div class="qa-meta">{meta}</div>'
            f'<blockquote class="qa-passage">{passage_html}</blockquote>{body}</li>')


def sources_html(answer: Answer, turn: int, articles: dict[str, Article], asked: str) -> str:
    """The sources of one answer: cited passages with the quote highlighted, each opening its
    full article with the quote highlighted (by the engine's offsets). Refusals list the
    closest passages instead. When a follow-up was rewritten, says what was searched for."""
    items = []
    if answer.refused:
        head = '<p class="qa-refused">The articles don\'t say. Closest passages:</p>' \
            if answer.passages else '<p class="qa-refused">The articles don\'t say.</p>'
        for n, p in enumerate(answer.passages[:3], start=1):
            meta = _meta_line(p.date, p.source, p.url, p.source_path) + f" · score {p.score:.2f}"
            items.append(_source_item(turn, n, p.title, meta, html.escape(p.text),
                                      articles.get(p.article_id), p.start, p.end))
    else:
        head = ""
        for c in answer.citations:
            holder = next((p for p in answer.passages if p.article_id == c.article_id
                           and p.start <= c.start and c.end <= p.end), None)
            meta = _meta_line(c.date, holder.source if holder else "", c.url, c.source_path)
            passage = (_highlight(holder.text, c.start - holder.start, c.end - holder.start)
                       if holder else html.escape(c.passage))
            items.append(_source_item(turn, c.number, c.title, meta, passage,
                                      articles.get(c.article_id), c.start, c.end))
    q = f'<div class="qa-searched">Searched for: {html.escape(answer.question)}</div>' \
        if " ".join(asked.split()) != answer.question else ""
    return (f'<div class="qa-turn-body">{q}{head}<ol class="qa-sources">{"".join(items)}</ol>'
            "</div>")


def panel_html(turns: list[dict[str, Any]]) -> str:
    """All turns' sources, newest open, older ones folded."""
    if not turns:
        return ('<p class="qa-empty">Sources of each answer appear here. Click a citation '
                "chip to open the article at the quoted passage.</p>")
    parts = []
    for i, t in enumerate(reversed(turns)):
        opened = " open" if i == 0 else ""
        parts.append(f'<details class="qa-turn" id="qa-turn-{t["turn"]}"{opened}><summary>'
                     f'{html.escape(t["question"])}</summary>{t["html"]}</details>')
    return "".join(parts)


# --- the app -------------------------------------------------------------------------------


def read_auth_file(path: Path) -> list[tuple[str, str]]:
    """`user:password` lines (blank lines and # comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the auth file {path}: {exc.strerror or exc}.") from exc
    pairs = []
    for i, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"{path}:{i}: expected a `user:password` line.")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ConfigError(f"The auth file {path} has no `user:password` line.")
    return pairs


_TITLES = {"QuestionError": "Question", "IndexMissingError": "No index", "LLMError": "LLM",
           "CorpusError": "Articles", "ConfigError": "Settings", "IndexBusyError": "Busy",
           "IndexError_": "Index", "ModelError": "Model"}


def _ui_error(exc: QAError) -> gr.Error:
    if isinstance(exc, IndexMissingError) and "No index" in str(exc):
        return gr.Error(NO_INDEX.replace("**", ""), title="No index")
    return gr.Error(str(exc), title=_TITLES.get(type(exc).__name__, "Error"))


def _filters(sources: list[str] | None, since: str, until: str) -> Filters | None:
    try:
        return Filters.make(sources=sources or None, since=(since or "").strip() or None,
                            until=(until or "").strip() or None)
    except QAError as exc:
        raise _ui_error(exc) from exc


def build_ui(settings: Settings, engine: Engine | None = None) -> gr.Blocks:
    """The whole UI over one Engine (built from `settings` unless given)."""
    engine = engine or Engine(settings)
    corpus_dir = Path(settings.corpus_dir)
    rebuild_lock = threading.Lock()

    def status() -> str:
        try:
            d = engine.describe()
        except QAError as exc:
            return f"Index unavailable: {md_escape(str(exc))}"
        if d["articles"] is None:
            return f"Model: {md_escape(d['model'])} · {NO_INDEX}"
        return (f"Model: {md_escape(d['model'])} · Index: {d['articles']:,} articles, "
                f"{d['chunks']:,} chunks · updated {md_escape(d['updated'] or '?')}")

    def article_rows(query: str = "") -> list[list[Any]]:
        try:
            rows = engine.articles()
        except QAError:
            return []  # the status line says why
        q = (query or "").strip().lower()
        hits = [r for r in rows if q in r["title"].lower()] if q else rows
        return [[r["title"], r["date"], r["source"], r["chunks"], r["source_path"]]
                for r in hits[:MAX_TABLE_ROWS]]

    def source_choices() -> list[str]:
        try:
            return sorted({r["source"] for r in engine.articles() if r["source"]})
        except QAError:
            return []

    def refresh(query: str) -> tuple[Any, ...]:
        return (status(), article_rows(query), gr.update(choices=source_choices()),
                gr.update(choices=corpus_files(corpus_dir), value=None))

    # --- chat ---

    def respond(question: str, chat: list[dict[str, Any]], history: list[list[str]],
                turns: list[dict[str, Any]], top_k: float, sources: list[str], since: str,
                until: str):
        try:
            standalone = engine.condense(question, [tuple(h) for h in history])
        except QAError as exc:
            raise _ui_error(exc) from exc
        filters = _filters(sources, since, until)
        turn = len(turns) + 1
        chat = [*chat, {"role": "user", "content": md_escape(question.strip())},
                {"role": "assistant", "content": "…"}]
        yield chat, "", history, turns, gr.update()
        raw = ""
        answer = None
        try:
            for event in engine.stream(standalone, top_k=int(top_k), filters=filters):
                if isinstance(event, str):
                    raw += event
                    chat[-1] = {"role": "assistant", "content": md_escape(raw)}
                    yield chat, "", history, turns, gr.update()
                else:
                    answer = event
            articles: dict[str, Article] = {}
            shown = answer.citations or answer.passages[:3]
            for item in shown:
                if item.article_id not in articles:
                    try:
                        articles[item.article_id] = engine.article(item.article_id)
                    except QAError:
                        pass  # removed by a rebuild meanwhile: the passage is still shown
        except Exception as exc:  # noqa: BLE001 - whatever failed, the user gets a message
            if not isinstance(exc, QAError):
                log.exception("answering %r failed", question)
                exc = QAError(f"Answering failed unexpectedly ({type(exc).__name__}: {exc}). "
                              "Try again; if it persists, check the server log.")
            # Nothing is lost: the question goes back into the box, the chat says what failed.
            chat[-1] = {"role": "assistant", "content": f"⚠ {md_escape(str(exc))}"}
            yield chat, question, history, turns, gr.update()
            raise _ui_error(exc) from exc
        chat[-1] = {"role": "assistant", "content": answer_markdown(answer, turn)}
        turns = [*turns, {"turn": turn, "question": question.strip(),
                          "html": sources_html(answer, turn, articles, question)}]
        history = [*history, [standalone, answer.text]]
        yield chat, "", history, turns, panel_html(turns)

    def new_chat() -> tuple[Any, ...]:
        return [], "", [], [], panel_html([])

    # --- the public API (same JSON as `qa ask --json`) ---

    def ask_api(question: str, top_k: int = settings.top_k, sources: list[str] | None = None,
                since: str = "", until: str = "") -> dict[str, Any]:
        """Answer a question from the indexed articles with verified citations."""
        k = max(1, min(50, int(top_k)))
        try:
            answer = engine.ask(question, top_k=k, filters=_filters(sources, since, until))
        except QAError as exc:
            raise _ui_error(exc) from exc
        return answer.public()

    # --- articles and the index ---

    def upload(files: list[Any] | None, query: str) -> tuple[Any, ...]:
        notes = []
        for f in files or []:
            path = Path(getattr(f, "name", f))
            original = getattr(f, "orig_name", None) or path.name
            try:
                saved = save_upload(corpus_dir, original, path, settings.max_file_bytes)
            except (QAError, OSError) as exc:
                notes.append(f"✗ {md_escape(str(exc))}")
                continue
            verb = "replaced" if saved.replaced else "added"
            notes.append(f"✓ {md_escape(saved.name)} {verb}")
        if notes:
            notes.append("Press **Rebuild index** to make the changes searchable.")
        return ("\n\n".join(notes), None, gr.update(choices=corpus_files(corpus_dir), value=None))

    def delete(rel: str | None) -> tuple[Any, ...]:
        if not rel:
            raise gr.Error("Choose a file to delete first.")
        try:
            delete_file(corpus_dir, rel)
        except QAError as exc:
            raise _ui_error(exc) from exc
        msg = (f"✓ {md_escape(rel)} deleted from the corpus folder. Press **Rebuild index** to "
               "remove it from answers.")
        return msg, gr.update(choices=corpus_files(corpus_dir), value=None)

    def rebuild(query: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        if not rebuild_lock.acquire(blocking=False):
            raise gr.Error("A rebuild is already running; wait for it to finish.")
        try:
            counts = {"files": 0, "done": 0}

            def on_event(event: str, data: dict[str, Any]) -> None:
                if event == "start":
                    counts["files"] = max(1, data.get("files", 0))
                    progress((0, counts["files"]), desc="Reading and embedding", unit="files")
                elif event == "file":
                    counts["done"] += 1
                    progress((min(counts["done"], counts["files"]), counts["files"]),
                             desc="Reading and embedding", unit="files")
                elif event == "commit":
                    progress(0.98, desc="Switching to the new index")

            try:
                summary = engine.rebuild(progress=on_event)
            except QAError as exc:
                raise _ui_error(exc) from exc
        finally:
            rebuild_lock.release()
        return (summary_markdown(summary), *refresh(query))

    # --- layout ---

    with gr.Blocks(title="qa — questions over your articles", analytics_enabled=False) as demo:
        status_md = gr.Markdown(elem_id="qa-status")
        history = gr.State([])
        turns = gr.State([])
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="qa-chat", height=480, allow_tags=False, sanitize_html=True,
                            feedback_options=None, buttons=["copy"], show_label=False,
                            placeholder="Ask a question about the articles. Every claim in the "
                                        "answer cites the passage it came from.",
                        )
                        question = gr.Textbox(
                            placeholder="Ask about the articles…", show_label=False,
                            elem_id="qa-question", max_lines=4, autofocus=True,
                        )
                        with gr.Row():
                            ask_btn = gr.Button("Ask", variant="primary", elem_id="qa-ask")
                            new_btn = gr.Button("New chat", elem_id="qa-new")
                        gr.Examples(EXAMPLES, inputs=question, label="Examples")
                        with gr.Accordion("Filters and settings", open=False):
                            sources = gr.Dropdown(label="Sources", multiselect=True, choices=[],
                                                  elem_id="qa-sources-filter")
                            with gr.Row():
                                since = gr.Textbox(label="From date", placeholder="YYYY-MM-DD")
                                until = gr.Textbox(label="Until date", placeholder="YYYY-MM-DD")
                            top_k = gr.Slider(1, 20, value=settings.top_k, step=1,
                                              label="Passages per question (top-k)")
                    with gr.Column(scale=2):
                        gr.Markdown("### Sources")
                        panel = gr.HTML(panel_html([]), elem_id="qa-panel", js_on_load=None)
            with gr.Tab("Articles", id="articles"):
                search = gr.Textbox(label="Search titles", elem_id="qa-search")
                table = gr.Dataframe(
                    headers=["Title", "Date", "Source", "Chunks", "File"], interactive=False,
                    elem_id="qa-articles", wrap=True,
                )
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label=f"Upload articles ({', '.join(ALLOWED)})",
                                        file_count="multiple", file_types=list(ALLOWED),
                                        elem_id="qa-upload")
                        upload_md = gr.Markdown(elem_id="qa-upload-result")
                    with gr.Column():
                        to_delete = gr.Dropdown(label="Corpus file", choices=[],
                                                elem_id="qa-delete-file")
                        delete_btn = gr.Button("Delete file", variant="stop", elem_id="qa-delete")
                        delete_md = gr.Markdown(elem_id="qa-delete-result")
                rebuild_btn = gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild")
                rebuild_md = gr.Markdown(elem_id="qa-rebuild-result")

        chat_io = dict(
            fn=respond,
            inputs=[question, chatbot, history, turns, top_k, sources, since, until],
            outputs=[chatbot, question, history, turns, panel],
            concurrency_limit=1, concurrency_id="llm", api_visibility="private",
        )
        question.submit(**chat_io)
        ask_btn.click(**chat_io)
        new_btn.click(new_chat, None, [chatbot, question, history, turns, panel],
                      api_visibility="private")
        chatbot.clear(new_chat, None, [chatbot, question, history, turns, panel],
                      api_visibility="private")
        search.change(article_rows, search, table, api_visibility="private")
        refresh_out = [status_md, table, sources, to_delete]
        demo.load(refresh, search, refresh_out, api_visibility="private")
        files.upload(upload, [files, search], [upload_md, files, to_delete],
                     api_visibility="private")
        delete_btn.click(delete, to_delete, [delete_md, to_delete], api_visibility="private")
        rebuild_btn.click(rebuild, search, [rebuild_md, *refresh_out], concurrency_limit=1,
                          concurrency_id="rebuild", api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_limit=1, concurrency_id="llm")
    demo.queue(default_concurrency_limit=4)
    return demo


def summary_markdown(s: RebuildSummary) -> str:
    lines = [f"**Rebuilt:** {s.added} added, {s.updated} updated, {s.removed} removed, "
             f"{s.unchanged} unchanged, {len(s.skipped)} skipped — {s.chunks:,} chunks "
             f"({s.embedded:,} embedded) in {s.seconds:.1f} s."]
    lines += [f"- skipped {md_escape(k.path)}: {md_escape(k.reason)}" for k in s.skipped]
    lines += [f"- warning {md_escape(w.path)}: {md_escape(w.reason)}" for w in s.warnings]
    return "\n".join(lines)


def launch(demo: gr.Blocks, settings: Settings, host: str | None = None,
           port: int | None = None, auth_file: Path | None = None,
           block: bool = True) -> str:
    """Serve the UI (loopback unless told otherwise); returns the local URL."""
    auth_path = auth_file or settings.auth_file
    auth = read_auth_file(auth_path) if auth_path else None
    _, url, _ = demo.launch(
        server_name=host or settings.host, server_port=port or settings.port, share=False,
        auth=auth, auth_message="Sign in to ask questions about the articles." if auth else None,
        css=CSS, head=HEAD, theme=THEME, ssr_mode=False, quiet=True, prevent_thread_lock=True,
        footer_links=["api"], show_error=False, pwa=False, mcp_server=False,
        max_file_size=settings.max_file_bytes,
    )
    if block:
        demo.block_thread()
    return url


def warm_up(engine: Engine) -> threading.Thread:
    """Load the embedding model and the LLM in the background so the first answer is quick."""

    def go() -> None:
        try:
            state = engine.store.read_state()
            engine.embedder.for_index(state.embed_model if state else "").encode_query("warm up")
            _ = engine.llm
        except QAError:
            pass  # reported when a question needs it

    t = threading.Thread(target=go, name="qa-warm-up", daemon=True)
    t.start()
    return t
