"""Where the server's blocking work runs: off the event loop, writes of one namespace in arrival order.

Writes go to a pool of ``workers`` threads behind a per-namespace FIFO lock (``asyncio.Lock`` wakes waiters in
the order they came), so batches of one namespace are stored in the order their requests arrived, and a batch of
another namespace never waits in that queue, nor for that namespace's writer lock (``evomem.storage.locks``): two
tenants' writes are encoded at the same time, as long as a worker thread is free. Reads have their own pool and
never queue behind a write.

Torch threads: a read (a search encodes a query of a few dozen tokens) runs on one torch thread. Spread over
several, so small a job gains nothing on an idle machine, and when other work holds a core every matrix product
waits for the thread that has none: encoding a query took 490 ms on two threads against 26 ms on one, with a
training process on the other core. Writes keep the process's count. Each worker thread sets its own count when it
starts, as torch gives a new thread the count last set in any thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..errors import InvalidInputError

T = TypeVar("T")


READ_THREADS = 1  # torch threads of a read


def torch_threads(count: int) -> None:
    """Set the calling thread's torch intra-op threads."""
    import torch

    torch.set_num_threads(count)


class Workers:
    def __init__(self, workers: int):
        if workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {workers}")
        import torch

        self.write_threads = torch.get_num_threads()  # the process's count, as this thread sees it
        self._writers = ThreadPoolExecutor(
            workers, "evomem-write", initializer=torch_threads, initargs=(self.write_threads,)
        )
        self._readers = ThreadPoolExecutor(
            workers + 2, "evomem-read", initializer=torch_threads, initargs=(READ_THREADS,)
        )
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
