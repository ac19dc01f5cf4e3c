"""News into the UI: "Add from URL" in the Articles tab, and feeds pulled on a timer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import gradio as gr

from qa.config import Settings
from qa.errors import QAError
from qa.ui.errors import notice, user_error
from qa.ui.render import md_escape

log = logging.getLogger(__name__)


def add_from_url_handler(h: Any) -> Callable[..., tuple[Any, ...]]:
    """The click handler of "Add from URL": fetch each URL (one per line), store the articles,
    rebuild the index, and say per URL what happened."""
    from qa.news import add_urls
    from qa.ui.handlers import RebuildProgress

    def add_from_url(text: str, query: str,
                     progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        urls = [u.strip() for u in (text or "").split() if u.strip()]
        if not urls:
            raise notice("Paste the address of an article page (http:// or https://).")
        done = [0]

        def step(url: str) -> None:
            progress((done[0], len(urls)), desc=f"Fetching {url[:60]}", unit="pages")
            done[0] += 1

        report = add_urls(h.settings, urls, rebuild=False, progress=step)
        notes = [f"✓ {md_escape(a.title)} → {md_escape(a.file)}"
                 + ("" if a.changed else " (already stored)") for a in report.added]
        notes += [f"✗ {md_escape(message)}" for _, message in report.failed]
        if any(a.changed for a in report.added):
            try:
                summary = h.engine.rebuild(progress=RebuildProgress(progress))
                notes.append(f"Index updated: {md_escape(summary.line())}")
            except QAError as exc:
                notes.append(f"✗ Stored, but the index was not updated: {md_escape(str(exc))}")
        return ("\n\n".join(notes), "", *h.refresh(query))

    return add_from_url


def pull_feeds_handler(h: Any) -> Callable[..., tuple[Any, ...]]:
    """The click handler of "Pull feeds": pull every listed feed with a progress bar, then
    rebuild the index if anything came in."""
    from qa.feeds import pull
    from qa.ui.handlers import RebuildProgress

    def pull_feeds(query: str,
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        def step(done: int, total: int, url: str) -> None:
            progress((done, max(total, 1)), desc=f"Pulling {url[:60]}", unit="feeds")

        try:
            report = pull(h.settings, progress=step)
        except QAError as exc:
            raise user_error(exc) from exc
        notes = [md_escape(report.line())]
        notes += [f"✗ {md_escape(message)}" for _, message in report.failed]
        if report.added or report.updated:
            try:
                summary = h.engine.rebuild(progress=RebuildProgress(progress))
                notes.append(f"Index updated: {md_escape(summary.line())}")
            except QAError as exc:
                notes.append(f"✗ Stored, but the index was not updated: {md_escape(str(exc))}")
        return ("\n\n".join(notes), *h.refresh(query))

    return pull_feeds


def start_pulling(engine: Any, settings: Settings, every_seconds: float,
                  stop: threading.Event | None = None) -> threading.Thread:
    """Pull the feeds now and every `every_seconds`, updating the index when anything came in.
    A failed pull is logged and the next one goes ahead."""
    from qa.feeds import pull

    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                report = pull(settings)
                log.warning("feeds: %s", report.line())
                if report.added or report.updated:
                    engine.rebuild()
            except QAError as exc:
                log.warning("feeds: pull failed: %s", exc)
            stop.wait(every_seconds)

    t = threading.Thread(target=loop, name="qa-feeds", daemon=True)
    t.start()
    return t


def parse_every(text: str) -> float:
    """"30m", "2h", "90s", "1d" (or plain seconds) -> seconds; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    factor = units.get(text[-1:], 1)
    number = float(text[:-1] if text[-1:] in units else text)
    if number * factor < 60:
        raise ValueError("at least one minute")
    return number * factor
