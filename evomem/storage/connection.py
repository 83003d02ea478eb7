"""The connection to a Chroma store, kept safe to share between processes.

Embedded Chroma is made for one process per directory: its vector index lives in the memory of the process that
opened it, and reads as well as writes may rewrite the index files. Two processes working on one directory at
the same time crash each other (a reader died with SIGSEGV inside a query) and drop vectors from the persisted
index (measured: 197 of 5,000 acknowledged segments no longer found by search). So every process reaches an
embedded store through one ``ChromaConnection`` per directory, which

- holds an exclusive file lock (``chroma.lock``) around every Chroma call, so only one process at a time touches
  the directory (the lock covers the Chroma call only, never the encoding of a batch), and
- re-opens Chroma whenever the directory's *generation* file shows that another process wrote since; a writer
  changes the generation before every write.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

GENERATION_NAME = "chroma.generation"
ACCESS_LOCK_NAME = "chroma.lock"


class ChromaConnection:
    """A Chroma client, kept current with what other processes wrote (embedded stores).

    ``using()`` yields the client; for an embedded store it holds the directory's lock (threads and processes),
    re-opening the client first when another process wrote. ``using(writing=True)`` also records the write.
    """

    def __init__(self, client: Any = None, directory: Path | None = None, owned: bool = False):
        self._client = client
        self.directory = directory
        self._owned = owned or directory is not None  # whether ``release`` may close the client
        self._users = 1
        self._lock = threading.RLock()
        self._seen: str | None = None
        if directory is not None:
            self._generation_file = directory.parent / GENERATION_NAME
            self._access_lock = FileLock(str(directory.parent / ACCESS_LOCK_NAME))

    @property
    def embedded(self) -> bool:
        return self.directory is not None

    def _read_generation(self) -> str:
        try:
            return self._generation_file.read_text(encoding="utf-8", errors="replace")  # any change is news
        except FileNotFoundError:
            return ""

    def _open(self) -> None:
        import chromadb

        if self._client is not None:
            self._client.close()
        self._seen = self._read_generation()
        self._client = chromadb.PersistentClient(path=str(self.directory))

    @contextmanager
    def using(self, writing: bool = False) -> Iterator[Any]:
        if not self.embedded:
            yield self._client
            return
        with self._lock, self._access_lock:
            if self._client is None or self._read_generation() != self._seen:
                self._open()
            if writing:
                self._changed()
            try:
                yield self._client
            except Exception:
                if writing:  # a failed write (a full disk) can leave the client blocking every later call
                    self.discard()
                raise

    def share(self) -> ChromaConnection:
        """One more user of this connection (each ``release``s it when done)."""
        with self._lock:
            self._users += 1
            return self

    def release(self) -> None:
        """One user is done; the last one closes a client this connection opened (an embedded store's is opened
        again by the next call)."""
        with self._lock:
            self._users -= 1
            if self._users <= 0 and self._owned:
                self.discard()

    def discard(self) -> None:
        """Close the client: the next call opens a new one, and every store fetches its collection again."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _changed(self) -> None:
        """Tell other processes that the embedded store changes (before a write; a writer killed during it has
        changed the generation already)."""
        token = uuid.uuid4().hex
        tmp = self._generation_file.with_name(f".{GENERATION_NAME}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(token, encoding="utf-8")
        os.replace(tmp, self._generation_file)
        self._seen = token


_EMBEDDED: dict[Path, ChromaConnection] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded_connection(directory: str | Path) -> ChromaConnection:
    """The process-wide connection to the embedded store in ``directory`` (one per directory)."""
    directory = Path(directory).expanduser().resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _EMBEDDED_LOCK:
        if directory not in _EMBEDDED:
            _EMBEDDED[directory] = ChromaConnection(directory=directory)
            return _EMBEDDED[directory]
        return _EMBEDDED[directory].share()
