"""The page: its layout, and each control wired to a handler of `qa.ui.handlers`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gradio as gr

from qa.config import Settings
from qa.engine import Engine
from qa.ui.assets import CONFIRM_DELETE
from qa.ui.handlers import EXAMPLES, Handlers
from qa.ui.render import filter_chips, panel_html
from qa.ui.uploads import ALLOWED

HEADER = ("## qa — questions over your news articles\n"
          "Ask in plain words: each answer quotes the articles it comes from, or says that "
          "they don't say.")


def build_ui(settings: Settings, engine: Engine | None = None) -> gr.Blocks:
    """The whole UI over one Engine (built from `settings` unless given)."""
    handlers = Handlers(engine or Engine(settings), settings)
    with gr.Blocks(title="qa — questions over your articles", analytics_enabled=False) as demo:
        gr.Markdown(HEADER, elem_id="qa-header")
        status = gr.Markdown(elem_id="qa-status")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                ask = _ask_tab(settings)
            with gr.Tab("Articles", id="articles"):
                articles = _articles_tab()
        _wire_chat(handlers, ask)
        _wire_articles(handlers, demo, articles, status, ask)
        gr.api(_ask_api(handlers, settings), api_name="ask", concurrency_limit=1,
               concurrency_id="llm")
    demo.queue(default_concurrency_limit=4)
    return demo


def _ask_tab(settings: Settings) -> SimpleNamespace:
    """The chat, the question box, filters, and the sources panel beside them."""
    c = SimpleNamespace(history=gr.State([]), turns=gr.State([]))
    with gr.Row(elem_id="qa-ask-row"):
        with gr.Column(scale=3, elem_id="qa-left"):
            c.chips = gr.HTML("", elem_id="qa-filter-chips")
            c.chatbot = gr.Chatbot(
                elem_id="qa-chat", height=480, allow_tags=False, sanitize_html=True,
                feedback_options=None, buttons=["copy"], show_label=False,
                placeholder="Ask a question about the articles. Every claim in the "
                            "answer cites the passage it came from.",
            )
            c.question = gr.Textbox(
                placeholder="Ask about the articles…", show_label=False,
                elem_id="qa-question", max_lines=4, autofocus=True,
            )
            with gr.Row():
                c.ask_btn = gr.Button("Ask", variant="primary", elem_id="qa-ask")
                c.new_btn = gr.Button("New chat", elem_id="qa-new")
            # Made from the newest indexed articles on load and after each rebuild; buttons
            # show a long question whole, where a Dataset cuts it.
            with gr.Row(elem_id="qa-examples"):
                c.examples = [gr.Button(visible=False, size="sm", variant="secondary")
                              for _ in range(EXAMPLES)]
            with gr.Accordion("Filters and settings", open=False, elem_id="qa-filters"):
                c.sources = gr.Dropdown(label="Sources", multiselect=True, choices=[],
                                        elem_id="qa-sources-filter")
                with gr.Row():
                    c.since = gr.Textbox(label="From date", placeholder="YYYY-MM-DD")
                    c.until = gr.Textbox(label="Until date", placeholder="YYYY-MM-DD")
                c.top_k = gr.Slider(1, 20, value=settings.top_k, step=1,
                                    label="Passages per question (top-k)")
        with gr.Column(scale=2, elem_id="qa-right"):
            gr.Markdown("### Sources")
            c.panel = gr.HTML(panel_html([]), elem_id="qa-panel", js_on_load=None)
    return c


def _articles_tab() -> SimpleNamespace:
    """The article table, upload, delete and rebuild."""
    c = SimpleNamespace()
    c.search = gr.Textbox(label="Search titles", elem_id="qa-search")
    gr.Markdown("↔ Swipe the table sideways to see every column.", elem_id="qa-table-hint")
    c.table = gr.Dataframe(
        headers=["Title", "Date", "Source", "Chunks", "File"], interactive=False,
        elem_id="qa-articles", wrap=True,
        column_widths=["37%", "12%", "15%", "10%", "26%"],
    )
    with gr.Row():
        with gr.Column():
            c.files = gr.File(label=f"Upload articles ({', '.join(ALLOWED)})",
                              file_count="multiple", file_types=list(ALLOWED),
                              elem_id="qa-upload")
            c.upload_md = gr.Markdown(elem_id="qa-upload-result")
        with gr.Column():
            c.to_delete = gr.Dropdown(label="File to delete", choices=[],
                                      elem_id="qa-delete-file")
            c.delete_confirmed = gr.Checkbox(value=False, visible=False)
            c.delete_btn = gr.Button("Delete file…", variant="stop", elem_id="qa-delete")
            c.delete_md = gr.Markdown(elem_id="qa-delete-result")
    with gr.Row():
        c.urls = gr.Textbox(label="Add from URL (one or more article addresses)", scale=4,
                            elem_id="qa-add-url")
        c.add_url_btn = gr.Button("Fetch and add", scale=1, elem_id="qa-add-url-btn")
        c.pull_btn = gr.Button("Pull feeds", scale=1, elem_id="qa-pull-feeds")
    c.add_url_md = gr.Markdown(elem_id="qa-add-url-result")
    c.rebuild_btn = gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild")
    c.rebuild_md = gr.Markdown(elem_id="qa-rebuild-result")
    return c


def _wire_chat(h: Handlers, c: SimpleNamespace) -> None:
    # One LLM: chat answers and /ask calls share one queue slot ("llm").
    chat_io = dict(
        fn=h.chat,
        inputs=[c.question, c.chatbot, c.history, c.turns, c.top_k, c.sources, c.since, c.until],
        outputs=[c.chatbot, c.question, c.history, c.turns, c.panel],
        concurrency_limit=1, concurrency_id="llm", api_visibility="private",
    )
    for button in c.examples:
        button.click(lambda text: text, button, c.question, api_visibility="private")
    for field in (c.sources, c.since, c.until):
        field.change(filter_chips, [c.sources, c.since, c.until], c.chips,
                     api_visibility="private")
    c.question.submit(**chat_io)
    c.ask_btn.click(**chat_io)
    cleared = [c.chatbot, c.question, c.history, c.turns, c.panel]
    c.new_btn.click(h.new_chat, None, cleared, api_visibility="private")
    c.chatbot.clear(h.new_chat, None, cleared, api_visibility="private")


def _wire_articles(h: Handlers, demo: gr.Blocks, c: SimpleNamespace, status: gr.Markdown,
                   ask: SimpleNamespace) -> None:
    c.search.change(h.article_rows, c.search, c.table, api_visibility="private")
    refreshed = [status, c.table, ask.sources, c.to_delete, *ask.examples]
    demo.load(h.refresh, c.search, refreshed, api_visibility="private")
    # While the bundled model is assembled on first start, the status line says so; it is
    # read again every few seconds until the model is ready, then the timer stops.
    timer = gr.Timer(3.0)
    timer.tick(h.status_tick, None, [status, timer], api_visibility="private",
               show_progress="hidden")
    c.files.upload(h.upload, [c.files, c.search], [c.upload_md, c.files, c.to_delete, c.table],
                   api_visibility="private")
    # Deleting cannot be undone from the page: the browser asks first.
    c.delete_btn.click(h.delete, [c.to_delete, c.delete_confirmed], [c.delete_md, c.to_delete],
                       js=CONFIRM_DELETE, api_visibility="private")
    # The progress bar is drawn once, in the result line under the button that started it.
    c.rebuild_btn.click(h.rebuild, c.search, [c.rebuild_md, *refreshed], concurrency_limit=1,
                        concurrency_id="rebuild", api_visibility="private",
                        show_progress_on=[c.rebuild_md]).success(
        lambda: ("", ""), None, [c.upload_md, c.delete_md], api_visibility="private")
    from qa.ui.news import add_from_url_handler, pull_feeds_handler

    c.add_url_btn.click(add_from_url_handler(h), [c.urls, c.search],
                        [c.add_url_md, c.urls, *refreshed], concurrency_limit=1,
                        concurrency_id="rebuild", api_visibility="private",
                        show_progress_on=[c.add_url_md])
    c.pull_btn.click(pull_feeds_handler(h), c.search, [c.add_url_md, *refreshed],
                     concurrency_limit=1, concurrency_id="rebuild", api_visibility="private",
                     show_progress_on=[c.add_url_md])


def _ask_api(h: Handlers, settings: Settings) -> Any:
    """The `/ask` endpoint; Gradio documents it from this signature and docstring."""

    def ask(question: str, top_k: int = settings.top_k, sources: list[str] | None = None,
            since: str = "", until: str = "") -> dict[str, Any]:
        """Answer a question from the indexed articles with verified citations."""
        return h.ask(question, top_k, sources, since, until)

    return ask
