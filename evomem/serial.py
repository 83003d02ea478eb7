"""Async forms of blocking methods: ``SerialWorker``, one thread, started on first use, that runs calls one at a time
in the order they were handed to it (writes await it, so they stay in order), and ``in_thread``, which makes the
async twin of a method (``EvoMemory``'s and ``EvoMemoryClient``'s), run in a worker thread so that awaiting it
never blocks an event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class SerialWorker:
    def __init__(self, name: str):
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    async def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``function(*args, **kwargs)`` in the worker thread, after every call handed over before it."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
            future = self._pool.submit(function, *args, **kwargs)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Wait for the calls in flight; a later ``run`` starts a new thread."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class Threaded(Protocol):
    """What ``in_thread`` needs of an object: a check that it is still open, and its writes' worker."""

    _writes: SerialWorker

    def _check_open(self) -> None: ...


S = TypeVar("S", bound=Threaded)


def in_thread(
    method: Callable[Concatenate[S, P], R], writes: bool = False
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The async twin of ``method``: it runs in a worker thread; ``writes`` run one at a time in the object's
    ``SerialWorker``, in the order they were awaited."""

    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        self._check_open()
        if writes:
            return await self._writes.run(method, self, *args, **kwargs)
        return await asyncio.to_thread(method, self, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"a{method.__name__}"
    run.__doc__ = f"``{method.__name__}`` awaited: it runs in a worker thread, never blocking the event loop."
    return run
