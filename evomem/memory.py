"""EvoMemory: the public facade. Messages in, evolvable-embedding search out, per namespace."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from typing_extensions import Unpack

from .errors import (
    InvalidInputError,
    InvalidTypeError,
    MemoryClosedError,
    OtherModelWarning,
    StoreCorruptedError,
    StoreNotFoundError,
    StoreUpgradedError,
)
from .maintenance.check import CheckReport, diagnose
from .maintenance.workspace import Workspace, stream_order
from .model.encoder import EvoEncoder
from .model.loading import DEFAULT_WEIGHTS, load_encoder
from .model.queue import LatentQueue
from .model.stream import encode_texts
from .schema import (
    DEFAULT_K,
    DEFAULT_MAX_MESSAGE_CHARS,
    AddResult,
    DeleteResult,
    Hit,
    Message,
    SearchOptions,
    Segment,
    StoredSegment,
    check_flag,
    check_ids,
    check_ids_to_delete,
    check_k,
    check_listed_namespace,
    check_max_chars,
    check_metadata,
    check_namespace,
    check_page,
    check_text,
    check_texts,
    search_options,
    to_messages,
)
from .search.searcher import Searcher, search_filters
from .serial import SerialWorker, in_thread
from .storage.connection import ChromaConnection, embedded_connection
from .storage.journal import Journal, JournalError, WriteJournal
from .storage.lexical import LexicalIndex
from .storage.locks import FileWriterLock
from .storage.models import StoreModels
from .storage.space import MARGIN_BYTES, batch_bytes, keep_reserve, require_free_space
from .storage.state import MemoryStates, StateDirectory, models_with_states
from .storage.store import SegmentStore, user_metadata
from .storage.writer import EncodedBatch, NamespaceWriter, WriteState

if TYPE_CHECKING:
    from .maintenance.repair import RepairReport
    from .maintenance.upgrade import UpgradeReport

logger = logging.getLogger("evomem")
P = ParamSpec("P")
R = TypeVar("R")


def _open_only(method: Callable[Concatenate[EvoMemory, P], R]) -> Callable[Concatenate[EvoMemory, P], R]:
    """A public method that refuses to run on a closed ``EvoMemory``."""

    @functools.wraps(method)
    def run(self: EvoMemory, *args: P.args, **kwargs: P.kwargs) -> R:
        self._check_open()
        self._follow_store_model()
        try:
            return method(self, *args, **kwargs)
        except StoreUpgradedError:  # upgraded by another process while this call waited: once more, on the new model
            self._follow_store_model()
            return method(self, *args, **kwargs)

    return run


def _part(segment: StoredSegment) -> int:
    return segment.metadata["part"]


def is_store(path: Path) -> bool:
    """Whether ``path`` holds an evomem store (its memory states, or an embedded Chroma database)."""
    return (path / "state").is_dir() or (path / "chroma").is_dir()


class EvoMemory:
    """Long-term memory over conversations and documents, searched with evolvable embeddings.

    Every namespace is read as one ordered stream: its latent memory evolves with each segment written, and a
    query is encoded with the namespace's current memory.

    Writes are durable and atomic per batch: ``add_messages``/``add_text`` return once the segments and the
    evolved memory are on disk, and a writer killed at any moment leaves each batch wholly present or wholly absent
    (see ``evomem.storage.writer``). Writers of one namespace take turns across threads and processes, writers of
    different namespaces go on at the same time (``evomem.storage.locks``); readers never wait for a writer's
    encoding (only for a Chroma call in progress) and only see committed batches.

    Args:
        path: directory for the embedded Chroma store and the memory states.
        model: ``None`` for the store's own model (the one it was written with, kept in the store; for a new
            store the embedded default), a directory (an evomem model or a plain Hugging Face backbone), or an
            ``EvoEncoder``. ``upgrade()`` moves a store to another model.
        segment_batching: pack consecutive segments into one memory pass (faster, as in the paper).
        chroma_host, chroma_port: use a Chroma server (``chroma run``) instead of the embedded store.
        state_url: a PostgreSQL URL (``postgresql://user@host/db``): keep the memory states, the journal and the
            writer locks there instead of under ``path``, so that evomem processes on several machines can share
            one Chroma server and write the same namespaces (``evomem.storage.postgres``). Needs a Chroma server.
        client: a ready Chroma client (overrides the two above). An embedded ``PersistentClient`` passed here is
            not re-opened when other processes write; prefer ``path`` for embedded stores.
        show_progress: progress bars while ingesting.
        create: make the store when ``path`` holds none (the default); ``False`` opens an existing store only and
            raises ``StoreNotFoundError`` (a ``FileNotFoundError``) without creating anything, as reads should.
        max_message_chars: the longest message content ``add_messages`` takes (default 20,000 characters; None: no
            limit); a longer text belongs in ``add_text``, which splits it. One huge message would hold its
            namespace's writer for minutes.
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
        max_message_chars: int | None = DEFAULT_MAX_MESSAGE_CHARS,
    ):
        if not isinstance(path, str | Path):
            raise InvalidTypeError(f"path must be a string or a Path, got {type(path).__name__}")
        self.path = Path(path).expanduser()
        self.max_message_chars = check_max_chars(max_message_chars)
        if not create and not is_store(self.path) and not self.path.is_file():  # a file: the error below
            raise StoreNotFoundError(f"no evomem store at {self.path}: check the path (nothing was created there)")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            file = next(p for p in (self.path, *self.path.parents) if p.exists() and not p.is_dir())
            raise InvalidInputError(
                f"path {self.path} cannot be a directory: {file} is a file; pass a directory"
            ) from None
        self.segment_batching = segment_batching
        self.show_progress = show_progress
        self.models = StoreModels(self.path)  # the store's own model, kept beside its data
        self._follows_store = model is None  # no model named: the store's own, and after an upgrade the new one
        current = self.models.current() if model is None else None
        encoder = self.models.load(current) if current and self.models.has(current) else load_encoder(model)
        if client is not None:
            from chromadb.api import ClientAPI

            if not isinstance(client, ClientAPI):
                kind = type(client).__name__
                raise InvalidTypeError(
                    f"client must be a Chroma client (chromadb.PersistentClient or HttpClient), got {kind}"
                )
            connection = ChromaConnection(client=client)
        elif chroma_host:
            import chromadb

            connection = ChromaConnection(client=chromadb.HttpClient(host=chroma_host, port=chroma_port), owned=True)
        else:
            connection = embedded_connection(self.path / "chroma")
        self._state_url = state_url
        self._switching = threading.Lock()
        self._adopt(self._open_parts(encoder, connection))
        self._closed = False
        self._writes = SerialWorker("evomem-write")  # the thread of the async writes
        if self.store.legacy_records():  # a store of evomem's first layout: one collection per namespace now
            with self.writer.writing(None):
                self.store.migrate_legacy(show_progress)
        self.writer.reconcile_if_idle()
        self._claim_store()
        self._warn_if_written_by_other_models()

    def _claim_store(self) -> None:
        """A new store, or one written before stores kept their model, takes this model as its own (when it holds
        no data of other models only), so that a later evomem opens it with this model."""
        if self.models.current() not in (None, self.fingerprint):
            return
        others = models_with_states(self.path)
        if not others or self.fingerprint in others:
            self.models.keep(self.encoder, self.fingerprint)
            self.models.claim(self.fingerprint)

    def _warn_if_written_by_other_models(self) -> None:
        """A store written only by other models (an earlier default, say) looks empty to this one: say so."""
        models = models_with_states(self.path)
        if models and self.fingerprint not in models:
            listed = ", ".join(sorted(models))
            warnings.warn(
                f"the store at {self.path} holds data of other models only (fingerprints {listed}; an earlier "
                f"evomem default, say), none of this model ({self.fingerprint}), so its searches find none of it. "
                "Re-encode it with this model: `evomem upgrade` (EvoMemory(...).upgrade()), or open it with the "
                "model that wrote it.",
                OtherModelWarning,
                stacklevel=3,
            )

    @property
    def newer_default(self) -> bool:
        """Whether the evomem installed ships a default model other than the store's: ``upgrade()`` re-encodes the
        store with it (announced, never imposed)."""
        current = self.models.current()
        return current is not None and self.models.has(current) and not self.models.same_as(current, DEFAULT_WEIGHTS)

    # ----- the model's parts --------------------------------------------------------------------------------

    def _open_parts(self, encoder: EvoEncoder, connection: ChromaConnection) -> Workspace:
        """The collection, memory states, journal and writer of ``encoder``'s model in this store."""
        fingerprint = encoder.fingerprint()
        state = self._write_state(self._state_url, connection, fingerprint)
        store = self._open_store(connection, fingerprint, encoder.dim, state.states)
        encode = functools.partial(self._encoded, encoder, connection)
        writer = NamespaceWriter(self.path, store, state, encode)
        return Workspace(
            self.path, fingerprint, encoder, store, state.states, state.journal, writer, self.segment_batching
        )

    def _adopt(self, parts: Workspace) -> None:
        """Work with ``parts`` from now on (calls in flight finish with the parts they started with)."""
        parts.writer.guard = self._check_store_model
        self._parts = parts
        self.searcher = Searcher(parts.encoder, parts.store, parts.journal, parts.writer)
        self.segmenter = parts.encoder.segmenter()

    def _check_store_model(self) -> None:
        """Under the writer lock, before a write: refuse to write with a model the store was upgraded away from."""
        if self._follows_store:
            current = self.models.current()
            if current is not None and current != self.fingerprint:
                raise StoreUpgradedError(
                    f"the store at {self.path} was upgraded to model {current} while this write waited for it; "
                    "nothing was written"
                )

    def _follow_store_model(self) -> None:
        """After another process upgraded the store: open its new model (a process that named its model keeps it)."""
        if not self._follows_store:
            return
        current = self.models.current()
        if current is None or current == self.fingerprint or not self.models.has(current):
            return
        with self._switching:
            if current != self.fingerprint:
                logger.info("the store at %s was upgraded to model %s: following it", self.path, current)
                self._adopt(self._open_parts(self.models.load(current), self.store.connection))

    @property
    def encoder(self) -> EvoEncoder:
        """The model this memory encodes with."""
        return self._parts.encoder

    @property
    def fingerprint(self) -> str:
        """The model's fingerprint: it names the model's collection and memory states."""
        return self._parts.fingerprint

    @property
    def store(self) -> SegmentStore:
        """The model's collection."""
        return self._parts.store

    @property
    def states(self) -> MemoryStates:
        """The model's memory states."""
        return self._parts.states

    @property
    def journal(self) -> WriteJournal:
        """The model's writes in flight."""
        return self._parts.journal

    @property
    def writer(self) -> NamespaceWriter:
        """Every write goes through it."""
        return self._parts.writer

    @property
    def recovered(self) -> list[str]:
        """What reconciling interrupted writes did, one line each."""
        return self.writer.recovered

    # ----- life cycle -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for async writes in flight, then release the Chroma client (the embedded store's, once no other
        ``EvoMemory`` of this process uses it; a client passed in stays open) and the worker thread. Any later
        call raises ``MemoryClosedError``. Closing twice is harmless."""
        with self.writer.threads.hold(None):  # after the writes in flight
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

    def _write_state(self, state_url: str | None, connection: ChromaConnection, fingerprint: str) -> WriteState:
        """Where the memory states, the journal and the writer lock live: files under ``path``, or PostgreSQL."""
        if state_url is None:
            states = StateDirectory(self.path, fingerprint)
            return WriteState(states, Journal(states), FileWriterLock(self.path / "writer.lock"))
        if not isinstance(state_url, str):
            raise InvalidTypeError(f"state_url must be a PostgreSQL URL string, got {type(state_url).__name__}")
        if connection.embedded:
            raise InvalidInputError(
                "state_url shares memory states between machines, but the vectors would stay in this machine's "
                "embedded Chroma store: pass chroma_host (a `chroma run` server) or a Chroma HttpClient too"
            )
        from .storage.postgres import connect

        return connect(state_url, fingerprint, self.path / "state" / fingerprint)

    def _open_store(
        self, connection: ChromaConnection, fingerprint: str, dim: int, states: MemoryStates
    ) -> SegmentStore:
        """A model's collection; an embedded database that SQLite cannot read is a ``StoreCorruptedError``."""
        from chromadb.errors import InternalError

        store = SegmentStore(connection, fingerprint, dim, lexical=LexicalIndex(states.directory))
        try:
            store.legacy_records()  # reads the database
            return store
        except InternalError as error:
            if not connection.embedded:
                raise
            assert connection.directory is not None  # embedded
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
        batch = to_messages(messages, self.max_message_chars)
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

    def _encoded(
        self,
        encoder: EvoEncoder,
        connection: ChromaConnection,
        namespace: str,
        queue: LatentQueue,
        entries: Sequence[Segment],
    ) -> EncodedBatch:
        """The writer's encoding step: the segments encoded in order, evolving ``queue``. The disk is checked first,
        so a write that cannot fit fails before the encoding."""
        texts = [entry.text for entry in entries]
        needed = batch_bytes(len(entries), encoder.dim, sum(len(text.encode()) for text in texts))
        if connection.embedded:
            keep_reserve(self.path)
        else:
            needed = MARGIN_BYTES  # a Chroma server keeps the vectors on its own disk
        require_free_space(self.path, needed)
        vectors = encode_texts(encoder, queue, texts, self.segment_batching, f"ingest {namespace}", self.show_progress)
        return EncodedBatch(namespace, entries, vectors, queue, needed)

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
        queue = self._workspace().read_again(name, stored, show, "rebuild").memory if stored else None
        self.writer.replace_memory(name, queue)
        return 0 if queue is None else queue.step

    @_open_only
    def repair(self, show_progress: bool | None = None) -> RepairReport:
        """Rebuild this model's collection when vector search misses stored records; see
        ``evomem.maintenance.repair``."""
        from .maintenance.repair import repair

        return repair(self._workspace(), self.show_progress if show_progress is None else show_progress)

    @_open_only
    def reembed(self, source: str | None = None, **options: Any) -> dict[str, int]:
        """Migrate a store written by another model into this one, from the stored text; see
        ``evomem.maintenance.reembed``."""
        from .maintenance.reembed import reembed

        if not isinstance(self.states, StateDirectory):
            raise InvalidInputError(
                "reembed does not support memory states in a state database (state_url) yet: ingest the "
                "namespaces again with the new model"
            )
        return reembed(self._workspace(), source, **options)

    @_open_only
    def upgrade(
        self,
        model: str | Path | EvoEncoder | None = None,
        replace: bool = False,
        drop_old: bool = False,
        batch_segments: int = 256,
        show_progress: bool | None = None,
    ) -> UpgradeReport:
        """Re-encode the store with ``model`` (default: the installed evomem's default) and make it the store's
        model, online: this model keeps answering searches, and writes go on, until the new index is complete and
        swapped in atomically; then this memory, and every process that opened the store without naming a model,
        works with the new one. Resumable: after a kill, run it again. ``replace`` discards data the new model
        already holds in the store; ``drop_old`` deletes the old model's data after the swap. See
        ``evomem.maintenance.upgrade``."""
        from .maintenance.upgrade import upgrade

        if not isinstance(self.states, StateDirectory):
            raise InvalidInputError("upgrade does not support memory states in a state database (state_url) yet")
        check_flag(replace, "replace")
        check_flag(drop_old, "drop_old")
        show = self.show_progress if show_progress is None else show_progress
        target = self._open_parts(load_encoder(model), self.store.connection)
        report = upgrade(target, self.models, replace, drop_old, batch_segments, show)
        with self._switching:
            self._follows_store = True
            self._adopt(target)
        return report

    # ----- reading ------------------------------------------------------------------------------------------

    @_open_only
    def search(self, query: str, namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]) -> list[Hit]:
        """The ``k`` best messages for ``query``; at most one hit per message (its best part), best first.

        ``mode``: ``"evolvable"`` ranks by the evolvable embeddings, read with the namespace's current memory
        (``score``: cosine similarity); ``"lexical"`` by BM25 over the words of the stored text (``score``: BM25);
        ``"hybrid"`` (the default) fuses both rankings by reciprocal-rank fusion, ``lexical_weight`` (0 to 1,
        default 0.1) giving the lexical ranking's share. In every mode ``score`` is a calibrated relevance from 0 to
        1, comparable across queries and namespaces (``evomem.search.calibration``), and ``scores`` holds the
        rankings' raw scores (cosine, BM25, fused); ``min_score`` leaves out the hits scored below it (0, the
        default, keeps all).
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
        filters = search_filters(checked)
        queue = self._queue(namespace)
        return self.searcher.search(queue, queries, namespace, k, checked, filters)

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
        stored = sorted(self.store.get(namespace, ids, below=step), key=stream_order)
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
    def check(self, namespace: str | None = None) -> CheckReport:
        """What is wrong with the store, changing nothing: a ``CheckReport`` with one ``Damage`` per problem
        (records search cannot return, a missing or unreadable memory state or lexical index, a write in flight,
        data of other models; see ``evomem.maintenance.check``) and, per namespace, the records that vector or
        lexical search misses (``unsearchable``). ``repair()`` rebuilds collections that lost vectors,
        ``rebuild(namespace)`` memory states and lexical indexes."""
        names = [check_namespace(namespace)] if namespace is not None else self._all_namespaces()
        return diagnose(self._workspace(), names)

    def _all_namespaces(self) -> list[str]:
        """Namespaces with records or a memory state (one whose records are gone still has its state)."""
        return sorted({*self.store.namespaces(), *self.states.namespaces()})

    # ----- async -------------------------------------------------------------------------------------------

    aadd_messages = in_thread(add_messages, writes=True)
    aadd_text = in_thread(add_text, writes=True)
    adelete = in_thread(delete, writes=True)
    adelete_namespace = in_thread(delete_namespace, writes=True)
    arebuild = in_thread(rebuild, writes=True)
    arepair = in_thread(repair, writes=True)
    areembed = in_thread(reembed, writes=True)
    aupgrade = in_thread(upgrade, writes=True)
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

    def _workspace(self) -> Workspace:
        """This store's parts, for maintenance."""
        return self._parts

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


def _content_id(namespace: str, offset: int, message: Message) -> str:
    """An idempotent write's message id: the same message at the same place in a batch has the same id."""
    fields = [namespace, str(offset), message.role, message.name or "", repr(message.timestamp), message.content]
    return hashlib.sha1("\0".join(fields).encode()).hexdigest()[:16]
