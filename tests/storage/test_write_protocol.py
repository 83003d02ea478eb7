"""The storage layer alone, without a model: the write protocol, the writer lock, free space and the serial worker.

A stand-in encoder gives each segment a fixed vector and evolves the memory by one step per segment, as the real
one does; everything else is real (embedded Chroma, memory-state files, the journal, the lock file).
"""

from __future__ import annotations

import asyncio
import errno
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from evomem.errors import StoreFullError
from evomem.model.queue import LatentQueue
from evomem.schema import Segment
from evomem.serial import SerialWorker
from evomem.storage.connection import embedded_connection
from evomem.storage.journal import Journal
from evomem.storage.lexical import LexicalIndex
from evomem.storage.locks import FileWriterLock
from evomem.storage.space import MARGIN_BYTES, batch_bytes, require_free_space
from evomem.storage.state import StateDirectory
from evomem.storage.store import SegmentStore, record_id
from evomem.storage.writer import EncodedBatch, NamespaceWriter, WriteState

FINGERPRINT = "0123456789abcdef"
DIM = 8
SHAPE = (2, 4, DIM)  # latents per step, steps kept, latent size


def stand_in_encode(namespace: str, memory: LatentQueue, entries: Sequence[Segment]) -> EncodedBatch:
    evolved = memory.copy()
    for _ in entries:
        evolved.push(torch.ones(SHAPE[0], DIM))
    vectors = torch.nn.functional.normalize(torch.arange(1, len(entries) * DIM + 1.0).view(len(entries), DIM), dim=1)
    return EncodedBatch(namespace, entries, vectors, evolved, MARGIN_BYTES)


class Store:
    """The storage pieces of one store directory, as ``EvoMemory`` wires them."""

    def __init__(self, path: Path, encode=stand_in_encode):
        self.states = StateDirectory(path, FINGERPRINT)
        self.journal = Journal(self.states)
        self.lock = FileWriterLock(path / "writer.lock")
        self.connection = embedded_connection(path / "chroma")
        self.store = SegmentStore(self.connection, FINGERPRINT, DIM, lexical=LexicalIndex(self.states.directory))
        self.writer = NamespaceWriter(path, self.store, WriteState(self.states, self.journal, self.lock), encode)

    def add(self, namespace: str, texts: list[str]) -> None:
        entries = [Segment(f"m{i}", 0, text, {"role": "user"}) for i, text in enumerate(texts)]
        with self.writer.writing(namespace):
            self.writer.add(namespace, self.states.load(namespace, *SHAPE), entries)


@pytest.fixture
def opened(tmp_path):
    store = Store(tmp_path)
    yield store
    store.connection.release()


def test_a_committed_batch_has_its_records_its_memory_step_and_no_journal(opened):
    opened.add("n", ["one", "two", "three"])
    stored = sorted(opened.store.get("n"), key=lambda s: s.metadata["position"])
    assert [s.text for s in stored] == ["one", "two", "three"]
    assert [s.record_id for s in stored] == [record_id("n", i) for i in range(3)]
    assert opened.states.step("n") == 3 and not opened.journal.has("n")
    assert {s.metadata["fingerprint"] for s in stored} == {FINGERPRINT}
    assert all("created_at" in s.metadata and s.metadata["time"] == s.metadata["created_at"] for s in stored)


def test_an_encoding_that_fails_leaves_nothing_behind(tmp_path):
    def failing(namespace, memory, entries):
        raise RuntimeError("the model broke")

    opened = Store(tmp_path, failing)
    try:
        with pytest.raises(RuntimeError, match="the model broke"):
            opened.add("n", ["one"])
        assert opened.states.step("n") == 0 and not opened.store.get("n") and not opened.journal.has("n")
    finally:
        opened.connection.release()


def test_a_write_that_fails_at_the_commit_is_undone(opened, monkeypatch):
    opened.add("n", ["kept"])

    def broken_save(namespace, memory):
        raise OSError(errno.EIO, "the disk failed")

    monkeypatch.setattr(opened.states, "save", broken_save)
    with pytest.raises(OSError, match="the disk failed"):
        opened.add("n", ["lost"])
    monkeypatch.undo()
    assert [s.text for s in opened.store.get("n")] == ["kept"]
    assert opened.states.step("n") == 1 and not opened.journal.has("n")


def test_deleting_a_namespace_removes_its_records_and_memory(opened):
    opened.add("a", ["alpha"])
    opened.add("b", ["beta"])
    with opened.writer.writing("a"):
        opened.writer.delete("a", None)
    assert not opened.store.get("a") and not opened.states.has("a")
    assert [s.text for s in opened.store.get("b")] == ["beta"] and opened.states.step("b") == 1


def test_the_writer_lock_is_exclusive_across_holders(tmp_path):
    first, second = FileWriterLock(tmp_path / "writer.lock"), FileWriterLock(tmp_path / "writer.lock")
    held, release = threading.Event(), threading.Event()

    def hold():
        with first.hold("a"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    with second.hold_if_free() as free:
        assert free is False
    release.set()
    thread.join()
    with second.hold_if_free() as free:
        assert free is True


def test_a_write_that_cannot_fit_is_refused_as_a_full_store(tmp_path):
    assert batch_bytes(10, 384, 1000) > batch_bytes(1, 384, 100) > MARGIN_BYTES
    with pytest.raises(StoreFullError) as raised:
        require_free_space(tmp_path, 10**18)
    assert raised.value.errno == errno.ENOSPC and "Nothing of the batch was stored" in str(raised.value)
    require_free_space(tmp_path, 1)


def test_the_serial_worker_runs_calls_in_the_order_they_were_handed_over():
    worker, order = SerialWorker("test"), []

    async def main():
        await asyncio.gather(*(worker.run(order.append, i) for i in range(20)))

    asyncio.run(main())
    worker.shutdown()
    assert order == list(range(20))
