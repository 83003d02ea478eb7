"""The journal of the write in flight: one checksummed entry per namespace, beside its memory state.

An entry names the batch being written (or the delete being done) so that a writer killed at any moment can be
finished or undone; ``evomem.writer`` writes the entries and reconciles them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import JournalError
from .state import StateDirectory, fsync_dir, rebuild_command, write_atomic
from .store import GENERATION_NAME

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

    def end(self, namespace: str) -> None:
        path = self.path(namespace)
        if path.exists():
            path.unlink()
            fsync_dir(path.parent)

    def read(self, path: Path, namespace: str | None = None) -> dict[str, Any]:
        """A checked journal entry; ``namespace``, when known, is the one whose journal ``path`` should be."""
        hint = f"a journal is written atomically, so something else changed this file; {_recovery(namespace)}"
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            body = {key: value for key, value in entry.items() if key != "sha256"}
        except (OSError, ValueError, AttributeError) as error:
            raise JournalError(f"journal {path} is unreadable ({error}); {hint}") from error
        if body.get("format") != FORMAT or body.get("version") not in VERSIONS or entry.get("sha256") != _digest(body):
            raise JournalError(f"journal {path} fails its format or checksum check; {hint}")
        recorded = body.get("namespace")
        if not isinstance(recorded, str) or self.path(recorded) != path:
            raise JournalError(
                f"journal {path} records namespace {recorded!r}, whose journal is "
                f"{self.path(recorded) if isinstance(recorded, str) else 'unknown'}: it was copied or renamed; "
                f"move it back, or {_recovery(namespace)}"
            )
        return body

    def entry(self, namespace: str) -> dict[str, Any] | None:
        """The namespace's pending entry, or None."""
        path = self.path(namespace)
        return self.read(path, namespace) if path.exists() else None

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

    def files(self) -> list[Path]:
        """Every pending entry's file, read or not."""
        return sorted(self.directory.glob(f"*{SUFFIX}")) if self.directory.is_dir() else []


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
