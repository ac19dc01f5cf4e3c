"""Serving the UI: the auth file, `launch` on loopback by default, and the models warmed up."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr

from qa.config import Settings
from qa.engine import Engine
from qa.errors import ConfigError, QAError
from qa.ui.assets import CSS, HEAD, THEME


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


def launch(demo: gr.Blocks, settings: Settings, host: str | None = None,
           port: int | None = None, auth_file: Path | None = None,
           block: bool = True, api: dict[str, Any] | None = None) -> str:
    """Serve the UI (loopback unless told otherwise); returns the local URL. `api`: FastAPI
    arguments adding routes to the same server (`qa.api.api_app_kwargs`)."""
    auth_path = auth_file or settings.auth_file
    auth = read_auth_file(auth_path) if auth_path else None
    _, url, _ = demo.launch(
        server_name=host or settings.host, server_port=port or settings.port, share=False,
        auth=auth, auth_message="Sign in to ask questions about the articles." if auth else None,
        css=CSS, head=HEAD, theme=THEME, ssr_mode=False, quiet=True, prevent_thread_lock=True,
        footer_links=["api"], show_error=False, pwa=False, mcp_server=False,
        max_file_size=settings.max_file_bytes, app_kwargs=dict(api or {}),
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
