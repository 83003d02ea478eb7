"""The writer lock of a store: who may write a namespace now, across threads, processes and (shared) machines.

``hold(namespace)`` serialises the writers of one namespace; writers of other namespaces go on at the same time.
``hold(None)`` excludes every writer of the store (a rebuild, a migration, an upgrade) and waits for those writing.
``hold_if_free()`` takes the whole store only if no writer holds any part of it, for reconciling on opening.

Two layers: ``ThreadGate`` orders the threads of one process (each ``NamespaceWriter`` has one), and a
``WriterLock`` the processes: ``FileWriterLock`` on one machine (a shared or exclusive ``flock`` on
``writer.lock``, then an exclusive one on the namespace's file under ``locks/``), or PostgreSQL advisory locks
(``evomem.storage.postgres``). Both nest within one thread: a namespace inside the whole store is free.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from .state import namespace_digest


class WriterLock(Protocol):
    namespaces_at_once: bool  # whether threads of one process may hold different namespaces at the same time

    def hold(self, namespace: str | None) -> AbstractContextManager[None]: ...

    def hold_if_free(self) -> AbstractContextManager[bool]: ...


class ThreadGate:
    """The threads of one process: one at a time per namespace, and a store-wide holder alone. Reentrant per
    thread; a thread waiting for the whole store holds back new namespace holders, so it is never starved."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owner: int | None = None  # the thread holding the whole store
        self._depth = 0  # its nesting
        self._holders: dict[str, list[int]] = {}  # namespace -> [thread, nesting]
        self._store_waiters = 0

    def _holds_a_namespace(self, thread: int) -> bool:
        return any(holder[0] == thread for holder in self._holders.values())

    def _enter(self, namespace: str | None, me: int, wait: bool) -> bool:
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return True
            if namespace is None:
                if self._holds_a_namespace(me):
                    raise RuntimeError("the whole store's writer lock cannot be taken inside a namespace's")
                self._store_waiters += 1
                try:
                    while self._owner is not None or self._holders:
                        if not wait:
                            return False
                        self._changed.wait()
                finally:
                    self._store_waiters -= 1
                self._owner, self._depth = me, 1
                return True
            holder = self._holders.get(namespace)
            if holder is not None and holder[0] == me:
                holder[1] += 1
                return True
            while self._owner is not None or namespace in self._holders or self._store_waiters:
                self._changed.wait()
            self._holders[namespace] = [me, 1]
            return True

    def _leave(self, namespace: str | None, me: int) -> None:
        with self._changed:
            if self._owner == me:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
            else:
                holder = self._holders[namespace]  # type: ignore[index]
                holder[1] -= 1
                if not holder[1]:
                    del self._holders[namespace]  # type: ignore[arg-type]
            self._changed.notify_all()

    @contextmanager
    def hold(self, namespace: str | None) -> Iterator[None]:
        me = threading.get_ident()
        self._enter(namespace, me, wait=True)
        try:
            yield
        finally:
            self._leave(namespace, me)

    @contextmanager
    def hold_if_free(self) -> Iterator[bool]:
        """The whole store if no thread of this process holds any of it now."""
        me = threading.get_ident()
        if not self._enter(None, me, wait=False):
            yield False
            return
        try:
            yield True
        finally:
            self._leave(None, me)


class FileWriterLock:
    """The processes of one machine: ``writer.lock`` shared by namespace writers and exclusive for the whole
    store, and one lock file per namespace under ``locks/`` (named by a digest, never by the namespace).

    The threads of one process are ordered by their ``ThreadGate`` first, so this object sees a whole-store holder
    alone, and several namespace holders only together.
    """

    namespaces_at_once = True

    def __init__(self, path: Path):
        self.path = path
        self._directory = path.parent / "locks"
        self._count = threading.Lock()  # guards the two counts below
        self._sharers = 0  # namespaces held through the shared lock on writer.lock
        self._store_depth = 0  # nesting of the exclusive lock on writer.lock
        self._gate: int | None = None  # writer.lock's descriptor while any lock is held

    def _open_gate(self) -> int:
        if self._gate is None:
            self._gate = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._gate

    def _close_gate(self) -> None:
        if self._gate is not None and not self._sharers and not self._store_depth:
            os.close(self._gate)  # closing drops the flock
            self._gate = None

    @contextmanager
    def _whole_store(self, blocking: bool) -> Iterator[bool]:
        with self._count:
            acquired = True
            if not self._store_depth:  # else nested: held already
                try:
                    fcntl.flock(self._open_gate(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    self._close_gate()
                    acquired = False
            if acquired:
                self._store_depth += 1
        if not acquired:
            yield False
            return
        try:
            yield True
        finally:
            with self._count:
                self._store_depth -= 1
                self._close_gate()

    @contextmanager
    def _namespace(self, namespace: str) -> Iterator[None]:
        with self._count:
            if self._store_depth:  # inside the whole store: held already
                nested = True
            else:
                nested = False
                if not self._sharers:
                    fcntl.flock(self._open_gate(), fcntl.LOCK_SH)
                self._sharers += 1
        if nested:
            yield
            return
        try:
            self._directory.mkdir(exist_ok=True)
            file = self._directory / f"{namespace_digest(namespace)}.lock"
            descriptor = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)
        finally:
            with self._count:
                self._sharers -= 1
                self._close_gate()

    @contextmanager
    def hold(self, namespace: str | None) -> Iterator[None]:
        if namespace is None:
            with self._whole_store(blocking=True):
                yield
        else:
            with self._namespace(namespace):
                yield

    def hold_if_free(self) -> AbstractContextManager[bool]:
        return self._whole_store(blocking=False)
