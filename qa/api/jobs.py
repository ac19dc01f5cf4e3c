"""The API's engine calls, in worker threads of their own: a crowd of API requests waiting for
the model cannot take the threads the page and the rest of the server run on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

THREADS = 8  # more would only wait for the one model; retrieval runs in parallel meanwhile


class Jobs:
    def __init__(self, threads: int = THREADS) -> None:
        self.limiter = anyio.CapacityLimiter(threads)
        # A stream's steps never wait for the model (the stream holds it while it writes), so
        # they get threads of their own: sharing `limiter` with jobs that wait for the model
        # would deadlock the stream that holds it.
        self.steps = anyio.CapacityLimiter(threads)
        # Answers start in the order they arrive: retrieval runs in parallel threads, so
        # without a turn a later question could reach the model before an earlier one.
        self.turns = anyio.Lock()  # FIFO: released to the longest waiter

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in one of the API's threads; callers past the limit wait their turn."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def answer(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` as `run` does, in this request's turn among the API's answers: the turn
        ends when `fn` returns (a stream's start returns once it holds the model)."""
        async with self.turns:
            return await self.run(fn, *args)

    async def step(self, fn: Callable[..., T], *args: Any) -> T:
        """One step of a stream that already holds the model (the next delta)."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.steps)
