"""The write protocol of one model's store: the writer lock, the journal, the upsert, the commit, reconciliation.

A batch is committed when its namespace's memory-state file is renamed into place. Before touching Chroma the
writer saves (fsync, rename) a journal entry naming the batch: the namespace, the memory step before and after,
the record ids it writes (one per stream position, so never an id that a committed record holds) and the records
it supersedes (the stored parts of messages that it adds again). After the commit the superseded records are
deleted and the entry is removed. Readers see only positions below the committed step, so until the commit they
read the old version of a message added again, and after it the new one. A writer killed at any moment therefore
leaves either

- no entry: nothing of the batch was written, or all of it was, state included; or
- an entry while the state is still at the step before: the batch is rolled back (its records deleted); or
- an entry while the state is at the step after: the batch is complete; the superseded records are deleted and
  the entry is removed.

Deleting a namespace, or messages of it, is journalled too and rolled forward (the vector store and the lexical
index are deleted from in turn). Reconciliation runs under the writer lock, when a store is opened and before
every write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import JournalError, StoreFullError
from ..model.queue import LatentQueue
from ..schema import Segment
from .journal import WriteJournal, remove_stale_temporaries
from .locks import ThreadGate, WriterLock
from .space import MARGIN_BYTES, disk_is_full, release_reserve, require_free_space
from .state import MemoryStates, StateCorruptedError
from .store import SegmentStore, record_id


@dataclass(frozen=True)
class EncodedBatch:
    """Segments of one namespace encoded in stream order, with the memory they evolved."""

    namespace: str
    entries: Sequence[Segment]
    vectors: torch.Tensor  # (n, D), one per entry
    memory: LatentQueue  # the namespace's memory after the batch: what the commit saves
    disk_bytes: int  # what the write may take on disk, checked again when it fails

    @property
    def first_position(self) -> int:
        """The stream position of the first entry (every entry took one memory step)."""
        return self.memory.step - len(self.entries)


@dataclass(frozen=True)
class WriteState:
    """What the write protocol keeps beside the vectors: files under the store's path, or a database shared by
    several machines (``evomem.storage.postgres``)."""

    states: MemoryStates  # each namespace's committed memory
    journal: WriteJournal  # each namespace's write in flight
    lock: WriterLock  # who may write a namespace now


# Encode segments as the stream after a memory, which evolves over them: the step before every commit.
BatchEncoder = Callable[[str, LatentQueue, Sequence[Segment]], EncodedBatch]


class NamespaceWriter:
    """Serialises the writers of one store across threads, processes and machines and runs every write's protocol.

    ``state`` is where the memory states, the journal entries and the writer lock live; ``encode`` turns the
    segments of a batch into an ``EncodedBatch`` (it may refuse a batch the disk cannot hold); ``recovered``
    collects what reconciling interrupted writes did, one line each.
    """

    def __init__(self, path: Path, store: SegmentStore, state: WriteState, encode: BatchEncoder):
        self.path = path
        self.encode = encode
        self.store = store
        self.states = state.states
        self.journal = state.journal
        self.threads = ThreadGate()  # the threads of this process; ``state.lock`` the processes
        self._lock = state.lock
        self.recovered: list[str] = []
        self.guard: Callable[[], None] | None = None  # run with the lock held before any write; raises to refuse it

    @contextmanager
    def writing(self, namespace: str | None) -> Iterator[None]:
        """Hold the writer lock of ``namespace`` (None: of the whole store); with a namespace, first reconcile what
        a dead writer left in it. Writers of other namespaces go on meanwhile."""
        in_process = namespace if self._lock.namespaces_at_once else None
        with self.threads.hold(in_process), self._lock.hold(namespace):
            if self.guard is not None:
                self.guard()
            if namespace is not None:
                self.reconcile(namespace)
            yield

    def index_lexically(self, namespace: str, step: int) -> None:
        """Before a lexical search at ``step``: index what the namespace's lexical index lacks, under the writer
        lock; free when it lacks nothing."""
        if self.store.lexical is not None and not self.store.lexical.covers(
            namespace, step, self.states.revision(namespace)
        ):
            with self.writing(namespace):
                self._catch_up_lexically(namespace, self.states.step(namespace))

    def _catch_up_lexically(self, namespace: str, step: int) -> None:
        """Make this machine's lexical index hold the namespace's committed segments below ``step`` at its current
        revision (a store written before lexical indexes, another machine's write), before it is searched or
        changed (writer lock held)."""
        self.store.index_lexically(namespace, step, self.states.revision(namespace))

    def _room_to_reconcile(self, pending: bool) -> None:
        """Embedded Chroma can block for minutes deleting records on a full disk: with ``pending`` writes to
        reconcile, a full disk is said first (``StoreFullError``)."""
        if pending and self.store.connection.embedded:
            require_free_space(self.path, MARGIN_BYTES)

    def reconcile(self, namespace: str, undo_if_unreadable: bool = False) -> None:
        """Finish or undo what a dead writer left in flight in ``namespace`` (with the writer lock held)."""
        self._room_to_reconcile(self.journal.has(namespace))
        self.recovered += reconcile(self.store, self.states, self.journal, namespace, undo_if_unreadable)

    def reconcile_if_idle(self) -> None:
        """On opening: reconcile interrupted writes unless a live writer holds the lock (it will do it)."""
        with self.threads.hold_if_free() as free_here, self._lock.hold_if_free() as free:
            if not (free_here and free):
                return
            try:
                self._room_to_reconcile(bool(self.journal.locations()))
                self.recovered += reconcile(self.store, self.states, self.journal)  # failures: reported, left
                remove_stale_temporaries(self.path)  # a generation file half-written by a killed writer
            except StoreFullError as error:  # reads see committed batches only; the next write reconciles
                self.recovered.append(f"interrupted writes are reconciled by the next write: {error}")

    def add(self, namespace: str, memory: LatentQueue, entries: Sequence[Segment]) -> None:
        """Append ``entries`` to the namespace's stream after its committed ``memory`` (which evolves over them) as
        one batch (writer lock held, the namespace reconciled)."""
        if entries:
            self.commit(self.encode(namespace, memory, entries))

    def commit(self, batch: EncodedBatch) -> None:
        """Write ``batch`` as one journalled batch (writer lock held).

        Order: journal entry (fsync) -> Chroma upsert at new positions -> memory state rename (the commit) ->
        superseded parts of messages added again deleted -> journal removed.
        """
        namespace, first, entries = batch.namespace, batch.first_position, batch.entries
        metadatas = [
            _written(
                entry.metadata,
                namespace=namespace,
                position=first + i,
                message_id=entry.id,
                part=entry.part,
                fingerprint=self.states.fingerprint,
            )
            for i, entry in enumerate(entries)
        ]
        ids = [record_id(namespace, first + i) for i in range(len(entries))]
        # a message's first part starts a new version of it (a migration may carry a message's later parts over to
        # the next batch); the parts of its older version are superseded
        superseded = self.store.record_ids(namespace, [entry.id for entry in entries if entry.part == 0])
        self._catch_up_lexically(namespace, first)
        self.journal.begin_add(namespace, first, batch.memory.step, ids, superseded)
        try:
            self.store.upsert(ids, batch.vectors, [entry.text for entry in entries], metadatas)
            self.states.save(namespace, batch.memory)
        except BaseException as error:
            if isinstance(error, Exception) and self.store.connection.embedded and disk_is_full(self.path):
                release_reserve(self.path)  # room for the rollback below, and for reads to apply Chroma's log
            # Undo now what the next writer would otherwise undo; if that fails too, the journal stays for later.
            with contextlib.suppress(Exception):
                self.reconcile(namespace)
            if isinstance(error, Exception):
                require_free_space(self.path, batch.disk_bytes)  # a disk that filled up during the write, said plainly
            raise
        try:
            self.store.delete_records(namespace, superseded)
            self.journal.end(namespace)
            self._changed(namespace)
        except Exception as error:  # committed: the next writer deletes them (readers skip them meanwhile)
            self.recovered.append(f"left {len(superseded)} superseded records of namespace {namespace}: {error}")

    def _changed(self, namespace: str) -> None:
        """Tell other machines sharing the states that the namespace changed, and mark this machine's lexical
        index as current (a writer killed before this leaves the index to be rebuilt: never wrongly current)."""
        revision = self.states.bump(namespace)
        if revision is not None and self.store.lexical is not None:
            self.store.lexical.record_revision(namespace, revision)

    def delete(self, namespace: str, message_ids: Sequence[str] | None) -> None:
        """Delete messages of ``namespace``, or (``message_ids`` None) all of it with its memory state, journalled
        and rolled forward if interrupted (writer lock held)."""
        if message_ids is not None:  # the index must be current before rows leave it, or it is marked current wrongly
            self._catch_up_lexically(namespace, self.states.step(namespace))
        self.journal.begin_delete(namespace, None if message_ids is None else list(message_ids))
        self.store.delete(namespace, message_ids)
        if message_ids is None:
            self.states.delete(namespace)
        self.journal.end(namespace)
        if message_ids is not None:
            self._changed(namespace)

    def replace_memory(self, namespace: str, memory: LatentQueue | None) -> None:
        """Replace a namespace's memory state (rebuilt from its stored text; None: it holds nothing) and index its
        committed segments lexically again (writer lock held, the namespace reconciled)."""
        if memory is None:
            self.states.delete(namespace)
        else:
            self.states.save(namespace, memory)
        self.store.index_lexically(namespace, 0 if memory is None else memory.step, rebuild=True)
        if memory is not None:
            self._changed(namespace)


def _written(metadata: dict[str, Any], **bookkeeping: Any) -> dict[str, Any]:
    """A segment's metadata as stored: the message's, evomem's bookkeeping, and its times. ``created_at`` is when
    it was first written (kept when a store's records are written again, by a migration say); ``time`` is when the
    message happened: its ``timestamp``, else ``created_at``."""
    created = metadata.get("created_at", time.time())
    return {**metadata, **bookkeeping, "created_at": created, "time": metadata.get("timestamp", created)}


def reconcile(
    store: SegmentStore,
    states: MemoryStates,
    journal: WriteJournal,
    namespace: str | None = None,
    undo_if_unreadable: bool = False,
) -> list[str]:
    """Finish or undo the writes that a dead writer left in flight; returns what was done, one line each.

    Call with the writer lock held. With ``namespace``, only that namespace's entry is read, and an entry that
    cannot be read or judged raises (``JournalError``; ``StateCorruptedError`` when the memory state is
    unreadable, unless ``undo_if_unreadable``, for a rebuild which replaces the state: then the batch is rolled
    back). Without, every entry is reconciled and one that fails is reported in the returned lines and left for
    its namespace: one damaged file never blocks the others.
    """
    if namespace is not None:
        entry = journal.entry(namespace)
        return [] if entry is None else [_reconcile_entry(store, states, journal, entry, undo_if_unreadable)]
    done = []
    for location in journal.locations():
        try:
            done.append(_reconcile_entry(store, states, journal, journal.read(location), undo_if_unreadable))
        except (JournalError, StateCorruptedError) as error:  # raised again when its namespace is used
            done.append(f"could not reconcile {location}: {error}")
    remove_stale_temporaries(states.directory)
    return done


def _reconcile_entry(
    store: SegmentStore, states: MemoryStates, journal: WriteJournal, entry: dict[str, Any], undo_if_unreadable: bool
) -> str:
    """Finish or undo one checked entry; returns what was done. Each finish or undo that changes the namespace's
    segments bumps its revision (shared states), so no machine's lexical index stays current with rows the dead
    writer left in it, or that the reconciling writer removed."""
    name = entry["namespace"]
    if entry["op"] == "delete_messages":
        store.delete(name, entry["message_ids"])
        states.bump(name)
        journal.end(name)
        return f"finished deleting {len(entry['message_ids'])} message ids of namespace {name}"
    if entry["op"] == "delete":
        store.delete(name)
        states.delete(name)
        journal.end(name)
        return f"finished deleting namespace {name}"
    if entry["op"] != "add":
        raise JournalError(f"journal {journal.where(name)} has an unknown operation {entry['op']!r}")
    try:
        step = states.step(name)
    except StateCorruptedError:
        if not undo_if_unreadable:
            raise
        step = entry["from_step"]
    if step == entry["to_step"]:
        store.delete_records(name, entry.get("superseded", []))
        states.bump(name)
        journal.end(name)
        return f"kept the committed batch of namespace {name} (steps {entry['from_step']}-{step})"
    if step != entry["from_step"]:
        raise JournalError(
            f"journal {journal.where(name)} describes steps {entry['from_step']}-{entry['to_step']} of namespace "
            f"{name}, but its memory state is at step {step}"
        )
    store.delete_records(name, entry["record_ids"])
    previous = entry.get("previous")  # version 1: the records it overwrote
    if previous:
        store.upsert(
            [r["id"] for r in previous],
            [r["embedding"] for r in previous],
            [r["text"] for r in previous],
            [r["metadata"] for r in previous],
        )
    states.bump(name)
    journal.end(name)
    return (
        f"rolled back the uncommitted batch of namespace {name} "
        f"({len(entry['record_ids'])} segments, steps {entry['from_step']}-{entry['to_step']})"
    )
