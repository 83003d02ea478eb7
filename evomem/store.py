"""SegmentStore: segment vectors, texts and flat metadata in one Chroma collection per model fingerprint, and
each namespace's lexical index (``evomem.lexical``) kept in step with it.

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
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from .lexical import LexicalIndex, LexicalMatch, LexicalRow
from .ranking import Candidate

COLLECTION_PREFIX = "evomem-"
GENERATION_NAME = "chroma.generation"
ACCESS_LOCK_NAME = "chroma.lock"
PAGE = 1000  # records per page when scanning a collection
BOOKKEEPING = ("namespace", "position", "message_id", "part", "fingerprint")  # metadata evomem adds to a segment
TRANSIENT_READ_ERROR = "Error creating hnsw segment reader"
TRANSIENT_RETRIES = 5


@dataclass(frozen=True)
class StoredSegment:
    record_id: str
    text: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StoredRecord:
    """A whole Chroma record (vector included), as kept in a journal to restore it."""

    record_id: str
    text: str
    metadata: dict[str, Any]
    embedding: list[float]


def _read_with_retry(read: Callable[[], Any]) -> Any:
    """Run a Chroma read, retrying the server's transient race on a collection whose vector segment another
    client is creating ("Error creating hnsw segment reader: Nothing found on disk"); other errors raise."""
    for attempt in range(TRANSIENT_RETRIES - 1):
        try:
            return read()
        except Exception as error:
            if TRANSIENT_READ_ERROR not in str(error):
                raise
            time.sleep(0.2 * (attempt + 1))
    return read()


def record_id(namespace: str, position: int) -> str:
    """The id of the segment at a stream position: every segment has its own position, so a message added again
    gets new records beside its old ones, which stay readable until the new batch commits."""
    return f"{namespace}:{position}"


def record_position(namespace: str, rid: str) -> int | None:
    """The stream position in a record id of ``namespace`` (None for an id of an older layout)."""
    prefix, _, position = rid.rpartition(":")
    return int(position) if prefix == namespace and position.isdigit() else None


def collection_name(fingerprint: str) -> str:
    """Collection names derive from the model fingerprint (hex), never from user input."""
    if not fingerprint or not all(c in "0123456789abcdef" for c in fingerprint):
        raise ValueError(f"model fingerprint must be lower-case hex, got {fingerprint!r}")
    return COLLECTION_PREFIX + fingerprint


def user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """A stored segment's metadata without evomem's bookkeeping: what the message itself carried."""
    return {key: value for key, value in metadata.items() if key not in BOOKKEEPING}


def newest_versions(segments: list[StoredSegment]) -> list[StoredSegment]:
    """Leave out the parts of a message's older version seen beside its newer one.

    A message added again is written at new positions and its old parts are deleted right after that batch
    commits; a reader in between sees both, and keeps only the parts from the newest first part on.
    """
    newest: dict[str, int] = {}
    for segment in segments:
        if segment.metadata["part"] == 0:
            message_id, position = segment.metadata["message_id"], segment.metadata["position"]
            newest[message_id] = max(position, newest.get(message_id, position))
    return [s for s in segments if s.metadata["position"] >= newest.get(s.metadata["message_id"], -1)]


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


class SegmentStore:
    """Chroma collection ``evomem-<fingerprint>``: vectors are given by evomem, never by Chroma; with ``lexical``,
    every write goes to the namespace's lexical index too (after Chroma, so a crash in between leaves rows that the
    journal's roll-back removes from both).

    Every read takes ``below``, the namespace's committed memory step: segments at positions >= ``below`` belong
    to a batch in flight (or to one whose writer died before committing it) and are never returned.
    """

    def __init__(
        self,
        connection: ChromaConnection | Any,
        fingerprint: str,
        dim: int | None,
        create: bool = True,
        lexical: LexicalIndex | None = None,
        name: str | None = None,
    ):
        if not isinstance(connection, ChromaConnection):
            connection = ChromaConnection(client=connection)
        self.connection = connection
        self.lexical = lexical
        self.fingerprint = fingerprint
        self.name = name or collection_name(fingerprint)  # another name: a collection that ``repair`` builds
        self._collection_of: tuple[Any, Any] | None = None
        self._finish_repair()
        with connection.using() as client:
            if create:
                if dim is None:
                    raise ValueError("a new collection needs the vector size")
                collection = client.get_or_create_collection(
                    self.name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"evomem_fingerprint": fingerprint, "dim": dim},
                )
            else:
                collection = client.get_collection(self.name, embedding_function=None)
            found = (collection.metadata or {}).get("evomem_fingerprint")
            if found != fingerprint:
                raise ValueError(f"Chroma collection {self.name} belongs to model {found!r}, not {fingerprint!r}")
            self.dim = int((collection.metadata or {}).get("dim") or dim or 0)
            self._collection_of = (client, collection)

    @contextmanager
    def _collection(self, writing: bool = False) -> Iterator[Any]:
        with self.connection.using(writing) as client:
            if self._collection_of is None or self._collection_of[0] is not client:
                self._finish_repair()
                self._collection_of = (client, client.get_collection(self.name, embedding_function=None))
            yield self._collection_of[1]

    def _finish_repair(self) -> None:
        """Finish swapping in the collection that a repair killed mid-swap had built (see ``evomem.repair``)."""
        if self.connection.embedded:
            from .repair import finish_swap

            finish_swap(self.connection, self.fingerprint)

    # ----- writing ------------------------------------------------------------------------------------------

    def upsert(
        self,
        ids: Sequence[str],
        vectors: torch.Tensor | Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        if not ids:
            return
        if isinstance(vectors, torch.Tensor):
            if vectors.shape != (len(ids), self.dim):
                raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {tuple(vectors.shape)}")
            embeddings = vectors.detach().cpu().float().numpy()
        else:
            embeddings = [list(map(float, vector)) for vector in vectors]
        with self._collection(writing=True) as collection:
            size = self._collection_of[0].get_max_batch_size()
            for start in range(0, len(ids), size):
                end = start + size
                collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=embeddings[start:end],
                    documents=list(texts[start:end]),
                    metadatas=list(metadatas[start:end]),
                )
        if self.lexical is not None:
            rows: dict[str, list[LexicalRow]] = {}
            for text, meta in zip(texts, metadatas, strict=True):
                rows.setdefault(meta["namespace"], []).append(LexicalRow(meta["position"], meta["message_id"], text))
            for namespace, batch in rows.items():
                self.lexical.add(namespace, batch, max(row.position for row in batch) + 1)

    def delete_records(self, namespace: str, ids: Sequence[str]) -> None:
        """Delete records of one namespace by record id."""
        if not ids:
            return
        with self._collection(writing=True) as collection:
            for start in range(0, len(ids), PAGE):
                collection.delete(ids=list(ids[start : start + PAGE]))
        if self.lexical is not None:
            positions = [record_position(namespace, rid) for rid in ids]
            self.lexical.delete(namespace, [p for p in positions if p is not None])

    def delete(self, namespace: str, message_ids: Sequence[str] | None = None) -> None:
        """Delete the records of some messages, or (``None``) of the whole namespace."""
        if message_ids is not None and not message_ids:
            return
        filters = [] if message_ids is None else [{"message_id": {"$in": list(message_ids)}}]
        with self._collection(writing=True) as collection:
            collection.delete(where=self._where(namespace, filters))
        if self.lexical is None:
            return
        if message_ids is None:
            self.lexical.delete(namespace)
        else:
            self.lexical.delete_messages(namespace, message_ids)

    def index_lexically(self, namespace: str, below: int, rebuild: bool = False) -> bool:
        """Make the namespace's lexical index hold every committed segment below ``below``, from the stored text,
        when it does not (a store written before lexical indexes, a lost file) or ``rebuild``; returns whether it
        was (re)built. Call with the writer lock held and no batch in flight."""
        if self.lexical is None or (not rebuild and self.lexical.covers(namespace, below)):
            return False
        stored = self.get(namespace, below=below) if below else []
        rows = [LexicalRow(s.metadata["position"], s.metadata["message_id"], s.text) for s in stored]
        self.lexical.replace(namespace, rows, below)
        return True

    # ----- reading ------------------------------------------------------------------------------------------

    @staticmethod
    def _where(namespace: str, extra: list[dict[str, Any]], below: int | None = None) -> dict[str, Any]:
        clauses = [{"namespace": namespace}]
        if below is not None:
            clauses.append({"position": {"$lt": below}})
        clauses += [clause for clause in extra if clause]
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def query(
        self, vector: torch.Tensor, namespace: str, n: int, filters: list[dict[str, Any]], below: int
    ) -> list[Candidate]:
        """The ``n`` nearest committed segments of a namespace, nearest first (scored by cosine similarity)."""
        with self._collection() as collection:
            result = _read_with_retry(
                lambda: collection.query(
                    query_embeddings=vector.detach().cpu().float().numpy()[None],
                    n_results=n,
                    where=self._where(namespace, filters, below),
                    include=["metadatas", "distances"],
                )
            )
        return [
            Candidate(rid, meta["message_id"], 1.0 - float(distance))
            for rid, meta, distance in zip(
                result["ids"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def lexical_query(
        self, query: str, namespace: str, n: int, filters: list[dict[str, Any]], below: int
    ) -> tuple[list[LexicalMatch], int]:
        """The matches among the namespace's ``n`` best committed segments by BM25 that pass ``filters`` (checked
        by Chroma, so every filter means what it means in a vector search), best first, and how many the lexical
        index matched before filtering (fewer than ``n``: no more exist)."""
        matches = self.lexical.search(namespace, query, n, below)
        if not matches or not filters:
            return matches, len(matches)
        ids = [record_id(namespace, match.position) for match in matches]
        with self._collection() as collection:
            passing = set(
                _read_with_retry(
                    lambda: collection.get(ids=ids, where=self._where(namespace, filters, below), include=[])
                )["ids"]
            )
        return [m for m, rid in zip(matches, ids, strict=True) if rid in passing], len(matches)

    def latest_messages_start(self, namespace: str, n: int, below: int, hidden: frozenset[str]) -> int:
        """The stream position where the namespace's latest ``n`` messages below ``below`` begin (0 when it holds no
        more than ``n``), leaving ``hidden`` records aside. A message's parts sit at consecutive positions, so
        the records are read from the newest back, in a window that doubles until an older message shows."""
        window = 2 * n
        while True:
            low = max(0, below - window)
            with self._collection() as collection:
                where = self._where(namespace, [{"position": {"$gte": low}}], below)
                found = collection.get(where=where, include=["metadatas"])
            newest_first = sorted(
                (
                    (meta["position"], meta["message_id"])
                    for rid, meta in zip(found["ids"], found["metadatas"], strict=True)
                    if rid not in hidden
                ),
                reverse=True,
            )
            latest: set[str] = set()
            start = below
            for position, message_id in newest_first:
                if message_id not in latest and len(latest) == n:
                    return start
                latest.add(message_id)
                start = position
            if low == 0:
                return 0
            window *= 2

    def segments(self, ids: Sequence[str]) -> dict[str, StoredSegment]:
        """The stored segments of the given record ids that exist, by id."""
        if not ids:
            return {}
        with self._collection() as collection:
            result = _read_with_retry(lambda: collection.get(ids=list(ids), include=["documents", "metadatas"]))
        return {
            rid: StoredSegment(rid, text, dict(meta))
            for rid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        }

    def get(
        self, namespace: str, message_ids: Sequence[str] | None = None, below: int | None = None
    ) -> list[StoredSegment]:
        """Segments of a namespace (of some messages): when ``below`` is given, the committed ones in their newest
        version; else every record, as a repair needs them."""
        if message_ids is not None and not message_ids:
            return []
        filters = [] if message_ids is None else [{"message_id": {"$in": list(message_ids)}}]
        with self._collection() as collection:
            result = collection.get(where=self._where(namespace, filters, below), include=["documents", "metadatas"])
        segments = [
            StoredSegment(rid, text, dict(meta))
            for rid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]
        return segments if below is None else newest_versions(segments)

    def fetch(self, ids: Sequence[str]) -> list[StoredRecord]:
        """Whole records (with vectors) of the given record ids that exist."""
        records = []
        with self._collection() as collection:
            for start in range(0, len(ids), PAGE):
                page = list(ids[start : start + PAGE])
                result = _read_with_retry(
                    lambda page=page: collection.get(ids=page, include=["documents", "metadatas", "embeddings"])
                )
                for rid, text, meta, vector in zip(
                    result["ids"], result["documents"], result["metadatas"], result["embeddings"], strict=True
                ):
                    records.append(StoredRecord(rid, text, dict(meta), [float(x) for x in vector]))
        return records

    def record_ids(self, namespace: str, message_ids: Sequence[str]) -> list[str]:
        """Record ids of every stored part of the given messages (committed or not)."""
        if not message_ids:
            return []
        filters = [{"message_id": {"$in": list(message_ids)}}]
        with self._collection() as collection:
            return list(collection.get(where=self._where(namespace, filters), include=[])["ids"])

    def unsearchable(self, namespace: str) -> list[str]:
        """Record ids of the namespace that its vector index does not return (damage that two processes working on
        one embedded directory could cause before evomem locked it); sorted."""
        with self._collection() as collection:
            stored = collection.get(where=self._where(namespace, []), include=[])["ids"]
            if not stored:
                return []
            found = collection.query(
                query_embeddings=[[1.0] * self.dim], n_results=len(stored), where=self._where(namespace, []), include=[]
            )["ids"][0]
        return sorted(set(stored) - set(found))

    def lexically_unindexed(self, namespace: str, below: int) -> list[str]:
        """Record ids below ``below`` that one index holds and the other does not (the vector store's committed
        records against the lexical index's rows); sorted. ``EvoMemory.rebuild`` re-indexes from the stored text."""
        if self.lexical is None:
            return []
        with self._collection() as collection:
            stored = set(collection.get(where=self._where(namespace, [], below), include=[])["ids"])
        indexed = {record_id(namespace, position) for position in self.lexical.positions(namespace, below)}
        return sorted(stored ^ indexed)

    def count(self, namespace: str, below: int | None = None) -> int:
        with self._collection() as collection:
            return len(collection.get(where=self._where(namespace, [], below), include=[])["ids"])

    def total(self) -> int:
        """Records in the collection, every namespace's."""
        with self._collection() as collection:
            return collection.count()

    def has_records(self, namespace: str) -> bool:
        """Whether the namespace has any record, committed or not (reads one id at most)."""
        with self._collection() as collection:
            return bool(collection.get(where=self._where(namespace, []), limit=1, include=[])["ids"])

    def namespaces(self) -> list[str]:
        """Every namespace with at least one record, scanning the collection page by page."""
        names: set[str] = set()
        with self._collection() as collection:
            offset = 0
            while True:
                page = collection.get(include=["metadatas"], limit=PAGE, offset=offset)
                names.update(str(meta.get("namespace")) for meta in page["metadatas"])
                if len(page["ids"]) < PAGE:
                    return sorted(names)
                offset += PAGE


def evomem_collections(connection: ChromaConnection | Any) -> dict[str, int]:
    """Fingerprint -> record count of every evomem collection reachable through a client."""
    if not isinstance(connection, ChromaConnection):
        connection = ChromaConnection(client=connection)
    found = {}
    with connection.using() as client:
        for listed in client.list_collections():
            name = listed if isinstance(listed, str) else listed.name
            if not name.startswith(COLLECTION_PREFIX):
                continue
            collection = client.get_collection(name, embedding_function=None)
            fingerprint = (collection.metadata or {}).get("evomem_fingerprint")
            if fingerprint and name == COLLECTION_PREFIX + fingerprint:
                found[fingerprint] = collection.count()
    return found
