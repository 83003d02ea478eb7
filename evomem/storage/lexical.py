"""LexicalIndex: BM25 over each namespace's segment text, in SQLite FTS5, kept in step with the vector store.

Each namespace has its own SQLite file beside its memory state (``<state digest>.lexical``), so BM25's corpus
statistics are the namespace's own and no query ever reads another namespace. A row's rowid is the segment's
stream position (its record id is ``record_id(namespace, position)``), so the rules of the vector store hold
here unchanged: a batch's rows are written inside its journalled commit, before the memory state is renamed;
readers see only positions below the committed step; rolling a batch back or deleting superseded parts removes
the same positions from both indexes (``SegmentStore`` does both).

Why FTS5: local Chroma refuses sparse (BM25) indexes, and SQLite ships with Python. Its ``bm25()`` ranks, an
append is one transaction (nothing is rebuilt), and it needs no server. Files use SQLite's rollback journal
(not WAL) and are never deleted while evomem runs: a deleted namespace's file is emptied, so no process can
hold a connection to a file that another one replaced.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import LexicalIndexError
from .state import namespace_digest

SUFFIX = ".lexical"
FORMAT = "evomem-lexical-1"
TOKENIZER = "porter unicode61 remove_diacritics 2"
BUSY_TIMEOUT_MS = 30_000  # a reader waits this long at most for a writer's commit (a few milliseconds)
# Stop words, dropped from queries, where they only add common matches: Lucene's English list (as bm25s's "en")
# and English function words (pronouns, wh-words, auxiliaries), which questions to a chat memory are full of
# (chosen on the training sources' dev parts: docs/search.md).
_LUCENE = "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
LUCENE_STOP_WORDS = frozenset((_LUCENE + "they this to was will with").split())
_FUNCTION = """i me my mine myself we us our ours you your yours he him his she her hers it its they them their theirs
what which who whom whose when where why how do does did done doing have has had having am were been being can could
would should shall may might must about after again all also any because before between both each few from further
here just more most other over same so some than too under until up very while off out own only once now"""
FUNCTION_WORDS = frozenset(_FUNCTION.split())
STOP_WORDS = LUCENE_STOP_WORDS | FUNCTION_WORDS
QUERY_TOKEN = re.compile(r"\b\w\w+\b")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS segments USING fts5(text, message_id UNINDEXED, tokenize='{TOKENIZER}')",
)


def _begin_with_schema(connection: sqlite3.Connection) -> None:
    """Open the change's transaction and create the tables in it: SQLite runs a bare CREATE on its own, so a
    process killed between the two CREATEs would leave a file without ``segments`` (and an older file may have
    been left so); within the transaction the schema and the change are written together or not at all."""
    connection.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA:
        connection.execute(statement)


@dataclass(frozen=True)
class LexicalRow:
    """One segment as the lexical index keeps it."""

    position: int
    message_id: str
    text: str


@dataclass(frozen=True)
class LexicalMatch:
    position: int
    message_id: str
    score: float  # BM25, higher is better


def query_words(query: str) -> list[str]:
    """A free-text query's words for BM25: two characters or more, lower-cased, stop words left out, each once."""
    return list(dict.fromkeys(w for w in QUERY_TOKEN.findall(query.lower()) if w not in STOP_WORDS))


def match_expression(words: Sequence[str]) -> str | None:
    """The FTS5 query matching any of ``words``; None for none. Each word is quoted, so no text is read as FTS5
    syntax."""
    return " OR ".join(f'"{word}"' for word in words) or None


def _ranked(
    connection: sqlite3.Connection,
    words: Sequence[str],
    below: int,
    n: int,
    within: Sequence[int | None] | None = None,
) -> list[LexicalMatch]:
    expression = match_expression(words)
    if expression is None:
        return []
    among, arguments = "", [expression, below, n]
    if within is not None:
        among = " AND rowid IN (SELECT value FROM json_each(?))"
        arguments.insert(2, json.dumps(list(within)))
    found = connection.execute(
        f"SELECT rowid, message_id, bm25(segments) FROM segments WHERE segments MATCH ? AND rowid < ?{among} "
        "ORDER BY bm25(segments) LIMIT ?",
        arguments,
    )
    return [LexicalMatch(int(position), message_id, -float(score)) for position, message_id, score in found]


def _informative(connection: sqlite3.Connection, words: Sequence[str]) -> list[str]:
    """The words in fewer than half of the rows. FTS5's BM25 gives a word in half of the rows or more its IDF
    floor, 1e-6, so it adds at most 2.2e-6 to a row's score, yet every row holding it is scored: a speaker's name
    in a long chat history. Rows are counted from above by the largest rowid (a position), words by their rows
    (at most half of that bound are counted)."""
    (last,) = connection.execute("SELECT max(rowid) FROM segments").fetchone()
    if last is None:
        return list(words)
    half = (last + 2) // 2  # ceil((last + 1) / 2): a word in this many rows has 2 * rows >= the row bound
    counted = "SELECT count(*) FROM (SELECT 1 FROM segments WHERE segments MATCH ? LIMIT ?)"
    return [w for w in words if connection.execute(counted, (f'"{w}"', half)).fetchone()[0] < half]


class LexicalIndex:
    """The lexical indexes of one model's namespaces, one file each in ``directory`` (beside their memory states).

    When the memory states are shared by several machines, each machine's indexes are a cache: the ``revision``
    an index was written at is recorded, and an index whose revision is not the namespace's current one is
    rebuilt from the stored text before it is used.
    """

    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, namespace: str) -> Path:
        return self.directory / f"{namespace_digest(namespace)}{SUFFIX}"

    @contextmanager
    def _connect(self, path: Path, create: bool) -> Iterator[sqlite3.Connection]:
        """A connection for one operation; without ``create`` a missing file is ``FileNotFoundError``."""
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise FileNotFoundError(path)
        mode = "rwc" if create else "rw"  # rw: a reader may roll back a dead writer's transaction
        try:
            connection = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.OperationalError as error:
            raise LexicalIndexError(f"lexical index {path} cannot be opened ({error})") from error
        with closing(connection):
            try:
                connection.execute("PRAGMA journal_mode=DELETE")
                connection.execute("PRAGMA synchronous=FULL")
                yield connection
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
                    raise
                raise LexicalIndexError(f"lexical index {path} is unreadable ({error})") from error

    def _checked(self, connection: sqlite3.Connection, path: Path, namespace: str) -> None:
        meta = dict(connection.execute("SELECT key, value FROM meta"))
        if meta and (meta.get("format"), meta.get("namespace")) != (FORMAT, namespace):
            raise LexicalIndexError(
                f"lexical index {path} holds {meta.get('namespace')!r} ({meta.get('format')}), not namespace "
                f"{namespace!r}: it was copied or renamed"
            )

    # ----- writing (the writer lock is held) ------------------------------------------------------------------

    def add(self, namespace: str, rows: Sequence[LexicalRow], through_step: int) -> None:
        """Index a batch's rows and record that the index covers positions below ``through_step``."""
        self._write(namespace, rows, through_step, replace=False)

    def replace(
        self, namespace: str, rows: Sequence[LexicalRow], through_step: int, revision: int | None = None
    ) -> None:
        """Rebuild a namespace's index from its stored segments (at ``revision``, shared states), in one
        transaction; a file that SQLite cannot read is replaced."""
        path = self.path(namespace)
        try:
            self._write(namespace, rows, through_step, replace=True, revision=revision)
        except LexicalIndexError:
            for damaged in (path, path.with_name(path.name + "-journal")):
                damaged.unlink(missing_ok=True)
            self._write(namespace, rows, through_step, replace=True, revision=revision)

    def record_revision(self, namespace: str, revision: int) -> None:
        """Record that the index is current at the namespace's ``revision`` (its writer just changed both)."""
        with self._connect(self.path(namespace), create=True) as connection, connection:
            _begin_with_schema(connection)
            connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)", (str(revision),))

    def _write(
        self, namespace: str, rows: Sequence[LexicalRow], through_step: int, replace: bool, revision: int | None = None
    ) -> None:
        path = self.path(namespace)
        with self._connect(path, create=True) as connection, connection:
            _begin_with_schema(connection)
            if replace:
                connection.execute("DELETE FROM segments")
                connection.execute("DELETE FROM meta")
            self._checked(connection, path, namespace)
            connection.executemany(
                "INSERT OR REPLACE INTO segments (rowid, text, message_id) VALUES (?, ?, ?)",
                [(row.position, row.text, row.message_id) for row in rows],
            )
            meta = [("format", FORMAT), ("namespace", namespace), ("through_step", str(through_step))]
            if revision is not None:
                meta.append(("revision", str(revision)))
            connection.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta)

    def delete(self, namespace: str, positions: Sequence[int] | None = None) -> None:
        """Remove rows at the given positions, or every row (``None``: the namespace is deleted)."""
        path = self.path(namespace)
        if not path.exists():
            return
        with self._connect(path, create=False) as connection, connection:
            _begin_with_schema(connection)
            if positions is None:
                connection.execute("DELETE FROM segments")
                connection.execute("DELETE FROM meta")
            else:
                connection.executemany("DELETE FROM segments WHERE rowid = ?", [(p,) for p in positions])

    def delete_messages(self, namespace: str, message_ids: Sequence[str]) -> None:
        path = self.path(namespace)
        if not path.exists() or not message_ids:
            return
        with self._connect(path, create=False) as connection, connection:
            _begin_with_schema(connection)
            connection.executemany("DELETE FROM segments WHERE message_id = ?", [(m,) for m in message_ids])

    # ----- reading ------------------------------------------------------------------------------------------

    def covers(self, namespace: str, step: int, revision: int | None = None) -> bool:
        """Whether the index holds every committed position below ``step``, and (shared states) was written at
        the namespace's current ``revision``. False for a store written before lexical indexes existed, a lost
        file or another machine's write: ``replace`` then rebuilds it from the stored text."""
        if step == 0:
            return True
        path = self.path(namespace)
        try:
            with self._connect(path, create=False) as connection:
                self._checked(connection, path, namespace)
                meta = dict(connection.execute("SELECT key, value FROM meta"))
        except (FileNotFoundError, LexicalIndexError):
            return False
        current = revision is None or meta.get("revision") == str(revision)
        return current and int(meta.get("through_step", 0)) >= step

    def search(
        self, namespace: str, query: str, n: int, below: int, within: Sequence[int | None] | None = None
    ) -> list[LexicalMatch]:
        """The ``n`` best positions below ``below`` (and among ``within``, when given) by BM25, best first.

        The query's words in half of the rows or more are left out while the others match ``n`` rows: they
        change no row's score by more than 2.2e-6 a word (``_informative``) and would make FTS5 score every row
        holding them. When the others match fewer rows, the whole query runs.
        """
        words = query_words(query)
        path = self.path(namespace)
        if not words or not path.exists():
            return []
        with self._connect(path, create=False) as connection:
            self._checked(connection, path, namespace)
            informative = _informative(connection, words)
            found = _ranked(connection, informative, below, n, within)
            if len(found) < n and len(informative) < len(words):
                found = _ranked(connection, words, below, n, within)
        return found

    def positions(self, namespace: str, below: int) -> list[int]:
        """Every indexed position below ``below`` (to check the index against the vector store)."""
        path = self.path(namespace)
        if not path.exists():
            return []
        with self._connect(path, create=False) as connection:
            found = connection.execute("SELECT rowid FROM segments WHERE rowid < ? ORDER BY rowid", (below,))
            return [int(row[0]) for row in found]
