"""The writer lock of a store: who may write a namespace now, across threads, processes and (shared) machines.

``hold(namespace)`` serialises the writers of one namespace; ``hold(None)`` excludes every writer of the store
(a rebuild, a migration). ``hold_if_free()`` takes the whole store only if no writer holds any part of it, for
reconciling on opening. Both nest within one process. ``FileWriterLock`` is one file lock for the whole store
(one machine); ``evomem.storage.postgres`` has PostgreSQL advisory locks, one per namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout


class WriterLock(Protocol):
    def hold(self, namespace: str | None) -> AbstractContextManager[None]: ...

    def hold_if_free(self) -> AbstractContextManager[bool]: ...


class FileWriterLock:
    """One lock file for the whole store: writers of every namespace take turns."""

    def __init__(self, path: Path):
        self._lock = FileLock(str(path))

    @contextmanager
    def hold(self, namespace: str | None) -> Iterator[None]:
        with self._lock:
            yield

    @contextmanager
    def hold_if_free(self) -> Iterator[bool]:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            self._lock.release()
