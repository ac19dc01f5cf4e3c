"""The one mapping from an exception to what the UI shows: a `gr.Error` with a title and a fix.

    QAError subclass  -> its own message (it names the fix), titled by its type
    IndexMissingError -> the UI's fix: the Rebuild index button, not the `qa rebuild` command
    anything else     -> a generic message; the details go to the server log, never the page
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

from qa.errors import (
    ConfigError,
    CorpusError,
    IndexBusyError,
    IndexError_,
    IndexMissingError,
    LLMError,
    ModelError,
    QAError,
    QuestionError,
)
from qa.ui.render import NO_INDEX

log = logging.getLogger(__name__)

TITLES: dict[type[QAError], str] = {
    QuestionError: "Question", IndexMissingError: "No index", LLMError: "LLM",
    CorpusError: "Articles", ConfigError: "Settings", IndexBusyError: "Busy",
    IndexError_: "Index", ModelError: "Model",
}
UNEXPECTED = "Something went wrong unexpectedly. Try again; if it persists, check the server log."


def user_error(exc: BaseException) -> gr.Error:
    """What the user sees for `exc`; an unexpected exception is logged with its traceback."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, QAError):
        # A user's mistake or a known failure: one line in the server log, no traceback.
        log.info("shown to the user: %s", exc)
        if isinstance(exc, IndexMissingError):
            # In the UI the fix is a button. (Engine.article raises this type too, for an
            # article a rebuild removed; the chat handler catches that itself.)
            return notice(NO_INDEX.replace("**", ""), TITLES[IndexMissingError])
        title = next((t for cls, t in TITLES.items() if isinstance(exc, cls)), "Error")
        return notice(str(exc), title)
    log.error("unexpected error in the UI", exc_info=exc)
    return gr.Error(UNEXPECTED, title="Error")


def notice(message: str, title: str = "Error") -> gr.Error:
    """A message for the user that is not a fault of the server: Gradio prints no traceback."""
    return gr.Error(message, title=title, print_exception=False)


def warn(error: gr.Error) -> None:
    """Show `error` as a toast only: the page's outputs keep their content (a raised error
    would put an "Error" badge over each of them)."""
    gr.Warning(error.message, title=error.title)


@contextmanager
def shown_to_user() -> Iterator[None]:
    """Raise whatever fails inside as the `gr.Error` that `user_error` maps it to."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every failure reaches the user mapped
        mapped = user_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc
