"""EvoMemory: the public facade. Messages in, evolvable-embedding search out, per namespace."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

import torch
from tqdm.auto import tqdm
from typing_extensions import Unpack

from .calibration import Reference, relevance
from .connection import ChromaConnection, embedded_connection
from .encoder import EvoEncoder
from .errors import MemoryClosedError, OtherModelWarning, StoreCorruptedError, StoreNotFoundError
from .journal import Journal, JournalError
from .lexical import LexicalIndex
from .loading import load_encoder
from .locks import FileWriterLock
from .queue import LatentQueue
from .ranking import (
    DEFAULT_K,
    FUSION_DEPTH,
    Candidate,
    Fetched,
    fuse,
    widen,
)
from .schema import (
    AddResult,
    ChannelScores,
    DeleteResult,
    Hit,
    HitMetadata,
    Message,
    SearchOptions,
    Segment,
    check_flag,
    check_ids,
    check_ids_to_delete,
    check_k,
    check_listed_namespace,
    check_metadata,
    check_namespace,
    check_page,
    check_text,
    check_texts,
    parse_timestamp,
    search_options,
    to_messages,
)
from .serial import SerialWorker, in_thread
from .space import MARGIN_BYTES, batch_bytes, require_free_space
from .state import StateDirectory, models_with_states
from .store import SegmentStore, StoredSegment, record_id, user_metadata
from .stream import encode_stream
from .writer import EncodedBatch, NamespaceWriter, WriteState

if TYPE_CHECKING:
    from .repair import RepairReport

logger = logging.getLogger("evomem")
# the lexical half of hybrid searches, run beside their vector half (threads are made as searches need them)
_BESIDE = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="evomem-lexical")
P = ParamSpec("P")
R = TypeVar("R")


def _open_only(method: Callable[Concatenate[EvoMemory, P], R]) -> Callable[Concatenate[EvoMemory, P], R]:
    """A public method that refuses to run on a closed ``EvoMemory``."""

    @functools.wraps(method)
    def run(self: EvoMemory, *args: P.args, **kwargs: P.kwargs) -> R:
        self._check_open()
        return method(self, *args, **kwargs)

    return run


@dataclass(frozen=True)
class StreamReadAgain:
    """A namespace's stored segments read again in stream order from an empty memory."""

    memory: LatentQueue  # the latent memory after the last segment
    vectors: dict[str, torch.Tensor]  # the vector of each record id


def _part(segment: StoredSegment) -> int:
    return segment.metadata["part"]


def _stream_order(segment: StoredSegment) -> tuple[int, int]:
    return segment.metadata["position"], segment.metadata["part"]


def _channels(mode: str, candidate: Candidate) -> ChannelScores:
    """What each ranking said of a candidate of ``mode``."""
    if candidate.channels is not None:
        return candidate.channels
    return ChannelScores(evolvable=candidate.score) if mode == "evolvable" else ChannelScores(lexical=candidate.score)


def _reference(evolvable: list[Candidate], lexical: list[Candidate], depth: int) -> Reference:
    """What a query's rankings returned, for ``evomem.calibration``: each one's best score, and what a fused hit
    that one of them did not place could have scored there at most: the ranking's lowest score when it returned
    ``depth`` candidates; a lexical ranking that returned fewer holds every message sharing a word with the
    query, so the others score 0."""
    top = ChannelScores(
        evolvable=max((c.score for c in evolvable), default=None),
        lexical=max((c.score for c in lexical), default=None),
    )
    lowest_cosine = min((c.score for c in evolvable), default=None)
    lowest_bm25 = min((c.score for c in lexical), default=0.0) if len(lexical) >= depth else 0.0
    return Reference(top, ChannelScores(evolvable=lowest_cosine, lexical=lowest_bm25))


def is_store(path: Path) -> bool:
    """Whether ``path`` holds an evomem store (its memory states, or an embedded Chroma database)."""
    return (path / "state").is_dir() or (path / "chroma").is_dir()


class EvoMemory:
    """Long-term memory over conversations and documents, searched with evolvable embeddings.

    Every namespace is read as one ordered stream: its latent memory evolves with each segment written, and a
    query is encoded with the namespace's current memory.

    Writes are durable and atomic per batch: ``add_messages``/``add_text`` return once the segments and the
    evolved memory are on disk, and a writer killed at any moment leaves each batch wholly present or wholly absent
    (see ``evomem.writer``). Writers on one path are serialised across threads and processes; readers never wait
    for a writer's encoding (only for a Chroma call in progress) and only see committed batches.

    Args:
        path: directory for the embedded Chroma store and the memory states.
        model: ``None`` for the embedded default, a directory (an evomem model or a plain Hugging Face
            backbone), or an ``EvoEncoder``.
        segment_batching: pack consecutive segments into one memory pass (faster, as in the paper).
        chroma_host, chroma_port: use a Chroma server (``chroma run``) instead of the embedded store.
        state_url: a PostgreSQL URL (``postgresql://user@host/db``): keep the memory states, the journal and the
            writer locks there instead of under ``path``, so that evomem processes on several machines can share
            one Chroma server and write the same namespaces (``evomem.postgres``). Needs a Chroma server.
        client: a ready Chroma client (overrides the two above). An embedded ``PersistentClient`` passed here is
            not re-opened when other processes write; prefer ``path`` for embedded stores.
        show_progress: progress bars while ingesting.
        create: make the store when ``path`` holds none (the default); ``False`` opens an existing store only and
            raises ``StoreNotFoundError`` (a ``FileNotFoundError``) without creating anything, as reads should.
    """

    def __init__(
        self,
        path: str | Path = "./evomem-data",
        model: str | Path | EvoEncoder | None = None,
        segment_batching: bool = True,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        client: Any = None,
        show_progress: bool = False,
        state_url: str | None = None,
        create: bool = True,
    ):
        if not isinstance(path, str | Path):
            raise TypeError(f"path must be a string or a Path, got {type(path).__name__}")
        self.path = Path(path).expanduser()
        if not create and not is_store(self.path) and not self.path.is_file():  # a file: the error below
            raise StoreNotFoundError(f"no evomem store at {self.path}: check the path (nothing was created there)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            file = next(p for p in (self.path, *self.path.parents) if p.exists() and not p.is_dir())
            raise ValueError(f"path {self.path} cannot be a directory: {file} is a file; pass a directory") from None
        self.encoder = load_encoder(model)
        self.fingerprint = self.encoder.fingerprint()
        if client is not None:
            from chromadb.api import ClientAPI

            if not isinstance(client, ClientAPI):
                kind = type(client).__name__
                raise TypeError(f"client must be a Chroma client (chromadb.PersistentClient or HttpClient), got {kind}")
            connection = ChromaConnection(client=client)
        elif chroma_host:
            import chromadb

            connection = ChromaConnection(client=chromadb.HttpClient(host=chroma_host, port=chroma_port), owned=True)
        else:
            connection = embedded_connection(self.path / "chroma")
        state = self._write_state(state_url, connection)
        self.states, self.journal = state.states, state.journal
        self.store = self._open_store(connection)
        self.writer = NamespaceWriter(self.path, self.store, state, self._encoded)  # every write goes through it
        self.segment_batching = segment_batching
        self.show_progress = show_progress
        self.segmenter = self.encoder.segmenter()
        self._closed = False
        self._writes = SerialWorker("evomem-write")  # the thread of the async writes
        if self.store.legacy_records():  # a store of evomem's first layout: one collection per namespace now
            with self.writer.writing(None):
                self.store.migrate_legacy(show_progress)
        self.writer.reconcile_if_idle()
        self._warn_if_written_by_other_models()

    def _warn_if_written_by_other_models(self) -> None:
        """A store written only by other models (an earlier default, say) looks empty to this one: say so."""
        models = models_with_states(self.path)
        if models and self.fingerprint not in models:
            listed = ", ".join(sorted(models))
            warnings.warn(
                f"the store at {self.path} holds data of other models only (fingerprints {listed}; an earlier "
                f"evomem default, say), none of this model ({self.fingerprint}), so its searches find none of it. "
                "Re-encode it with this model: `evomem reembed` (EvoMemory(...).reembed()), or open it with the "
                "model that wrote it.",
                OtherModelWarning,
                stacklevel=3,
            )

    @property
    def recovered(self) -> list[str]:
        """What reconciling interrupted writes did, one line each."""
        return self.writer.recovered

    # ----- life cycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for async writes in flight, then release the Chroma client (the embedded store's, once no other
        ``EvoMemory`` of this process uses it; a client passed in stays open) and the worker thread. Any later
        call raises ``MemoryClosedError``. Closing twice is harmless."""
        with self.writer.thread_lock:
            if self._closed:
                return
            self._closed = True
        self._writes.shutdown()
        self.store.connection.release()
        self.states.close()

    def __enter__(self) -> EvoMemory:
        self._check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise MemoryClosedError(f"this EvoMemory ({self.path}) is closed; open a new EvoMemory to use the store")

    def _write_state(self, state_url: str | None, connection: ChromaConnection) -> WriteState:
        """Where the memory states, the journal and the writer lock live: files under ``path``, or PostgreSQL."""
        if state_url is None:
            states = StateDirectory(self.path, self.fingerprint)
            return WriteState(states, Journal(states), FileWriterLock(self.path / "writer.lock"))
        if not isinstance(state_url, str):
            raise TypeError(f"state_url must be a PostgreSQL URL string, got {type(state_url).__name__}")
        if connection.embedded:
            raise ValueError(
                "state_url shares memory states between machines, but the vectors would stay in this machine's "
                "embedded Chroma store: pass chroma_host (a `chroma run` server) or a Chroma HttpClient too"
            )
        from .postgres import connect

        return connect(state_url, self.fingerprint, self.path / "state" / self.fingerprint)

    def _open_store(self, connection: ChromaConnection) -> SegmentStore:
        """This model's collection; an embedded database that SQLite cannot read is a ``StoreCorruptedError``."""
        from chromadb.errors import InternalError

        lexical = LexicalIndex(self.states.directory)
        store = SegmentStore(connection, self.fingerprint, self.encoder.dim, lexical=lexical)
        try:
            store.legacy_records()  # reads the database
            return store
        except InternalError as error:
            if not connection.embedded:
                raise
            raise StoreCorruptedError(
                f"the Chroma database {connection.directory / 'chroma.sqlite3'} cannot be read ({error}); restore "
                f"{connection.directory} from a backup, or move it aside, with {self.path / 'state'}, and ingest again"
            ) from None

    # ----- writing ------------------------------------------------------------------------------------------

    @_open_only
    def add_messages(self, messages: Iterable[Any], namespace: str, idempotent: bool = False) -> AddResult:
        """Append chat messages to a namespace's stream; returns their ids once stored durably (an ``AddResult``:
        the list of ids, whose ``unchanged`` are those already stored as sent, skipped, and ``stored`` the rest).

        A message is a dict with ``content`` and optionally ``role`` (default ``user``), ``name``, ``id``,
        ``timestamp`` (ISO 8601 or epoch seconds) and ``metadata`` (flat scalars). It is stored as
        ``"{name}: {content}"`` (the role when there is no name); a message over the segment limit is split into parts
        that keep its id. Any other key is refused.
        The batch is atomic: after a crash it is either wholly stored (segments and memory) or not at all.

        A message without ``id`` gets one derived from the namespace, its place in the stream and its content, so
        every call stores its messages anew. With ``idempotent=True`` the id derives from the content, role, name,
        timestamp and place in this batch instead: sending the same batch again stores nothing new (a re-run
        script, a retried request), while identical turns inside one batch stay two messages.
        """
        namespace = check_namespace(namespace)
        check_flag(idempotent, "idempotent")
        batch = to_messages(messages)
        parts = [self.segmenter.split_message(message) for message in batch]
        with self.writer.writing(namespace):
            queue = self._queue(namespace)
            entries = []
            ids = []
            for offset, (message, texts) in enumerate(zip(batch, parts, strict=True)):
                message_id = message.id or (
                    _content_id(namespace, offset, message)
                    if idempotent
                    else self._generated_id(namespace, queue.step + offset, message.content)
                )
                ids.append(message_id)
                for part, text in enumerate(texts):
                    entries.append(Segment(message_id, part, text, self._message_metadata(message)))
            unchanged = self._unchanged(namespace, queue.step, entries)
            self.writer.add(namespace, queue, [entry for entry in entries if entry.id not in unchanged])
        return AddResult(ids, unchanged)

    @_open_only
    def add_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]:
        """Append a document, split by paragraphs and sentences; returns one id per chunk (``{doc_id}-{i}``).

        Adding a ``doc_id`` again replaces the document: its chunks are written anew (those unchanged are kept as
        they are) and its old chunks past the new ones are deleted. Without ``doc_id`` one is derived from the
        namespace and the text, so adding the same text again changes nothing.
        """
        namespace = check_namespace(namespace)
        check_text(text, "text")
        extra = check_metadata(metadata)
        if doc_id is not None:
            check_text(doc_id, "doc_id")
            check_ids([doc_id])
        doc_id = doc_id or hashlib.sha1(f"{namespace}\0document\0{text}".encode()).hexdigest()[:16]
        chunks = self.segmenter.split_document(text)
        entries = [
            Segment(f"{doc_id}-{i}", 0, chunk, {"role": "document", "kind": "document", "doc_id": doc_id, **extra})
            for i, chunk in enumerate(chunks)
        ]
        check_ids([entry.id for entry in entries])
        with self.writer.writing(namespace):
            queue = self._queue(namespace)
            unchanged = self._unchanged(namespace, queue.step, entries)
            self.writer.add(namespace, queue, [entry for entry in entries if entry.id not in unchanged])
            new = {entry.id for entry in entries}
            stale = [s.metadata["message_id"] for s in self.store.documents(namespace, doc_id, queue.step)]
            stale = sorted({message_id for message_id in stale if message_id not in new})
            if stale:
                self.writer.delete(namespace, stale)
        return [entry.id for entry in entries]

    def _encoded(self, namespace: str, queue: LatentQueue, entries: Sequence[Segment]) -> EncodedBatch:
        """The writer's encoding step: the segments encoded in order, evolving ``queue``. The disk is checked first,
        so a write that cannot fit fails before the encoding."""
        texts = [entry.text for entry in entries]
        needed = batch_bytes(len(entries), self.encoder.dim, sum(len(text.encode()) for text in texts))
        if not self.store.connection.embedded:
            needed = MARGIN_BYTES  # a Chroma server keeps the vectors on its own disk
        require_free_space(self.path, needed)
        vectors = self._encode(queue, texts, f"ingest {namespace}", self.show_progress)
        return EncodedBatch(namespace, entries, vectors, queue, needed)

    def _encode(self, queue: LatentQueue, texts: list[str], task: str, show: bool) -> torch.Tensor:
        """The vectors of ``texts`` read in order as the stream after ``queue``, which evolves over them."""
        token_ids = self.encoder.tokenize(texts)
        with (
            torch.inference_mode(),
            tqdm(total=len(texts), desc=task, unit="seg", disable=not show) as bar,
        ):
            return encode_stream(self.encoder, queue, token_ids, self.segment_batching, bar.update)

    @_open_only
    def rebuild(self, namespace: str | None = None, show_progress: bool | None = None) -> dict[str, int]:
        """Rebuild memory states from the stored text, e.g. after a state file was damaged.

        The namespace's stored segments are read again in stream order and the latent memory is evolved over them
        from empty; the stored vectors are kept. With ``namespace=None`` every namespace with stored segments is
        rebuilt. Returns the new memory step of each namespace.
        """
        if namespace is not None:
            namespace = check_namespace(namespace)
        show = self.show_progress if show_progress is None else show_progress
        steps, failed = {}, []
        with self.writer.writing(None):
            for name in [namespace] if namespace is not None else self.store.namespaces():
                try:
                    steps[name] = self._rebuild(name, show)
                except JournalError as error:  # a damaged journal stops its own namespace only
                    if namespace is not None:
                        raise
                    failed.append(str(error))
        if failed:
            raise JournalError(f"rebuilt {sorted(steps)}, but not {len(failed)} namespace(s): {'; '.join(failed)}")
        return steps

    def _rebuild(self, name: str, show: bool) -> int:
        """Rebuild one namespace's memory state (writer lock held); returns its new step."""
        self.writer.reconcile(name, undo_if_unreadable=True)
        stored = self.store.get(name)
        queue = self.read_again(name, stored, show, "rebuild").memory if stored else None
        self.writer.replace_memory(name, queue)
        return 0 if queue is None else queue.step

    @_open_only
    def read_again(
        self, name: str, stored: list[StoredSegment], show_progress: bool | None = None, task: str = "read again"
    ) -> StreamReadAgain:
        """Encode a namespace's stored segments (``store.get``) again in stream order from an empty memory, as
        ``rebuild`` and ``repair`` do (``task`` labels the progress bar); nothing is written."""
        show = self.show_progress if show_progress is None else show_progress
        stored = sorted(stored, key=_stream_order)
        positions = {int(s.metadata["position"]) for s in stored}
        if len(positions) < len(stored):
            raise ValueError(
                f"namespace {name!r} holds {len(stored)} segments at only {len(positions)} stream positions: "
                "some were written after its memory state was lost, so their order is unknown; delete the "
                "namespace and ingest its messages again"
            )
        queue = LatentQueue(*self._queue_shape(), step=max(positions) + 1 - len(stored))
        vectors = self._encode(queue, [s.text for s in stored], f"{task} {name}", show)
        return StreamReadAgain(queue, {s.record_id: vector for s, vector in zip(stored, vectors, strict=True)})

    @_open_only
    def repair(self, show_progress: bool | None = None) -> RepairReport:
        """Rebuild this model's collection when vector search misses stored records; see ``evomem.repair``."""
        from .repair import repair

        return repair(self, self.show_progress if show_progress is None else show_progress)

    @_open_only
    def reembed(self, source: str | None = None, **options: Any) -> dict[str, int]:
        """Migrate a store written by another model into this one, from the stored text; see ``evomem.reembed``."""
        from .reembed import reembed

        if not isinstance(self.states, StateDirectory):
            raise ValueError(
                "reembed does not support memory states in a state database (state_url) yet: ingest the "
                "namespaces again with the new model"
            )
        return reembed(self, source, **options)

    # ----- reading ------------------------------------------------------------------------------------------

    @_open_only
    def search(self, query: str, namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]) -> list[Hit]:
        """The ``k`` best messages for ``query``; at most one hit per message (its best part), best first.

        ``mode``: ``"evolvable"`` ranks by the evolvable embeddings, read with the namespace's current memory
        (``score``: cosine similarity); ``"lexical"`` by BM25 over the words of the stored text (``score``: BM25);
        ``"hybrid"`` (the default) fuses both rankings by reciprocal-rank fusion, ``lexical_weight`` (0 to 1,
        default 0.1) giving the lexical ranking's share. In every mode ``score`` is a calibrated relevance from 0 to
        1, comparable across queries and namespaces (``evomem.calibration``), and ``scores`` holds the rankings' raw
        scores (cosine, BM25, fused); ``min_score`` leaves out the hits scored below it (0, the default, keeps all).
        ``where`` is a Chroma filter on metadata; ``time_range`` is ``(start, end)``, either end may be None,
        matched against a message's ``timestamp``, or its write time (``created_at``) when it had none; every mode
        honours both.

        Turns the caller should not get back are left out inside the search, so ``k`` hits still come back when
        the namespace has them: ``exclude_roles`` (e.g. ``["assistant"]``) by role, ``exclude_latest`` the
        namespace's latest n messages (those a chat prompt already shows, the question being asked among them).
        """
        check_text(query, "query")
        return self.search_many([query], namespace, k, **options)[0]

    @_open_only
    def search_many(
        self, queries: Sequence[str], namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]
    ) -> list[list[Hit]]:
        """``search`` for each of ``queries`` in one call: one list of hits per query, in order, each as
        ``search`` would return it. The queries are encoded in one batch, with the same memory."""
        queries = check_texts(queries)
        for query in queries:
            check_text(query, "query")
        namespace = check_namespace(namespace)
        check_k(k)
        checked = search_options(options)
        mode, lexical_weight, exclude_latest = checked["mode"], checked["lexical_weight"], checked["exclude_latest"]
        min_score = checked["min_score"]
        filters = self._filters(checked["where"], checked["time_range"])
        if checked["exclude_roles"]:
            filters.append({"role": {"$nin": checked["exclude_roles"]}})
        queue = self._queue(namespace)
        if queue.step == 0 or not queries:
            return [[] for _ in queries]
        hidden = self.journal.superseded(namespace, queue.step)  # old parts of messages added again, until deleted
        if mode != "evolvable":
            self.writer.index_lexically(namespace, queue.step)
        below = queue.step
        if exclude_latest:
            below = self.store.latest_messages_start(namespace, exclude_latest, queue.step, hidden)
        if below == 0:
            return [[] for _ in queries]
        depth = max(k, FUSION_DEPTH) if mode == "hybrid" else k

        def lexical_rankings() -> list[list[Candidate]]:
            return [self._lexical(query, namespace, below, depth, filters, hidden) for query in queries]

        if mode == "lexical":
            rankings = lexical_rankings()
            references = [_reference([], found, depth) for found in rankings]
        else:
            # BM25 (SQLite, which lets go of the GIL) runs in a thread while the queries are encoded and searched
            lexical = _BESIDE.submit(lexical_rankings) if mode == "hybrid" else None
            with torch.inference_mode():
                vectors = self.encoder.encode_queries(queue, queries)
            rankings = [self._evolvable(vector, namespace, below, depth, filters, hidden) for vector in vectors]
            references = [_reference(found, [], depth) for found in rankings]
            if lexical is not None:
                pairs = list(zip(rankings, lexical.result(), strict=True))
                references = [_reference(evolvable, words, depth) for evolvable, words in pairs]
                rankings = [fuse(evolvable, words, lexical_weight, k) for evolvable, words in pairs]
        stored = {c.record_id: c.segment for found in rankings for c in found if c.segment is not None}
        unread = {c.record_id for found in rankings for c in found} - stored.keys()  # lexical-only hits
        stored |= self.store.segments(list(unread))
        # a segment that a writer deleted meanwhile is left out
        hits = [
            [_hit(mode, c, stored[c.record_id], reference) for c in found if c.record_id in stored]
            for found, reference in zip(rankings, references, strict=True)
        ]
        # a fused ranking's k best, best first by calibrated relevance (one channel's order is already that)
        return [sorted((hit for hit in found if hit.score >= min_score), key=_by_score) for found in hits]

    def _evolvable(
        self,
        vector: torch.Tensor,
        namespace: str,
        below: int,
        k: int,
        filters: list[dict[str, Any]],
        hidden: frozenset[str],
    ) -> list[Candidate]:
        def fetch(n: int) -> Fetched:
            found = self.store.query(vector, namespace, n, filters, below=below)
            return Fetched([c for c in found if c.record_id not in hidden], len(found) < n)

        # every committed segment took one memory step, so positions below ``below`` hold at most that many
        with _filter_errors(filters):
            return widen(fetch, k, below)

    def _lexical(
        self, query: str, namespace: str, below: int, k: int, filters: list[dict[str, Any]], hidden: frozenset[str]
    ) -> list[Candidate]:
        def fetch(n: int) -> Fetched:
            found, matched = self.store.lexical_query(query, namespace, n, filters, below=below)
            candidates = [Candidate(record_id(namespace, m.position), m.message_id, m.score) for m in found]
            return Fetched([c for c in candidates if c.record_id not in hidden], matched < n)

        with _filter_errors(filters):
            return widen(fetch, k, below)

    @_open_only
    def get(
        self,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Segment]:
        """Stored segments, in stream order: of the given message ids, or (``ids`` None) of every message, paged
        by ``offset`` and ``limit`` counted in messages (a message's parts are never split between pages). An
        unknown namespace holds nothing: ``[]``."""
        namespace = check_listed_namespace(namespace)
        ids = check_ids(ids)
        limit, offset = check_page(limit, offset)
        step = self.states.step(namespace)
        if step == 0:
            self._check_state_not_lost(namespace)
            return []
        stored = sorted(self.store.get(namespace, ids, below=step), key=_stream_order)
        if limit is not None or offset:
            messages = list(dict.fromkeys(s.metadata["message_id"] for s in stored))
            page = set(messages[offset : None if limit is None else offset + limit])
            stored = [s for s in stored if s.metadata["message_id"] in page]
        return [Segment(s.metadata["message_id"], s.metadata["part"], s.text, s.metadata) for s in stored]

    @_open_only
    def delete(self, namespace: str, ids: Sequence[str] | None = None) -> DeleteResult:
        """Delete messages by id; returns what was deleted. ``ids`` is required (None is refused): a whole namespace
        is deleted by ``delete_namespace`` only, so a missing or misspelt argument never empties one.

        Deleting single messages leaves the latent memory as it is: what they wrote into it (and into the latents
        written after them) stays until the namespace is rebuilt from its stored text (``rebuild(namespace)``,
        ``evomem reembed --rebuild``). An unknown namespace or id deletes nothing and is reported as such.
        """
        return self._delete(check_namespace(namespace), check_ids_to_delete(ids))

    @_open_only
    def delete_namespace(self, namespace: str) -> DeleteResult:
        """Delete a whole namespace: every message and its memory state; returns what was deleted (``existed``
        False for a namespace that held nothing)."""
        return self._delete(check_namespace(namespace), None)

    def _delete(self, namespace: str, ids: list[str] | None) -> DeleteResult:
        with self.writer.writing(namespace):
            found = self.store.get(namespace, ids)
            found_ids = {s.metadata["message_id"] for s in found}
            existed = bool(found) or self.states.has(namespace)
            if found or (ids is None and existed):
                self.writer.delete(namespace, ids)
        missing = [message_id for message_id in ids or [] if message_id not in found_ids]
        return DeleteResult(namespace, existed, len(found_ids), len(found), missing)

    @_open_only
    def namespaces(self) -> list[str]:
        return self.states.namespaces()

    @_open_only
    def stats(self, namespace: str) -> dict[str, Any]:
        namespace = check_namespace(namespace)
        queue = self._queue(namespace)
        stored = self.store.get(namespace, below=queue.step) if queue.step else []
        return {
            "namespace": namespace,
            "segments": len(stored),
            "messages": len({s.metadata["message_id"] for s in stored}),
            "memory_step": queue.step,
            "memory_latents": len(queue),
            "memory_capacity": queue.capacity,
            "fingerprint": self.fingerprint,
        }

    @_open_only
    def check(self, namespace: str | None = None) -> dict[str, list[str]]:
        """Records that vector search cannot return, or that the lexical index and the vector store do not both
        hold, per namespace (every namespace with records when None).

        An empty list everywhere means every stored segment is reachable by search in every mode. The stored text of
        such records is intact (``get`` returns them): ``repair()`` makes them searchable by vector again, and
        ``rebuild`` re-indexes them lexically.
        """
        names = [check_namespace(namespace)] if namespace is not None else self.store.namespaces()
        report = {}
        for name in names:
            step = self.states.step(name)
            report[name] = sorted({*self.store.unsearchable(name), *self.store.lexically_unindexed(name, step)})
        return report

    # ----- async -------------------------------------------------------------------------------------------

    aadd_messages = in_thread(add_messages, writes=True)
    aadd_text = in_thread(add_text, writes=True)
    adelete = in_thread(delete, writes=True)
    adelete_namespace = in_thread(delete_namespace, writes=True)
    arebuild = in_thread(rebuild, writes=True)
    arepair = in_thread(repair, writes=True)
    areembed = in_thread(reembed, writes=True)
    asearch = in_thread(search)
    asearch_many = in_thread(search_many)
    aget = in_thread(get)
    anamespaces = in_thread(namespaces)
    astats = in_thread(stats)
    acheck = in_thread(check)

    # ----- helpers --------------------------------------------------------------------------------------------

    def _queue(self, namespace: str) -> LatentQueue:
        """The namespace's committed memory (empty for a new namespace; never for one whose state was lost)."""
        queue = self.states.load(namespace, *self._queue_shape())
        if queue.step == 0:
            self._check_state_not_lost(namespace)
        return queue

    def _check_state_not_lost(self, namespace: str) -> None:
        """Raise ``StateMissingError`` when a namespace without a memory state holds segments.

        Only called at step 0, so a namespace with a state pays nothing. Checked in this order: records, then a
        first batch in flight (its journal), then the state again (that batch may have committed meanwhile).
        """
        if self.store.has_records(namespace) and not self.journal.has(namespace) and not self.states.has(namespace):
            raise self.states.missing(namespace)

    def _unchanged(self, namespace: str, step: int, entries: list[Segment]) -> set[str]:
        """The ids of messages stored already with the same parts and metadata, to skip: a client that retries a
        write (after a timeout or a crash) does not read the same turns into the memory twice."""
        if step == 0:
            return set()
        stored: dict[str, list[tuple]] = defaultdict(list)
        for s in sorted(self.store.get(namespace, list({e.id: None for e in entries}), below=step), key=_part):
            stored[s.metadata["message_id"]].append((s.text, user_metadata(s.metadata)))
        new: dict[str, list[tuple]] = defaultdict(list)
        for entry in entries:
            new[entry.id].append((entry.text, entry.metadata))
        unchanged = {message_id for message_id, parts in new.items() if stored.get(message_id) == parts}
        if unchanged:
            logger.info("namespace %s: %d messages already stored unchanged, skipped", namespace, len(unchanged))
        return unchanged

    def _queue_shape(self) -> tuple[int, int, int]:
        return self.encoder.queue_shape

    @staticmethod
    def _generated_id(namespace: str, position: int, content: str) -> str:
        return hashlib.sha1(f"{namespace}\0{position}\0{content}".encode()).hexdigest()[:16]

    @staticmethod
    def _message_metadata(message: Message) -> dict[str, Any]:
        metadata: dict[str, Any] = {**message.metadata, "role": message.role, "kind": "message"}
        if message.name is not None:
            metadata["name"] = message.name
        if message.timestamp is not None:
            metadata["timestamp"] = message.timestamp
        return metadata

    @staticmethod
    def _filters(where: dict[str, Any] | None, time_range: tuple[Any, Any] | None) -> list[dict[str, Any]]:
        filters = []
        if where is not None:
            if not isinstance(where, dict) or not where:
                raise TypeError("where must be a non-empty dict of Chroma metadata filters")
            from chromadb.api.types import validate_where

            try:
                validate_where(where)
            except (TypeError, ValueError) as error:
                raise ValueError(f"invalid where filter {where!r}: {error}") from None
            filters.append(where)
        if time_range is not None:
            if not isinstance(time_range, tuple | list) or len(time_range) != 2:
                raise TypeError("time_range must be a (start, end) pair")
            start, end = (parse_timestamp(value) for value in time_range)
            if start is not None and end is not None and start > end:
                raise ValueError(f"time_range starts after it ends: {time_range!r}")
            if start is not None or end is not None:
                filters.append({"$or": [_within(key, start, end) for key in ("time", "timestamp")]})
        return filters


def _within(key: str, start: float | None, end: float | None) -> dict[str, Any]:
    """The Chroma filter of a metadata time between ``start`` and ``end`` (either may be None). ``time`` is
    every segment's time since 0.2 (its ``timestamp``, else its ``created_at``); earlier segments have only the
    ``timestamp`` they were given."""
    bounds = [{key: {"$gte": start}}] * (start is not None) + [{key: {"$lte": end}}] * (end is not None)
    return bounds[0] if len(bounds) == 1 else {"$and": bounds}


def _by_score(hit: Hit) -> float:
    return -hit.score


def _hit(mode: str, candidate: Candidate, segment: StoredSegment, reference: Reference) -> Hit:
    """A search's hit: the candidate's message, scored by its calibrated relevance."""
    channels = _channels(mode, candidate)
    metadata = cast(HitMetadata, segment.metadata)
    return Hit(candidate.message_id, segment.text, relevance(mode, channels, reference), metadata, channels)


def _content_id(namespace: str, offset: int, message: Message) -> str:
    """An idempotent write's message id: the same message at the same place in a batch has the same id."""
    fields = [namespace, str(offset), message.role, message.name or "", repr(message.timestamp), message.content]
    return hashlib.sha1("\0".join(fields).encode()).hexdigest()[:16]


@contextmanager
def _filter_errors(filters: list[dict[str, Any]]) -> Iterator[None]:
    """A filter that Chroma rejects is the caller's ``ValueError``."""
    try:
        yield
    except Exception as error:
        if filters and type(error).__name__ == "InvalidArgumentError":
            raise ValueError(f"Chroma rejected the filter {filters!r}: {error}") from None
        raise
