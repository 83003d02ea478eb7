"""Where the server's blocking work runs: off the event loop, writes of one namespace in arrival order.

Writes go to a pool of ``workers`` threads behind a per-namespace FIFO lock (``asyncio.Lock`` wakes waiters in
the order they came), so batches of one namespace are stored in the order their requests arrived, and a batch of
another namespace never waits in that queue, nor for that namespace's writer lock (``evomem.storage.locks``): two
tenants' writes are encoded at the same time, as long as a worker thread is free. Reads have their own pool and
never queue behind a write.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..errors import InvalidInputError

T = TypeVar("T")


class Workers:
    def __init__(self, workers: int):
        if workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {workers}")
        self._writers = ThreadPoolExecutor(workers, thread_name_prefix="evomem-write")
        self._readers = ThreadPoolExecutor(workers + 2, thread_name_prefix="evomem-read")
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    async def write(self, namespace: str, function: Callable[..., T], *args, **kwargs) -> T:
        """Run a write of ``namespace`` after the earlier writes of that namespace."""
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        self._waiting[namespace] = self._waiting.get(namespace, 0) + 1
        try:
            async with lock:
                return await self._run(self._writers, function, *args, **kwargs)
        finally:
            self._waiting[namespace] -= 1
            if not self._waiting[namespace]:  # nobody else queued: forget the namespace's lock
                del self._waiting[namespace], self._locks[namespace]

    @property
    def writes(self) -> int:
        """Writes running or queued."""
        return sum(self._waiting.values())

    async def read(self, function: Callable[..., T], *args, **kwargs) -> T:
        return await self._run(self._readers, function, *args, **kwargs)

    @staticmethod
    async def _run(pool: ThreadPoolExecutor, function: Callable[..., T], *args, **kwargs) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        """Wait for the work in flight (a batch being written is finished), then stop the threads."""
        self._writers.shutdown(wait=True)
        self._readers.shutdown(wait=True)
