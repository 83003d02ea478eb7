"""SegmentStore: segment vectors, texts and flat metadata in one Chroma collection per model fingerprint and
namespace, and each namespace's lexical index (``evomem.storage.lexical``) kept in step with it. Every Chroma call goes
through a ``ChromaConnection`` (``evomem.storage.connection``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, cast

import torch

from ..errors import InvalidInputError
from ..schema import Candidate, StoredSegment
from .connection import ChromaConnection
from .lexical import LexicalIndex, LexicalMatch, LexicalRow
from .state import namespace_digest
from .swap import finish_swap, marker_path

COLLECTION_PREFIX = "evomem-"
PAGE = 1000  # records per page when scanning a collection
FILTER_SCAN = 4096  # nearest records checked against a search's filters before Chroma filters inside its search
# what ``get`` finds in no collection
EMPTY_GET: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
# metadata evomem adds to a segment when it writes it
BOOKKEEPING = ("namespace", "position", "message_id", "part", "fingerprint", "created_at", "time")
TRANSIENT_READ_ERROR = "Error creating hnsw segment reader"
TRANSIENT_RETRIES = 5
# Chroma's defaults (16 neighbours, ef_construction 100) left 1 to 9 of 5,000 near-duplicate vectors unreachable by
# any search when reads came between the writes. The cause was the timing of the first read (``SegmentStore.
# _collection``). HNSW's neighbour pruning can still leave a rare record unreachable with such vectors (1 in 18 bulk
# runs with the defaults); with 32 and 200, 0 in 38 runs (docs/hnsw-findings.md).
HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200}


@dataclass(frozen=True)
class StoredRecord:
    """A whole Chroma record (vector included), as kept in a journal to restore it."""

    record_id: str
    text: str
    metadata: dict[str, Any]
    embedding: list[float]


# ``Callable[..., Any]`` here and in ``SegmentStore._call``: against a fixed signature mypy infers no type for a
# lambda with default arguments (``lambda c, asked=asked: ...``)
def _read_with_retry(read: Callable[..., Any]) -> Any:
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


def _needed(checked: int, passed: int, n: int) -> int:
    """How many candidates to check for ``n`` to pass, when ``passed`` of ``checked`` did: twice what the share
    that passed says (more than ``FILTER_SCAN`` when none passed)."""
    return FILTER_SCAN + 1 if passed == 0 else 2 * checked * n // passed


def _stored(ids: list[str], documents: list[str], metadatas: list[dict[str, Any]]) -> list[StoredSegment]:
    """Chroma's rows (of a ``get``, or of one query of a ``query``) as stored segments."""
    return [StoredSegment(rid, text, dict(meta)) for rid, text, meta in zip(ids, documents, metadatas, strict=True)]


def _candidate(segment: StoredSegment, distance: float) -> Candidate:
    """A vector search's candidate (scored by cosine similarity), its stored segment read with it."""
    return Candidate(segment.record_id, segment.metadata["message_id"], 1.0 - float(distance), segment)


def collection_name(fingerprint: str, namespace: str | None = None) -> str:
    """``evomem-<fingerprint>-<namespace digest>``: one collection per model and namespace, so a search needs no
    namespace filter (a small namespace's search in a collection of 100K records took about half a second).
    Without a namespace: the one collection per model of evomem's first layout, which ``migrate_legacy`` empties.
    Names derive from hashes, never from user input."""
    if not fingerprint or not all(c in "0123456789abcdef" for c in fingerprint):
        raise InvalidInputError(f"model fingerprint must be lower-case hex, got {fingerprint!r}")
    legacy = COLLECTION_PREFIX + fingerprint
    return legacy if namespace is None else f"{legacy}-{namespace_digest(namespace)}"


def _namespace_of(rid: str) -> str:
    return rid.rpartition(":")[0]


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


class SegmentStore:
    """A model's segments in Chroma, one collection per namespace (``collection_name``): vectors are given by
    evomem, never by Chroma; with ``lexical``, every write goes to the namespace's lexical index too (after Chroma,
    so a crash in between leaves rows that the journal's roll-back removes from both). A namespace's collection is
    made by its first write; reading a namespace without one finds nothing.

    Every read takes ``below``, the namespace's committed memory step: segments at positions >= ``below`` belong
    to a batch in flight (or to one whose writer died before committing it) and are never returned.
    """

    def __init__(
        self,
        connection: ChromaConnection | Any,
        fingerprint: str,
        dim: int | None,
        lexical: LexicalIndex | None = None,
        suffix: str = "",
    ):
        if not isinstance(connection, ChromaConnection):
            connection = ChromaConnection(client=connection)
        collection_name(fingerprint)  # checks the fingerprint
        self.connection = connection
        self.lexical = lexical
        self.fingerprint = fingerprint
        self.dim = dim
        self.suffix = suffix  # another suffix: the collections that ``repair`` builds
        self._open: dict[str, Any] = {}  # namespace -> its collection, as fetched through ``self._client``
        self._client: Any = None

    def name(self, namespace: str) -> str:
        return collection_name(self.fingerprint, namespace) + self.suffix

    def _collection(self, client: Any, namespace: str, create: bool) -> Any:
        """The namespace's collection through ``client`` (None when it has none and ``create`` is False)."""
        from chromadb.errors import NotFoundError

        if client is not self._client:
            self._open, self._client = {}, client
        if namespace in self._open:
            return self._open[namespace]
        name = self.name(namespace)
        if self.connection.embedded and not self.suffix:
            assert self.connection.directory is not None  # embedded
            marker = marker_path(self.connection.directory, self.fingerprint, namespace)
            finish_swap(self.connection, marker, name)  # a repair killed while swapping it in
        try:
            collection = client.get_collection(name, embedding_function=None)
        except NotFoundError:
            if not create:
                return None
            if self.dim is None:
                raise InvalidInputError("a new collection needs the vector size") from None
            collection = client.get_or_create_collection(
                name,
                embedding_function=None,
                configuration={"hnsw": HNSW},
                metadata={"evomem_fingerprint": self.fingerprint, "dim": self.dim, "namespace": namespace},
            )
        found = (collection.metadata or {}).get("evomem_fingerprint")
        if found != self.fingerprint:
            raise InvalidInputError(f"Chroma collection {name} belongs to model {found!r}, not {self.fingerprint!r}")
        if self.connection.embedded:
            # Embedded Chroma catches a collection's HNSW index up with its write log at the first read through
            # a client. When that read came after the client's first write and before the index was first saved
            # (every ``sync_threshold`` = 1,000 records), records were left that no search reaches (6 of 15
            # ingests of 5,000 records; 0 of 29 with this read first: docs/hnsw-findings.md). So read first.
            collection.count()
        self._open[namespace] = collection
        return collection

    def _call(self, namespace: str, action: Callable[..., Any], default: Any = None, writing: bool = False) -> Any:
        """``action(collection)`` on the namespace's collection (made first when ``writing``), else ``default``.
        A collection that another client deleted (and maybe made again) since it was fetched is fetched again."""
        from chromadb.errors import NotFoundError

        with self.connection.using(writing) as client:
            for attempt in range(2):
                collection = self._collection(client, namespace, create=writing)
                if collection is None:
                    return default
                try:
                    return _read_with_retry(lambda collection=collection: action(collection))
                except NotFoundError:
                    self._open.pop(namespace, None)
                    if attempt:
                        raise
        raise AssertionError("unreachable")

    # ----- writing ------------------------------------------------------------------------------------------

    def upsert(
        self,
        ids: Sequence[str],
        vectors: torch.Tensor | Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Write records, each into its namespace's collection (``metadata["namespace"]``) and lexical index."""
        if isinstance(vectors, torch.Tensor):
            if vectors.shape != (len(ids), self.dim):
                raise InvalidInputError(
                    f"expected vectors of shape ({len(ids)}, {self.dim}), got {tuple(vectors.shape)}"
                )
            vectors = cast(Any, vectors.detach().cpu().float().numpy())  # an array, indexed by row below
        for namespace, rows in _rows_by_namespace(metadatas).items():
            texts_of = [texts[i] for i in rows]
            self._write(
                namespace, [ids[i] for i in rows], [vectors[i] for i in rows], texts_of, [metadatas[i] for i in rows]
            )
            if self.lexical is not None:
                batch = [LexicalRow(metadatas[i]["position"], metadatas[i]["message_id"], texts[i]) for i in rows]
                self.lexical.add(namespace, batch, max(row.position for row in batch) + 1)

    def _write(self, namespace: str, ids: list[str], vectors: list, texts: list[str], metadatas: list[dict]) -> None:
        """Upsert records of one namespace into its collection, in Chroma's largest batches."""

        def write(collection: Any) -> None:
            size = self._client.get_max_batch_size()
            for start in range(0, len(ids), size):
                end = start + size
                collection.upsert(
                    ids=ids[start:end],
                    embeddings=vectors[start:end],
                    documents=texts[start:end],
                    metadatas=metadatas[start:end],
                )

        self._call(namespace, write, writing=True)

    def delete_records(self, namespace: str, ids: Sequence[str]) -> None:
        """Delete records of one namespace by record id."""
        if not ids:
            return

        def delete(collection: Any) -> None:
            for start in range(0, len(ids), PAGE):
                collection.delete(ids=list(ids[start : start + PAGE]))

        self._call(namespace, delete, writing=True)
        if self.lexical is not None:
            positions = [record_position(namespace, rid) for rid in ids]
            self.lexical.delete(namespace, [p for p in positions if p is not None])

    def delete(self, namespace: str, message_ids: Sequence[str] | None = None) -> None:
        """Delete the records of some messages, or (``None``) the namespace's collection."""
        if message_ids is not None and not message_ids:
            return
        if message_ids is None:
            self.drop(namespace)
        else:
            where = {"message_id": {"$in": list(message_ids)}}
            self._call(namespace, lambda c: c.delete(where=where), writing=True)
        if self.lexical is None:
            return
        if message_ids is None:
            self.lexical.delete(namespace)
        else:
            self.lexical.delete_messages(namespace, message_ids)

    def drop(self, namespace: str) -> None:
        """Delete the namespace's collection (a no-op when it has none)."""
        from chromadb.errors import NotFoundError

        with self.connection.using(writing=True) as client:
            self._open.pop(namespace, None)
            with suppress(NotFoundError):
                client.delete_collection(self.name(namespace))

    def index_lexically(self, namespace: str, below: int, revision: int | None = None, rebuild: bool = False) -> bool:
        """Make the namespace's lexical index hold every committed segment below ``below``, from the stored text,
        when it does not (a store written before lexical indexes, a lost file, another machine's write: its
        ``revision`` differs) or ``rebuild``; returns whether it was (re)built. Call with the writer lock held and
        no batch in flight."""
        if self.lexical is None or (not rebuild and self.lexical.covers(namespace, below, revision)):
            return False
        stored = self.get(namespace, below=below) if below else []
        rows = [LexicalRow(s.metadata["position"], s.metadata["message_id"], s.text) for s in stored]
        self.lexical.replace(namespace, rows, below, revision)
        return True

    # ----- reading ------------------------------------------------------------------------------------------

    @staticmethod
    def _where(extra: list[dict[str, Any]], below: int | None = None) -> dict[str, Any] | None:
        clauses = [] if below is None else [{"position": {"$lt": below}}]
        clauses += [clause for clause in extra if clause]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def query(
        self, vector: torch.Tensor, namespace: str, n: int, filters: list[dict[str, Any]], below: int
    ) -> list[Candidate]:
        """The ``n`` nearest committed segments of a namespace that pass ``filters``, nearest first (scored by
        cosine similarity).

        Each candidate carries its stored segment (text and metadata), read in the same Chroma calls. Without
        filters that is one call. With filters, Chroma's nearest-neighbour search runs without them (one inside it
        costs 0.4 s at 100K records: Chroma lists every matching record first); Chroma then reads the nearest ids
        that pass the filters (so a filter means what it means in Chroma), and the segments of a batch in flight
        are dropped. Too few left: as many nearest ids as the share that passed says are needed, twice over; when
        that is more than ``FILTER_SCAN`` (or none passed), a filter that rare goes into Chroma's search after all.
        """
        embedding = vector.detach().cpu().float().numpy()[None]
        where = self._where(filters)
        if where is None:
            return self._query_in_chroma(embedding, namespace, n, None, below)
        asked = n
        while True:
            result = self._call(
                namespace,
                lambda c, asked=asked: c.query(query_embeddings=embedding, n_results=asked, include=["distances"]),
                default={"ids": [[]], "distances": [[]]},
            )
            nearest = dict(zip(result["ids"][0], result["distances"][0], strict=True))
            found = self._passing(namespace, nearest, where, below)
            if len(found) >= n or len(nearest) < asked:
                return found[:n]
            asked = _needed(asked, len(found), n)
            if asked > FILTER_SCAN:
                return self._query_in_chroma(embedding, namespace, n, where, below)

    def _passing(
        self, namespace: str, nearest: dict[str, float], where: dict[str, Any] | None, below: int
    ) -> list[Candidate]:
        """The committed records of ``nearest`` (id: cosine distance, nearest first) that pass ``where``, in order
        (the committed range is checked here: in Chroma's ``where`` it would cost more than the rest)."""
        ids = list(nearest)
        result = self._call(
            namespace, lambda c: c.get(ids=ids, where=where, include=["documents", "metadatas"]), default=EMPTY_GET
        )
        committed = {
            segment.record_id: segment
            for segment in _stored(result["ids"], result["documents"], result["metadatas"])
            if segment.metadata["position"] < below
        }
        return [_candidate(committed[rid], d) for rid, d in nearest.items() if rid in committed]

    def _query_in_chroma(
        self, embedding: Any, namespace: str, n: int, where: dict[str, Any] | None, below: int
    ) -> list[Candidate]:
        """``query`` in one Chroma search with the filters inside it (none, or a filter too rare among the nearest
        records); the segments of a batch in flight are dropped here, asking for as many more as were dropped."""
        asked = n
        while True:
            result = self._call(
                namespace,
                lambda c, asked=asked: c.query(
                    query_embeddings=embedding,
                    n_results=asked,
                    where=where,
                    include=["documents", "metadatas", "distances"],
                ),
                default={"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]},
            )
            segments = _stored(result["ids"][0], result["documents"][0], result["metadatas"][0])
            found = [
                _candidate(segment, distance)
                for segment, distance in zip(segments, result["distances"][0], strict=True)
                if segment.metadata["position"] < below
            ]
            if len(found) >= n or len(result["ids"][0]) < asked:
                return found[:n]
            asked += n - len(found)

    def lexical_query(
        self, query: str, namespace: str, n: int, filters: list[dict[str, Any]], below: int
    ) -> tuple[list[LexicalMatch], int]:
        """The matches among the namespace's ``n`` best committed segments by BM25 that pass ``filters`` (checked
        by Chroma, so every filter means what it means in a vector search), best first, and how many the lexical
        index matched before filtering (fewer than ``n``: no more exist). A filter so rare among the matches that
        more than ``FILTER_SCAN`` would be needed goes first: Chroma lists the segments that pass it, and the
        lexical index ranks those alone."""
        assert self.lexical is not None  # a store searched lexically has a lexical index
        matches = self.lexical.search(namespace, query, n, below)
        if not matches or not filters:
            return matches, len(matches)
        where = self._where(filters)  # the matches lie below ``below``: no range in it (one costs seconds at 100K)
        ids = [record_id(namespace, match.position) for match in matches]
        passing = set(self._call(namespace, lambda c: c.get(ids=ids, where=where, include=[])["ids"], default=[]))
        if len(passing) < n <= len(matches) and _needed(n, len(passing), n) > FILTER_SCAN:
            listed = self._call(namespace, lambda c: c.get(where=where, include=[])["ids"], default=[])
            within = [record_position(namespace, rid) for rid in listed]
            matches = self.lexical.search(namespace, query, n, below, within=within)
            return matches, len(matches)
        return [m for m, rid in zip(matches, ids, strict=True) if rid in passing], len(matches)

    def latest_messages_start(self, namespace: str, n: int, below: int, hidden: frozenset[str]) -> int:
        """The stream position where the namespace's latest ``n`` messages below ``below`` begin (0 when it holds no
        more than ``n``), leaving ``hidden`` records aside. A message's parts sit at consecutive positions, so
        the records are read from the newest back, in a window that doubles until an older message shows (by
        their record ids: a position range in Chroma's ``where`` costs seconds at 100K records)."""
        window = 2 * n
        while True:
            low = max(0, below - window)
            ids = [record_id(namespace, position) for position in range(low, below)]
            found = self._call(namespace, lambda c, ids=ids: c.get(ids=ids, include=["metadatas"]), default=EMPTY_GET)
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
        found: dict[str, StoredSegment] = {}
        for namespace, group in _by_namespace(ids).items():
            result = self._call(
                namespace, lambda c, group=group: c.get(ids=group, include=["documents", "metadatas"]), default=None
            )
            if result is not None:
                found |= {s.record_id: s for s in _stored(result["ids"], result["documents"], result["metadatas"])}
        return found

    def get(
        self, namespace: str, message_ids: Sequence[str] | None = None, below: int | None = None
    ) -> list[StoredSegment]:
        """Segments of a namespace (of some messages): when ``below`` is given, the committed ones in their newest
        version; else every record, as a repair needs them."""
        if message_ids is not None and not message_ids:
            return []
        filters = [] if message_ids is None else [{"message_id": {"$in": list(message_ids)}}]
        return self._get(namespace, filters, below)

    def documents(self, namespace: str, doc_id: str, below: int) -> list[StoredSegment]:
        """The committed chunks of one ``add_text`` document (those written since chunks carry ``doc_id``)."""
        return self._get(namespace, [{"doc_id": doc_id}], below) if below else []

    def _get(self, namespace: str, filters: list[dict[str, Any]], below: int | None) -> list[StoredSegment]:
        where = self._where(filters)  # the committed range is checked here: in ``where`` it costs seconds at 100K
        result = self._call(namespace, lambda c: c.get(where=where, include=["documents", "metadatas"]), default=None)
        if result is None:
            return []
        segments = [
            segment
            for segment in _stored(result["ids"], result["documents"], result["metadatas"])
            if below is None or segment.metadata["position"] < below
        ]
        return segments if below is None else newest_versions(segments)

    def fetch(self, ids: Sequence[str]) -> list[StoredRecord]:
        """Whole records (with vectors) of the given record ids that exist."""
        records = []
        for namespace, group in _by_namespace(ids).items():
            for start in range(0, len(group), PAGE):
                page = group[start : start + PAGE]
                result = self._call(
                    namespace,
                    lambda c, page=page: c.get(ids=page, include=["documents", "metadatas", "embeddings"]),
                    default=EMPTY_GET,
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
        where = {"message_id": {"$in": list(message_ids)}}
        return list(self._call(namespace, lambda c: c.get(where=where, include=[])["ids"], default=[]))

    def _ids(self, namespace: str, below: int | None = None) -> list[str]:
        where = self._where([], below)
        return list(self._call(namespace, lambda c: c.get(where=where, include=[])["ids"], default=[]))

    def unsearchable(self, namespace: str) -> list[str]:
        """Record ids of the namespace that its vector index does not return (damage that two processes working on
        one embedded directory could cause before evomem locked it); sorted."""
        stored = self._ids(namespace)
        if not stored:
            return []

        def search(collection: Any) -> list[str]:
            probe = [[1.0] * int(collection.metadata["dim"])]
            return collection.query(query_embeddings=probe, n_results=len(stored), include=[])["ids"][0]

        return sorted(set(stored) - set(self._call(namespace, search, default=[])))

    def lexically_unindexed(self, namespace: str, below: int) -> list[str]:
        """Record ids below ``below`` that one index holds and the other does not (the vector store's committed
        records against the lexical index's rows); sorted. ``EvoMemory.rebuild`` re-indexes from the stored text."""
        if self.lexical is None:
            return []
        stored = set(self._ids(namespace, below))
        indexed = {record_id(namespace, position) for position in self.lexical.positions(namespace, below)}
        return sorted(stored ^ indexed)

    def count(self, namespace: str, below: int | None = None) -> int:
        if below is None:
            return self._call(namespace, lambda c: c.count(), default=0)
        return len(self._ids(namespace, below))

    def has_records(self, namespace: str) -> bool:
        """Whether the namespace has any record, committed or not."""
        return self.count(namespace) > 0

    def collections(self) -> dict[str, Any]:
        """Namespace -> collection of every namespace of this model that has one."""
        with self.connection.using() as client:
            listed = client.list_collections()
        found = {}
        for collection in listed:
            metadata = collection.metadata or {}
            namespace = metadata.get("namespace")
            if (
                isinstance(namespace, str)
                and metadata.get("evomem_fingerprint") == self.fingerprint
                and collection.name == self.name(namespace)
            ):
                found[namespace] = collection
        return found

    def total(self) -> int:
        """Records of every namespace of this model."""
        return sum(self.count(namespace) for namespace in self.collections())

    def namespaces(self) -> list[str]:
        """Every namespace with at least one record."""
        return sorted(namespace for namespace in self.collections() if self.count(namespace))

    # ----- the first layout -----------------------------------------------------------------------------------

    def legacy_records(self) -> int:
        """Records left in the model's one collection of evomem's first layout (0 when it has none)."""
        from chromadb.errors import NotFoundError

        with self.connection.using() as client:
            try:
                return client.get_collection(collection_name(self.fingerprint), embedding_function=None).count()
            except NotFoundError:
                return 0

    def migrate_legacy(self, show_progress: bool = False) -> int:
        """Copy every record of the first layout's collection into its namespace's collection, then delete it;
        returns the records copied. Copies are upserts by record id, so a migration killed midway runs again.
        Call with the writer lock of every namespace held."""
        from chromadb.errors import NotFoundError
        from tqdm.auto import tqdm

        name = collection_name(self.fingerprint)
        with self.connection.using() as client:
            try:
                legacy = client.get_collection(name, embedding_function=None)
            except NotFoundError:
                return 0
            total = legacy.count()
            self.dim = self.dim or int((legacy.metadata or {}).get("dim") or 0) or None
        copied = 0
        with tqdm(total=total, desc="evomem: one collection per namespace", disable=not show_progress) as bar:
            while copied < total:
                with self.connection.using() as client:
                    page = client.get_collection(name, embedding_function=None).get(
                        include=["documents", "metadatas", "embeddings"], limit=PAGE, offset=copied
                    )
                if not page["ids"]:
                    break
                for namespace, rows in _rows_by_namespace(page["metadatas"]).items():
                    self._write(
                        namespace,
                        *([page[key][i] for i in rows] for key in ("ids", "embeddings", "documents", "metadatas")),
                    )
                copied += len(page["ids"])
                bar.update(len(page["ids"]))
        with self.connection.using(writing=True) as client:
            client.delete_collection(name)
        return copied


def _rows_by_namespace(metadatas: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """Indexes of records grouped by their metadata's namespace."""
    rows: dict[str, list[int]] = {}
    for index, meta in enumerate(metadatas):
        rows.setdefault(str(meta["namespace"]), []).append(index)
    return rows


def _by_namespace(ids: Sequence[str]) -> dict[str, list[str]]:
    """Record ids grouped by the namespace that their id names (``record_id``)."""
    groups: dict[str, list[str]] = {}
    for rid in ids:
        groups.setdefault(_namespace_of(rid), []).append(rid)
    return groups


def evomem_collections(connection: ChromaConnection | Any) -> dict[str, int]:
    """Fingerprint -> record count of every evomem model reachable through a client (its namespaces' collections,
    and the one collection of the first layout)."""
    if not isinstance(connection, ChromaConnection):
        connection = ChromaConnection(client=connection)
    found: dict[str, int] = {}
    with connection.using() as client:
        for collection in client.list_collections():
            metadata = collection.metadata or {}
            fingerprint, namespace = metadata.get("evomem_fingerprint"), metadata.get("namespace")
            try:
                expected = collection_name(str(fingerprint), namespace if isinstance(namespace, str) else None)
            except ValueError:  # not a collection of evomem's
                continue
            if collection.name == expected:
                assert fingerprint is not None  # collection_name refused "None"
                found[fingerprint] = found.get(fingerprint, 0) + collection.count()
    return found
