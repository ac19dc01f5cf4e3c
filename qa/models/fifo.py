"""A first-come, first-served lock: the one LLM slot that UI and API requests queue for."""

from __future__ import annotations

import itertools
import threading
from types import TracebackType


class FairLock:
    """A lock granted in the order it was asked for (`threading.Lock` promises no order, so a
    busy caller could take the model again and again while another waits)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._tickets = itertools.count()
        self._serving = 0

    def acquire(self) -> None:
        with self._cond:
            ticket = next(self._tickets)
            self._cond.wait_for(lambda: self._serving == ticket)

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
