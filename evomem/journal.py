"""The journal of the write in flight, and how an interrupted write is reconciled.

A batch is committed when its namespace's memory-state file is renamed into place. Before touching Chroma the
writer saves (fsync, rename) a journal entry naming the batch: the namespace, the memory step before and after,
the record ids it writes and the records those ids held before (a message id that is added again replaces its old
record). After the commit the entry is removed. A writer killed at any moment therefore leaves either

- no entry: nothing of the batch was written, or all of it was, state included; or
- an entry while the state is still at the step before: the batch is rolled back (its records deleted, the
  records it replaced restored); or
- an entry while the state is at the step after: the batch is complete and the entry is just removed.

Deleting a namespace is journalled too and rolled forward. Reconciliation runs under the writer lock, when a store
is opened and before every write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .state import StateCorruptedError, StateDirectory, fsync_dir, write_atomic
from .store import GENERATION_NAME, SegmentStore, StoredRecord

FORMAT = "evomem-journal"
VERSION = "1"
SUFFIX = ".journal"


class JournalError(RuntimeError):
    """A journal entry that cannot be read or does not match the store."""


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


class Journal:
    """Journal entries of one model's namespaces, beside their memory states (one entry per namespace at most)."""

    def __init__(self, states: StateDirectory):
        self.states = states
        self.directory = states.directory

    def path(self, namespace: str) -> Path:
        return self.states.path(namespace).with_suffix(SUFFIX)

    def _write(self, namespace: str, body: dict[str, Any]) -> None:
        body = {"format": FORMAT, "version": VERSION, "namespace": namespace, **body}
        data = json.dumps({**body, "sha256": _digest(body)}, ensure_ascii=True).encode()
        write_atomic(self.path(namespace), data)

    def begin_add(
        self, namespace: str, from_step: int, to_step: int, record_ids: list[str], previous: list[StoredRecord]
    ) -> None:
        self._write(
            namespace,
            {
                "op": "add",
                "from_step": from_step,
                "to_step": to_step,
                "record_ids": record_ids,
                "previous": [
                    {"id": r.record_id, "text": r.text, "metadata": r.metadata, "embedding": r.embedding}
                    for r in previous
                ],
            },
        )

    def begin_delete(self, namespace: str) -> None:
        self._write(namespace, {"op": "delete"})

    def end(self, namespace: str) -> None:
        path = self.path(namespace)
        if path.exists():
            path.unlink()
            fsync_dir(path.parent)

    def read(self, path: Path) -> dict[str, Any]:
        hint = "a journal is written atomically, so this file was changed by something else than evomem"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            body = {key: value for key, value in entry.items() if key != "sha256"}
        except (OSError, ValueError, AttributeError) as error:
            raise JournalError(f"journal {path} is unreadable ({error}); {hint}") from error
        if body.get("format") != FORMAT or body.get("version") != VERSION or entry.get("sha256") != _digest(body):
            raise JournalError(f"journal {path} fails its format or checksum check; {hint}")
        return body

    def pending(self) -> list[tuple[Path, dict[str, Any]]]:
        if not self.directory.is_dir():
            return []
        return [(path, self.read(path)) for path in sorted(self.directory.glob(f"*{SUFFIX}"))]


def reconcile(
    store: SegmentStore,
    states: StateDirectory,
    journal: Journal,
    namespace: str | None = None,
    undo_if_unreadable: bool = False,
) -> list[str]:
    """Finish or undo the writes that a dead writer left in flight; returns what was done, one line each.

    Call with the writer lock held. ``namespace`` limits the work to one namespace. When the namespace's memory
    state is unreadable the batch cannot be judged and ``StateCorruptedError`` is raised, unless
    ``undo_if_unreadable`` (for a rebuild, which replaces the state): then the batch is rolled back.
    """
    done = []
    for path, entry in journal.pending():
        name = entry["namespace"]
        if namespace is not None and name != namespace:
            continue
        if entry["op"] == "delete":
            store.delete(name)
            states.delete(name)
            journal.end(name)
            done.append(f"finished deleting namespace {name}")
            continue
        if entry["op"] != "add":
            raise JournalError(f"journal {path} has an unknown operation {entry['op']!r}")
        try:
            step = states.step(name)
        except StateCorruptedError:
            if not undo_if_unreadable:
                raise
            step = entry["from_step"]
        if step == entry["to_step"]:
            journal.end(name)
            done.append(f"kept the committed batch of namespace {name} (steps {entry['from_step']}-{step})")
        elif step == entry["from_step"]:
            store.delete_records(entry["record_ids"])
            previous = entry["previous"]
            if previous:
                store.upsert(
                    [r["id"] for r in previous],
                    [r["embedding"] for r in previous],
                    [r["text"] for r in previous],
                    [r["metadata"] for r in previous],
                )
            journal.end(name)
            done.append(
                f"rolled back the uncommitted batch of namespace {name} "
                f"({len(entry['record_ids'])} segments, steps {entry['from_step']}-{entry['to_step']})"
            )
        else:
            raise JournalError(
                f"journal {path} describes steps {entry['from_step']}-{entry['to_step']} of namespace {name}, "
                f"but its memory state is at step {step}"
            )
    if namespace is None:
        remove_stale_temporaries(states.directory)
    return done


# Temporary names evomem writes: ``write_atomic``'s for memory states and journals, and the store's generation file.
STALE_TEMPORARY = re.compile(
    rf"\.(?:[0-9a-f]{{32}}\.(?:safetensors|journal)|{re.escape(GENERATION_NAME)})\.\d+(?:\.\d+)?\.tmp"
)


def remove_stale_temporaries(directory: Path) -> None:
    """Half-written temporary files of writers that died (only writers make them, one at a time).

    Only files with evomem's own temporary names are removed: the directory may hold the user's files too.
    """
    if directory.is_dir():
        for tmp in directory.glob(".*.tmp"):
            if STALE_TEMPORARY.fullmatch(tmp.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
