"""The API served for a test: the real UI+API server on a loopback port over a fake LLM."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qa.answer.condense import CONDENSE_PROMPT
from qa.config import Settings
from qa.engine import Engine
from qa.errors import LLMError
from qa.models.base import BaseLLM, Message
from qa.models.fifo import FairLock

from .helpers import SEED, free_port

REPLY = "Russia invited opposition representatives to Moscow [1]."


class FakeLLM(BaseLLM):
    """A scripted model that holds one first-come, first-served slot, as llama.cpp does, and
    records what it was asked (`calls`, in the order served) and how each stream ended."""

    name = "fake"

    def __init__(self, reply: Callable[[list[Message]], str] = lambda m: REPLY,
                 rewrite: str = "", delay: float = 0.0, fail: LLMError | None = None) -> None:
        self.reply, self.rewrite, self.delay, self.fail = reply, rewrite, delay, fail
        self.slot = FairLock()
        self.calls: list[list[Message]] = []
        self.closed = threading.Event()  # a stream was closed before its end
        self.sent: list[int] = []  # deltas sent, per finished or closed stream

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        with self.slot:
            self.calls.append(messages)
            sent, finished = 0, False
            try:
                if self.fail is not None:
                    raise self.fail
                condensing = messages[0]["content"] == CONDENSE_PROMPT
                words = (self.rewrite if condensing else self.reply(messages)).split(" ")
                for i, word in enumerate(words):
                    if self.delay:
                        time.sleep(self.delay)
                    sent += 1
                    yield word if i == 0 else " " + word
                finished = True
            finally:
                self.sent.append(sent)
                if not finished:
                    self.closed.set()


def seed_index(root: Path, embedder: Any) -> Settings:
    """Settings over a corpus of the seed article in `root`, indexed."""
    from qa import rebuild

    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / SEED.name)
    # The fake model answers the prompts it is written for: no second reading to check meaning.
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                        meaning_threshold=0.0)
    rebuild(settings, embedder=embedder)
    return settings


class Served:
    """Servers started by a test, each closed by `close`."""

    def __init__(self, settings: Settings, embedder: Any) -> None:
        self.settings, self.embedder, self.demos = settings, embedder, []

    def __call__(self, llm: BaseLLM | None = None, **updates: Any) -> tuple[str, Engine]:
        from qa.api import api_app_kwargs
        from qa.ui import build_ui, launch

        s = self.settings.model_copy(update=updates)
        engine = Engine(s, llm=llm or FakeLLM(), embedder=self.embedder)
        demo = build_ui(s, engine)
        url = launch(demo, s, port=free_port(), block=False, api=api_app_kwargs(engine, s))
        self.demos.append(demo)
        return url.rstrip("/"), engine

    def close(self) -> None:
        for d in self.demos:
            d.close()
