"""Memory states, journal entries and writer locks in PostgreSQL, for evomem processes on several machines.

With ``EvoMemory(..., chroma_host=H, state_url="postgresql://...")`` (``evomem serve --state-url``) the vectors live
in a Chroma server and everything the write protocol (``evomem.storage.writer``) keeps beside them lives in one
PostgreSQL database, so any number of processes on any number of machines can write the same namespaces:

- ``evomem_states``: one row per (model fingerprint, namespace), the committed memory as the same checksummed
  safetensors bytes as a state file, its step, and a revision;
- ``evomem_journal``: one row per (fingerprint, namespace) with a write in flight, the same checksummed entry as a
  journal file;
- the sequence ``evomem_revisions``: every change of a namespace takes its next number, so a revision never
  repeats, not even after the namespace is deleted and written again. Each machine's lexical index (a local cache,
  ``evomem.storage.lexical``) records the revision it was written at and is rebuilt from the stored text when another
  machine changed the namespace since.

Writer locks are session-level advisory locks held on the writer's own connection: a writer of a namespace holds
the store's lock shared and the namespace's lock exclusively, so writers of different namespaces run in parallel
and a store-wide write (a rebuild) waits for all of them. PostgreSQL releases a session's locks when its connection
ends, so a writer that dies frees its namespace at once and the next writer reconciles the batch it left. Every
statement of the protocol goes through that same connection, so a writer that lost its connection (and with it
the lock) cannot commit: its statements fail. Why PostgreSQL rather than Redis: docs/shared-state.md.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import torch
from safetensors.torch import load, save

from ..errors import JournalError, StateCorruptedError, StateDatabaseError
from ..model.queue import LatentQueue
from .journal import WriteJournal
from .state import MemoryStates, checked_state, state_metadata
from .writer import WriteState

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS evomem_states (
        fingerprint TEXT NOT NULL,
        namespace TEXT NOT NULL,
        step BIGINT NOT NULL,
        state BYTEA NOT NULL,
        revision BIGINT NOT NULL,
        PRIMARY KEY (fingerprint, namespace))""",
    """CREATE TABLE IF NOT EXISTS evomem_journal (
        fingerprint TEXT NOT NULL,
        namespace TEXT NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (fingerprint, namespace))""",
    "CREATE SEQUENCE IF NOT EXISTS evomem_revisions",
)
# Advisory lock keys are (class, key) pairs of int4: evomem's own classes, so no other user of the database collides.
SCHEMA_LOCK = 0x65766F00  # creating the tables
STORE_LOCK = 0x65766F01  # the whole store: shared by each namespace writer, exclusive for store-wide writes
NAMESPACE_LOCK = 0x65766F02  # one namespace (keyed by a hash: two namespaces may share a key, and take turns)
ROW = "WHERE fingerprint = %s AND namespace = %s"  # the row of one (model, namespace)
KEEPALIVE: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def namespace_key(namespace: str) -> int:
    """A namespace's advisory lock key (int4)."""
    return int.from_bytes(hashlib.sha256(namespace.encode()).digest()[:4], "big", signed=True)


class Database:
    """Two connections to the state database: the writer's (its session holds the advisory locks; used under the
    writer lock only) and the readers' (shared by threads, one statement at a time, reopened once when lost)."""

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError:
            raise ImportError("state_url needs psycopg: pip install 'evomem[postgres]'") from None
        self.url = url
        self._psycopg = psycopg
        self._reader_lock = threading.Lock()
        self.lock_depth = 0  # advisory locks the writer's session holds: never reconnect it while one is held
        self._reader = self._connect()
        self._writer = self._connect()
        with self._writer.transaction():  # servers starting together create the tables once
            self._writer.execute("SELECT pg_advisory_xact_lock(%s, 0)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                self._writer.execute(statement)

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, **KEEPALIVE)
        except self._psycopg.Error as error:
            raise StateDatabaseError(f"cannot reach the state database {redacted(self.url)}: {error}") from None

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query on the readers' connection (reconnected once if the database dropped it)."""
        with self._reader_lock:
            try:
                return self._fetch(sql, params)
            except StateDatabaseError:
                if not self._reader.closed:
                    raise
            self._reader = self._connect()
            return self._fetch(sql, params)

    def _fetch(self, sql: str, params: tuple) -> list[tuple]:
        with self._reported():
            return self._reader.execute(sql, params).fetchall()

    def write(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a statement on the writer's connection (its ``RETURNING``; empty otherwise)."""
        with self._reported():
            cursor = self._writer.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    @contextmanager
    def _reported(self) -> Iterator[None]:
        """A connection's failure as a ``StateDatabaseError`` that names the database (without its password)."""
        try:
            yield
        except self._psycopg.OperationalError as error:
            raise StateDatabaseError(f"state database {redacted(self.url)}: {error}") from None

    def unlock(self, sql: str, params: tuple) -> None:
        """Release an advisory lock, unless the writer's connection was lost (its locks went with it)."""
        if not self._writer.closed:
            self.write(sql, params)

    def writer_session(self) -> None:
        """Before taking a first lock: reopen the writer's connection if the database dropped it."""
        if self.lock_depth == 0 and self._writer.closed:
            self._writer = self._connect()

    def close(self) -> None:
        for connection in (self._reader, self._writer):
            connection.close()


class PostgresStates(MemoryStates):
    """Memory states of one model in ``evomem_states``; ``directory`` is this machine's folder for its caches."""

    def __init__(self, database: Database, fingerprint: str, directory: Path):
        self.database = database
        self.fingerprint = fingerprint
        self.directory = directory

    def location(self, namespace: str) -> str:
        return f"the row of namespace {namespace!r}, model {self.fingerprint}, in table evomem_states"

    def read(self, namespace: str) -> tuple[dict[str, str], torch.Tensor] | None:
        rows = self.database.read(f"SELECT state FROM evomem_states {ROW}", (self.fingerprint, namespace))
        if not rows:
            return None
        data = bytes(rows[0][0])
        try:
            header_size = int.from_bytes(data[:8], "little")
            metadata = json.loads(data[8 : 8 + header_size]).get("__metadata__") or {}
            latents = load(data)["latents"]
        except Exception as error:
            location, hint = self.location(namespace), self.hint(namespace)
            raise StateCorruptedError(f"memory state {location} is unreadable ({error}); {hint}") from error
        expected = {"namespace": namespace, "fingerprint": self.fingerprint}
        return checked_state(self.location(namespace), metadata, latents, expected, self.hint(namespace))

    def save(self, namespace: str, queue: LatentQueue) -> None:
        latents = queue.latents.detach().to(torch.float32).cpu().contiguous()
        data = save({"latents": latents}, metadata=state_metadata(namespace, self.fingerprint, queue, latents))
        self.database.write(
            "INSERT INTO evomem_states (fingerprint, namespace, step, state, revision) "
            "VALUES (%s, %s, %s, %s, nextval('evomem_revisions')) ON CONFLICT (fingerprint, namespace) "
            "DO UPDATE SET step = EXCLUDED.step, state = EXCLUDED.state",
            (self.fingerprint, namespace, queue.step, data),
        )

    def delete(self, namespace: str) -> None:
        self.database.write(f"DELETE FROM evomem_states {ROW}", (self.fingerprint, namespace))

    def has(self, namespace: str) -> bool:
        return self.revision(namespace) is not None

    def namespaces(self) -> list[str]:
        rows = self.database.read(
            "SELECT namespace FROM evomem_states WHERE fingerprint = %s ORDER BY namespace", (self.fingerprint,)
        )
        return [row[0] for row in rows]

    def revision(self, namespace: str) -> int | None:
        rows = self.database.read(
            f"SELECT revision FROM evomem_states {ROW}",
            (self.fingerprint, namespace),
        )
        return int(rows[0][0]) if rows else None

    def bump(self, namespace: str) -> int | None:
        rows = self.database.write(
            f"UPDATE evomem_states SET revision = nextval('evomem_revisions') {ROW} RETURNING revision",
            (self.fingerprint, namespace),
        )
        return int(rows[0][0]) if rows else None

    def close(self) -> None:
        self.database.close()


class PostgresJournal(WriteJournal):
    """Journal entries of one model in ``evomem_journal``; a location is a namespace."""

    def __init__(self, database: Database, fingerprint: str):
        self.database = database
        self.fingerprint = fingerprint

    def where(self, namespace: str) -> str:
        return f"entry of namespace {namespace!r}, model {self.fingerprint}, in table evomem_journal"

    def write(self, namespace: str, data: bytes) -> None:
        self.database.write(
            "INSERT INTO evomem_journal (fingerprint, namespace, entry) VALUES (%s, %s, %s) "
            "ON CONFLICT (fingerprint, namespace) DO UPDATE SET entry = EXCLUDED.entry",
            (self.fingerprint, namespace, data.decode()),
        )

    def end(self, namespace: str) -> None:
        self.database.write(f"DELETE FROM evomem_journal {ROW}", (self.fingerprint, namespace))

    def entry(self, namespace: str) -> dict[str, Any] | None:
        rows = self.database.read(
            f"SELECT entry FROM evomem_journal {ROW}",
            (self.fingerprint, namespace),
        )
        if not rows:
            return None
        body = self.decode(rows[0][0], self.where(namespace), namespace)
        if body.get("namespace") != namespace:
            raise JournalError(f"journal {self.where(namespace)} records namespace {body.get('namespace')!r}")
        return body

    def has(self, namespace: str) -> bool:
        return bool(
            self.database.read(
                f"SELECT 1 FROM evomem_journal {ROW}",
                (self.fingerprint, namespace),
            )
        )

    def locations(self) -> list[str]:
        rows = self.database.read(
            "SELECT namespace FROM evomem_journal WHERE fingerprint = %s ORDER BY namespace", (self.fingerprint,)
        )
        return [row[0] for row in rows]

    def read(self, location: str) -> dict[str, Any]:
        entry = self.entry(location)
        if entry is None:
            raise JournalError(f"journal {self.where(location)} was removed while it was being reconciled")
        return entry


class AdvisoryWriterLock:
    """Writer locks as advisory locks of the writer's session (see the module's docstring). The session is one per
    process, so the threads of a process write one at a time."""

    namespaces_at_once = False

    def __init__(self, database: Database):
        self.database = database

    @contextmanager
    def _held(self, lock: str, unlock: str, key: tuple[int, int]) -> Iterator[None]:
        self.database.writer_session()
        self.database.write(f"SELECT {lock}(%s, %s)", key)
        self.database.lock_depth += 1
        try:
            yield
        finally:
            self.database.lock_depth -= 1
            self.database.unlock(f"SELECT {unlock}(%s, %s)", key)

    @contextmanager
    def hold(self, namespace: str | None) -> Iterator[None]:
        if namespace is None:
            with self._held("pg_advisory_lock", "pg_advisory_unlock", (STORE_LOCK, 0)):
                yield
            return
        with (
            self._held("pg_advisory_lock_shared", "pg_advisory_unlock_shared", (STORE_LOCK, 0)),
            self._held("pg_advisory_lock", "pg_advisory_unlock", (NAMESPACE_LOCK, namespace_key(namespace))),
        ):
            yield

    @contextmanager
    def hold_if_free(self) -> Iterator[bool]:
        self.database.writer_session()
        if not self.database.write("SELECT pg_try_advisory_lock(%s, 0)", (STORE_LOCK,))[0][0]:
            yield False
            return
        self.database.lock_depth += 1
        try:
            yield True
        finally:
            self.database.lock_depth -= 1
            self.database.unlock("SELECT pg_advisory_unlock(%s, 0)", (STORE_LOCK,))


def connect(url: str, fingerprint: str, directory: Path) -> WriteState:
    """The write protocol's state for one model in the database at ``url``; ``directory`` is this machine's folder
    for the model's caches (lexical indexes)."""
    database = Database(url)
    return WriteState(
        PostgresStates(database, fingerprint, directory),
        PostgresJournal(database, fingerprint),
        AdvisoryWriterLock(database),
    )
