"""A first-come, first-served lock: the one LLM slot that UI and API requests queue for."""

from __future__ import annotations

import threading
from types import TracebackType


class FairLock:
    """A lock granted in the order it was asked for (`threading.Lock` promises no order, so a
    busy caller could take the model again and again while another waits)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the ticket the next caller draws
        self._serving = 0  # the ticket that holds the lock

    @property
    def queued(self) -> int:
        """Callers holding or waiting for the lock."""
        with self._cond:
            return self._next - self._serving

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
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
