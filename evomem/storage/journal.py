"""The journal of the write in flight: one checksummed entry per namespace, beside its memory state.

An entry names the batch being written (or the delete being done) so that a writer killed at any moment can be
finished or undone; ``evomem.storage.writer`` writes the entries and reconciles them. ``Journal`` keeps them as files;
``evomem.storage.postgres`` keeps them in PostgreSQL, for writers on several machines.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import JournalError
from .connection import GENERATION_NAME
from .state import StateDirectory, fsync_dir, rebuild_command, write_atomic

FORMAT = "evomem-journal"
VERSION = "2"
VERSIONS = ("1", "2")  # version 1 overwrote records in place and kept the old ones to restore them
SUFFIX = ".journal"


def _recovery(namespace: str | None) -> str:
    """What to do about a journal that cannot be trusted."""
    return (
        "to recover, delete it and rebuild the namespace's memory from every stored segment (those of the "
        f"interrupted batch included) with {rebuild_command(namespace or 'NAMESPACE')}"
    )


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


class WriteJournal:
    """The pending entry of each namespace of one model (one at most): what a write in flight does.

    Entries are checksummed JSON; where they are kept is the subclass's (``write``, ``end``, ``entry``,
    ``has``, ``locations``, ``read``).
    """

    def where(self, namespace: str) -> str:
        """Where the namespace's entry is kept, for messages."""
        raise NotImplementedError

    def write(self, namespace: str, data: bytes) -> None:
        raise NotImplementedError

    def end(self, namespace: str) -> None:
        """Remove the namespace's entry (its write is finished or undone)."""
        raise NotImplementedError

    def entry(self, namespace: str) -> dict[str, Any] | None:
        """The namespace's pending entry, or None."""
        raise NotImplementedError

    def has(self, namespace: str) -> bool:
        raise NotImplementedError

    def locations(self) -> list[Any]:
        """Every pending entry's location (for ``read``), read or not."""
        raise NotImplementedError

    def read(self, location: Any) -> dict[str, Any]:
        """The checked entry at ``location``."""
        raise NotImplementedError

    def _write(self, namespace: str, body: dict[str, Any]) -> None:
        body = {"format": FORMAT, "version": VERSION, "namespace": namespace, **body}
        self.write(namespace, json.dumps({**body, "sha256": _digest(body)}, ensure_ascii=True).encode())

    def decode(self, data: str | bytes, where: str, namespace: str | None) -> dict[str, Any]:
        """A checked entry's body from its stored bytes."""
        hint = f"a journal is written atomically, so something else changed it; {_recovery(namespace)}"
        try:
            entry = json.loads(data)
            body = {key: value for key, value in entry.items() if key != "sha256"}
        except (ValueError, AttributeError) as error:
            raise JournalError(f"journal {where} is unreadable ({error}); {hint}") from error
        if body.get("format") != FORMAT or body.get("version") not in VERSIONS or entry.get("sha256") != _digest(body):
            raise JournalError(f"journal {where} fails its format or checksum check; {hint}")
        return body

    def begin_add(
        self, namespace: str, from_step: int, to_step: int, record_ids: list[str], superseded: list[str]
    ) -> None:
        self._write(
            namespace,
            {
                "op": "add",
                "from_step": from_step,
                "to_step": to_step,
                "record_ids": record_ids,
                "superseded": superseded,
            },
        )

    def begin_delete(self, namespace: str, message_ids: list[str] | None = None) -> None:
        """A delete of the namespace, or (``message_ids``) of some of its messages (an operation of its own
        name, which an older evomem refuses instead of deleting the namespace)."""
        body = {"op": "delete"} if message_ids is None else {"op": "delete_messages", "message_ids": message_ids}
        self._write(namespace, body)

    def superseded(self, namespace: str, step: int) -> frozenset[str]:
        """Record ids that a committed batch superseded and its writer has not deleted yet (it died, or is about
        to): readers leave them out. Empty when no entry is pending or its batch is not committed at ``step``."""
        try:
            entry = self.entry(namespace)
        except (FileNotFoundError, JournalError):  # finished meanwhile, or judged by the next writer
            return frozenset()
        if entry is None or entry["op"] != "add" or entry["to_step"] != step:
            return frozenset()
        return frozenset(entry.get("superseded", []))


class Journal(WriteJournal):
    """Journal entries of one model's namespaces as files beside their memory states."""

    def __init__(self, states: StateDirectory):
        self.states = states
        self.directory = states.directory

    def path(self, namespace: str) -> Path:
        return self.states.path(namespace).with_suffix(SUFFIX)

    def where(self, namespace: str) -> str:
        return str(self.path(namespace))

    def write(self, namespace: str, data: bytes) -> None:
        write_atomic(self.path(namespace), data)

    def end(self, namespace: str) -> None:
        path = self.path(namespace)
        if path.exists():
            path.unlink()
            fsync_dir(path.parent)

    def read(self, path: Path, namespace: str | None = None) -> dict[str, Any]:
        """A checked journal entry; ``namespace``, when known, is the one whose journal ``path`` should be."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise JournalError(f"journal {path} is unreadable ({error}); {_recovery(namespace)}") from error
        body = self.decode(data, str(path), namespace)
        recorded = body.get("namespace")
        if not isinstance(recorded, str) or self.path(recorded) != path:
            raise JournalError(
                f"journal {path} records namespace {recorded!r}, whose journal is "
                f"{self.path(recorded) if isinstance(recorded, str) else 'unknown'}: it was copied or renamed; "
                f"move it back, or {_recovery(namespace)}"
            )
        return body

    def entry(self, namespace: str) -> dict[str, Any] | None:
        path = self.path(namespace)
        return self.read(path, namespace) if path.exists() else None

    def has(self, namespace: str) -> bool:
        return self.path(namespace).exists()

    def files(self) -> list[Path]:
        """Every pending entry's file, read or not."""
        return sorted(self.directory.glob(f"*{SUFFIX}")) if self.directory.is_dir() else []

    def locations(self) -> list[Path]:
        return self.files()


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
