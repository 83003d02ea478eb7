"""Code that runs in real child processes (started from a forkserver, so each starts in about a second).

Children report through a one-way pipe; a child that is killed with SIGKILL simply stops reporting.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any


def forkserver():
    """The multiprocessing context of the tests: a forkserver that has imported evomem (and this module)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["evomem", "workers"])
    if not _STOPPING:
        _STOPPING.append(atexit.register(_stop_forkserver))
    return context


_STOPPING: list = []


def _stop_forkserver() -> None:
    """Stop and reap the forkserver while this process is alive (else it lingers as a zombie)."""
    from multiprocessing import forkserver as module

    stop = getattr(module._forkserver, "_stop", None)
    if stop is not None:
        stop()


def start(context, target, *args):
    """A started child process and the end of the pipe it reports on."""
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(sender, *args), daemon=True)
    process.start()
    sender.close()
    return process, receiver


def received(receiver, timeout: float = 0.0, limit: int | None = None) -> list:
    """The reports a child sent so far (all of them once it has exited), at most ``limit``."""
    reports = []
    while (limit is None or len(reports) < limit) and receiver.poll(timeout):
        try:
            reports.append(receiver.recv())
        except EOFError:
            break
    return reports


def _quiet() -> None:
    """One torch thread (the children share 2 cores); no multiprocessing lock for tqdm (a killed child would leak
    its semaphore)."""
    import torch
    from tqdm.std import tqdm

    torch.set_num_threads(1)
    tqdm.set_lock(threading.RLock())


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def chat_batches(count: int, prefix: str = "b", long_every: int = 7) -> list[list[dict[str, Any]]]:
    """Deterministic batches of 1-4 messages with unique ids; now and then a long message that is split."""
    batches = []
    for b in range(count):
        batch = []
        for m in range(1 + b % 4):
            content = f"{prefix} batch {b} message {m}: the bakery on street {b * 7 + m} sells bread number {m}."
            if (b * 4 + m) % long_every == 0:
                content += " " + " ".join(f"Clause {i} about the harbour and sourdough." for i in range(12))
            batch.append({"role": "user" if m % 2 else "assistant", "content": content, "id": f"{prefix}{b}-{m}"})
        batches.append(batch)
    return batches


def ingest_batches(conn, path: str, model: str, namespace: str, batches, host=None, port=None) -> None:
    """Write the batches not yet present, acknowledging each once ``add_messages`` returned."""
    _quiet()
    try:
        from evomem import EvoMemory

        memory = EvoMemory(path, model=model, chroma_host=host, chroma_port=port or 8000)
        conn.send(("open", memory.recovered))
        for index, batch in enumerate(batches):
            ids = [message["id"] for message in batch]
            present = {segment.id for segment in memory.get(ids, namespace=namespace)}
            if present == set(ids):
                continue
            memory.add_messages(batch, namespace=namespace)
            conn.send(("ack", index))
        conn.send(("done", None))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise


def crash_at(conn, path: str, model: str, namespace: str, batch, point: str) -> None:
    """Write one batch (or delete the namespace) and SIGKILL this process at a chosen point of the write."""
    _quiet()
    from evomem import EvoMemory
    from evomem.storage.journal import Journal
    from evomem.storage.lexical import LexicalIndex
    from evomem.storage.state import StateDirectory
    from evomem.storage.store import SegmentStore

    upsert = SegmentStore.upsert

    def half_upsert(self, ids, vectors, texts, metadatas):
        half = max(1, len(ids) // 2)
        upsert(self, ids[:half], vectors[:half], texts[:half], metadatas[:half])
        _die()

    def half_lexical(self, namespace, rows, through_step):
        """Die inside the lexical index's transaction: its rows written, not committed (a hot journal left)."""
        import sqlite3

        connection = sqlite3.connect(self.path(namespace))
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.executemany(
            "INSERT INTO segments (rowid, text, message_id) VALUES (?, ?, ?)",
            [(row.position, row.text, row.message_id) for row in rows],
        )
        _die()

    patches = {
        "before_upsert": (SegmentStore, "upsert", lambda *args: _die()),
        "mid_upsert": (SegmentStore, "upsert", half_upsert),
        "before_lexical": (LexicalIndex, "add", lambda *args: _die()),
        "mid_lexical": (LexicalIndex, "add", half_lexical),
        "before_commit": (StateDirectory, "save", lambda *args: _die()),
        "before_superseded_deleted": (SegmentStore, "delete_records", lambda *args: _die()),
        "after_commit": (Journal, "end", lambda *args: _die()),
        "mid_delete": (StateDirectory, "delete", lambda *args: _die()),
    }
    memory = EvoMemory(path, model=model)
    owner, name, replacement = patches[point]
    setattr(owner, name, replacement)
    conn.send(("open", None))
    if point == "mid_delete":
        memory.delete_namespace(namespace)
    else:
        memory.add_messages(batch, namespace=namespace)
    conn.send(("survived", point))  # never reached


def watch(conn, path: str, model: str, namespace: str, stop) -> None:
    """A reader: search, get and stats in a loop until ``stop`` is set; reports every snapshot it saw."""
    _quiet()
    try:
        from evomem import EvoMemory

        memory = EvoMemory(path, model=model)
        conn.send(("open", None))
        while not stop.is_set():
            step = memory.stats(namespace)["memory_step"]
            before = [s.id for s in memory.get(None, namespace=namespace)]
            hits = [h.id for h in memory.search("bread from the bakery", namespace=namespace, k=5)]
            after = [s.id for s in memory.get(None, namespace=namespace)]
            conn.send(("seen", step, before, hits, after))
        conn.send(("done", None))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise


def search_loop(conn, path: str, model: str, namespace: str, stop) -> None:
    """A reader that only searches, as fast as it can, until ``stop`` is set; reports how many searches it did."""
    _quiet()
    try:
        from evomem import EvoMemory

        memory = EvoMemory(path, model=model)
        conn.send(("open", None))
        searches = 0
        while not stop.is_set():
            memory.search("bread from the bakery", namespace=namespace, k=5)
            searches += 1
        conn.send(("done", searches))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise


def migrate(conn, path: str, model: str, source: str, batch_segments: int, kill_after: int | None) -> None:
    """``reembed`` into ``model``; SIGKILL this process after ``kill_after`` committed batches."""
    _quiet()
    from evomem import EvoMemory

    memory = EvoMemory(path, model=model)
    batches = []

    def on_batch(namespace: str, migrated: int) -> None:
        batches.append((namespace, migrated))
        conn.send(("batch", namespace, migrated))
        if kill_after is not None and len(batches) >= kill_after:
            _die()

    conn.send(("done", memory.reembed(source, batch_segments=batch_segments, on_batch=on_batch)))


def repair_crash_at(conn, path: str, model: str, point: str) -> None:
    """Repair the store and SIGKILL this process at a chosen step of the repair."""
    _quiet()
    import chromadb.api.client
    import chromadb.api.models.Collection

    from evomem import EvoMemory
    from evomem.storage import swap
    from evomem.storage.store import SegmentStore

    upsert, write_marker = SegmentStore.upsert, swap.write_marker

    def half_upsert(self, ids, vectors, texts, metadatas):
        upsert(self, ids[: len(ids) // 2], vectors[: len(ids) // 2], texts[: len(ids) // 2], metadatas[: len(ids) // 2])
        _die()

    def marker_then_die(marker, phase):
        if phase == swap.SWAP:
            _die()
        write_marker(marker, phase)

    patches = {
        "mid_build": (SegmentStore, "upsert", half_upsert),
        "before_swap": (swap, "write_marker", marker_then_die),
        "before_delete": (chromadb.api.client.Client, "delete_collection", lambda *args: _die()),
        "before_rename": (chromadb.api.models.Collection.Collection, "modify", lambda *args, **kwargs: _die()),
        "before_marker_removed": (swap, "end", lambda *args: _die()),
    }
    memory = EvoMemory(path, model=model)
    owner, name, replacement = patches[point]
    setattr(owner, name, replacement)
    conn.send(("open", None))
    memory.repair()
    conn.send(("survived", point))  # never reached


def hold_namespace(conn, path: str, namespace: str, seconds: float) -> None:
    """Hold the file writer lock of ``namespace`` for ``seconds`` (or until killed)."""
    from evomem.storage.locks import FileWriterLock

    with FileWriterLock(Path(path)).hold(namespace):
        conn.send(("holding", namespace))
        time.sleep(seconds)
