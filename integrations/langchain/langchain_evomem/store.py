"""EvoStore: LangGraph's ``BaseStore`` (long-term memory of agents), searched with evolvable embeddings."""

from __future__ import annotations

import hashlib
import json
import operator
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base import validate_op_namespace as check_op
from langgraph.store.base.embed import get_text_at_path

from evomem import EvoMemory, SerialWorker
from evomem.schema import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE, check_mode, to_message

SCHEMA = """CREATE TABLE IF NOT EXISTS items (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
created_at TEXT NOT NULL, updated_at TEXT NOT NULL, indexed INTEGER NOT NULL, PRIMARY KEY (namespace, key))"""
OPERATORS = {"$eq": operator.eq, "$ne": operator.ne, "$gt": operator.gt, "$gte": operator.ge}
OPERATORS.update({"$lt": operator.lt, "$lte": operator.le})


def compare(value: Any, op: str, operand: Any) -> bool:
    if op in ("$eq", "$ne"):
        return OPERATORS[op](value, operand)
    try:  # order comparisons are numeric; a missing or non-numeric value does not match
        return OPERATORS[op](float(value), float(operand))
    except (TypeError, ValueError):
        return False


def evomem_namespace(namespace: tuple[str, ...]) -> str:
    """The EvoMemory namespace (one evolving stream) of a LangGraph namespace tuple: readable and unique."""
    digest = hashlib.sha1("\0".join(namespace).encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_@-]+", "-", "-".join(namespace))[:80]
    return f"lg.{readable}.{digest}"


def matches(value: Any, condition: Any) -> bool:
    """LangGraph's filter semantics: exact match, nested dicts, and $eq/$ne/$gt/$gte/$lt/$lte."""
    if isinstance(condition, dict):
        if any(key.startswith("$") for key in condition):
            unknown = set(condition) - set(OPERATORS)
            if unknown:
                raise ValueError(f"unsupported filter operators {sorted(unknown)}; supported: {sorted(OPERATORS)}")
            return all(compare(value, op, operand) for op, operand in condition.items())
        return isinstance(value, dict) and all(matches(value.get(k), v) for k, v in condition.items())
    return value == condition


def namespace_matches(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path) :]
    return all(p == "*" or p == n for n, p in zip(part, path, strict=True))


class EvoStore(BaseStore):
    """A LangGraph store whose semantic ``search`` is evomem's.

    Items (JSON values with their timestamps) live in SQLite beside the EvoMemory (``langgraph_store.sqlite``
    under its path, or ``path``). The text of each indexed item (``fields``, LangGraph path syntax, default the
    whole value as JSON; ``put(..., index=[...])`` per item; ``index=False`` not indexed) is appended to the
    evomem stream of its namespace tuple, so a query is read with that namespace's evolving memory. Search
    across a namespace prefix merges the namespaces' hits by score; ``filter`` is applied to the values with
    LangGraph's operators; items without text come after scored ones. Without a query, items come most
    recently updated first. Updating an item re-appends its text to the stream. Consecutive puts are checked
    together before any is written: a batch with one bad put changes nothing. TTLs are not supported.
    ``search_mode`` and ``lexical_weight`` choose how a query ranks (see ``EvoMemory.search``).
    """

    def __init__(
        self,
        memory: EvoMemory,
        *,
        fields: Sequence[str] = ("$",),
        path: str | Path | None = None,
        search_mode: str = DEFAULT_MODE,
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
    ):
        check_mode(search_mode, lexical_weight)
        self.search_mode = search_mode
        self.lexical_weight = lexical_weight
        self.memory = memory
        self.fields = list(fields)
        self.path = Path(path) if path is not None else memory.path / "langgraph_store.sqlite"
        self._lock = threading.RLock()
        self._worker = SerialWorker("evomem-langgraph")
        with self._db() as db:
            db.execute(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    # ----- BaseStore ----------------------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs ``ops`` in order (each sees the writes before it); consecutive puts are written together."""
        results: list[Result] = []
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        with self._lock:
            for op in ops:
                check_op(op)
                if isinstance(op, PutOp):
                    puts[(tuple(op.namespace), op.key)] = op
                    results.append(None)
                    continue
                self._write(puts)
                puts = {}
                if isinstance(op, GetOp):
                    results.append(self._get(tuple(op.namespace), op.key))
                elif isinstance(op, SearchOp):
                    results.append(self._search(op))
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op))
                else:
                    raise ValueError(f"unknown operation {type(op).__name__}")
            self._write(puts)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` in the store's worker thread: the event loop never blocks, and batches run in awaited order."""
        return await self._worker.run(self.batch, list(ops))

    # ----- operations ---------------------------------------------------------------------------------------

    def _write(self, puts: dict[tuple[tuple[str, ...], str], PutOp]) -> None:
        """Write the puts together; every one is checked first, so a rejected put changes nothing at all."""
        if not puts:
            return
        now = datetime.now(timezone.utc)
        checked = {target: self._checked(*target, op) for target, op in puts.items()}
        streams: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        with closing(self._db()) as db, db:
            for (namespace, key), (value, text) in checked.items():
                name = ".".join(namespace)
                old = db.execute("SELECT created_at, indexed FROM items WHERE namespace=? AND key=?", (name, key))
                old = old.fetchone()
                if old and old[1]:  # its old text leaves the index; what the memory read from it fades in time
                    self.memory.delete(evomem_namespace(namespace), ids=[key])
                if value is None:
                    db.execute("DELETE FROM items WHERE namespace=? AND key=?", (name, key))
                    continue
                created = old[0] if old else now.isoformat()
                db.execute(
                    "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
                    (name, key, value, created, now.isoformat(), bool(text)),
                )
                if text:
                    message = {"role": "memory", "content": text, "id": key, "timestamp": now.timestamp()}
                    streams.setdefault(namespace, []).append(message)
            for namespace, messages in streams.items():
                self.memory.add_messages(messages, evomem_namespace(namespace))

    def _checked(self, namespace: tuple[str, ...], key: str, op: PutOp) -> tuple[str | None, str]:
        """A put's value as JSON (None for a delete) and its text to index, as evomem will accept them."""
        if op.value is None:
            return None, ""
        try:
            value = json.dumps(dict(op.value))
        except (TypeError, ValueError) as error:
            raise TypeError(f"value of item {key!r} in namespace {namespace} is not JSON: {error}") from None
        paths = [] if op.index is False else (self.fields if op.index is None else op.index)
        text = "\n".join(t for path in paths for t in get_text_at_path(op.value, path) if t.strip())
        if text:
            to_message({"role": "memory", "content": text, "id": key})  # the key is its message id in evomem
        return value, text

    def _items(self, namespace: tuple[str, ...], key: str | None = None) -> list[tuple[Item, bool]]:
        query = "SELECT key, value, created_at, updated_at, indexed FROM items WHERE namespace=?"
        args: tuple = (".".join(namespace),)
        if key is not None:
            query, args = query + " AND key=?", (*args, key)
        with closing(self._db()) as db:
            rows = db.execute(query + " ORDER BY updated_at DESC", args).fetchall()
        return [
            (Item(value=json.loads(v), key=k, namespace=namespace, created_at=c, updated_at=u), bool(i))
            for k, v, c, u, i in rows
        ]

    def _get(self, namespace: tuple[str, ...], key: str) -> Item | None:
        found = self._items(namespace, key)
        return found[0][0] if found else None

    def _namespaces(self) -> list[tuple[str, ...]]:
        with closing(self._db()) as db:
            rows = db.execute("SELECT DISTINCT namespace FROM items").fetchall()
        return [tuple(name.split(".")) for (name,) in rows]

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        scored: list[tuple[float, Item]] = []
        unscored: list[Item] = []
        for namespace in sorted(ns for ns in self._namespaces() if ns[: len(prefix)] == prefix):
            everything = self._items(namespace)
            items = [(item, indexed) for item, indexed in everything if matches(item.value, op.filter or {})]
            indexed = {item.key for item, is_indexed in items if is_indexed}
            scores = {}
            if op.query and indexed:  # every indexed item is scored, then the filter applies
                total = sum(is_indexed for _, is_indexed in everything)
                hits = self.memory.search(
                    op.query,
                    evomem_namespace(namespace),
                    k=total,
                    mode=self.search_mode,
                    lexical_weight=self.lexical_weight,
                )
                scores = {hit.id: hit.score for hit in hits if hit.id in indexed}
            scored.extend((scores[item.key], item) for item, _ in items if item.key in scores)
            unscored.extend(item for item, _ in items if item.key not in scores)
        if op.query:
            scored.sort(key=lambda pair: -pair[0])
        else:
            unscored.sort(key=lambda item: item.updated_at, reverse=True)
        ranked = [*scored, *((None, item) for item in unscored)][op.offset : op.offset + op.limit]
        return [
            SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, score)
            for score, item in ranked
        ]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = [
            ns
            for ns in self._namespaces()
            if all(namespace_matches(ns, condition) for condition in op.match_conditions or ())
        ]
        if op.max_depth is not None:
            found = [ns[: op.max_depth] for ns in found]
        return sorted(set(found))[op.offset : op.offset + op.limit]
