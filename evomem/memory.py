"""EvoMemory: the public facade. Messages in, evolvable-embedding search out, per namespace."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock
from tqdm.auto import tqdm

from .encoder import EvoEncoder
from .models import load_encoder
from .queue import LatentQueue
from .schema import (
    Hit,
    Message,
    Segment,
    check_k,
    check_metadata,
    check_namespace,
    check_text,
    parse_timestamp,
    to_messages,
)
from .segmenter import Segmenter
from .state import StateDirectory
from .store import SegmentStore, StoredSegment, record_id
from .stream import encode_stream


class EvoMemory:
    """Long-term memory over conversations and documents, searched with evolvable embeddings.

    Every namespace is read as one ordered stream: its latent memory evolves with each segment written, and a
    query is encoded with the namespace's current memory.

    Args:
        path: directory for the embedded Chroma store and the memory states.
        model: ``None`` for the embedded default, a directory (an evomem model or a plain Hugging Face
            backbone), or an ``EvoEncoder``.
        segment_batching: pack consecutive segments into one memory pass (faster, as in the paper).
        chroma_host, chroma_port: use a Chroma server (``chroma run``) instead of the embedded store.
        client: a ready Chroma client (overrides the two above).
        show_progress: progress bars while ingesting.
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
    ):
        import chromadb

        self.path = Path(path).expanduser()
        self.path.mkdir(parents=True, exist_ok=True)
        self.encoder = load_encoder(model)
        self.fingerprint = self.encoder.fingerprint()
        if client is None:
            if chroma_host:
                client = chromadb.HttpClient(host=chroma_host, port=chroma_port)
            else:
                client = chromadb.PersistentClient(path=str(self.path / "chroma"))
        self.store = SegmentStore(client, self.fingerprint, self.encoder.dim)
        self.states = StateDirectory(self.path, self.fingerprint)
        self.segment_batching = segment_batching
        self.show_progress = show_progress
        config = self.encoder.config
        reserved = len(self.encoder.tokenize([""]))
        self.segmenter = Segmenter(
            self.encoder.tokenizer, config.segment_max_tokens, config.segment_overlap_tokens, reserved
        )
        self._thread_lock = threading.RLock()
        self._file_lock = FileLock(str(self.path / "writer.lock"))

    # ----- writing ------------------------------------------------------------------------------------------

    def add_messages(self, messages: Iterable[Any], namespace: str) -> list[str]:
        """Append chat messages to a namespace's stream; returns their ids once stored durably.

        A message is a dict with ``role`` and ``content`` and optionally ``name``, ``id``, ``timestamp``
        (ISO 8601 or epoch seconds) and ``metadata`` (flat scalars). It is stored as ``"{name}: {content}"``
        (the role when there is no name); a message over the segment limit is split into parts that keep its id.
        """
        check_namespace(namespace)
        batch = to_messages(messages)
        with self._writing():
            queue = self.states.load(namespace, *self._queue_shape())
            entries = []
            ids = []
            for offset, message in enumerate(batch):
                message_id = message.id or self._generated_id(namespace, queue.step + offset, message.content)
                ids.append(message_id)
                for part, text in enumerate(self.segmenter.split_message(message)):
                    entries.append(Segment(message_id, part, text, self._message_metadata(message)))
            self._ingest(namespace, queue, entries)
        return ids

    def add_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]:
        """Append a document, split by paragraphs and sentences; returns one id per chunk (``{doc_id}-{i}``)."""
        check_namespace(namespace)
        check_text(text, "text")
        extra = check_metadata(metadata)
        if doc_id is not None:
            check_text(doc_id, "doc_id")
        chunks = self.segmenter.split_document(text)
        with self._writing():
            queue = self.states.load(namespace, *self._queue_shape())
            doc_id = doc_id or self._generated_id(namespace, queue.step, text)
            entries = [
                Segment(f"{doc_id}-{i}", 0, chunk, {"role": "document", "kind": "document", **extra})
                for i, chunk in enumerate(chunks)
            ]
            self._ingest(namespace, queue, entries)
        return [entry.id for entry in entries]

    def _ingest(self, namespace: str, queue: LatentQueue, entries: Sequence[Segment]) -> None:
        """Encode the segments in order (evolving ``queue``), store them, then persist the memory."""
        if not entries:
            return
        first_position = queue.step
        token_ids = self.encoder.tokenize([entry.text for entry in entries])
        with (
            torch.inference_mode(),
            tqdm(total=len(entries), desc=f"ingest {namespace}", unit="seg", disable=not self.show_progress) as bar,
        ):
            vectors = encode_stream(self.encoder, queue, token_ids, self.segment_batching, bar.update)
        metadatas = [
            {
                **entry.metadata,
                "namespace": namespace,
                "position": first_position + i,
                "message_id": entry.id,
                "part": entry.part,
                "fingerprint": self.fingerprint,
            }
            for i, entry in enumerate(entries)
        ]
        ids = [record_id(namespace, entry.id, entry.part) for entry in entries]
        self.store.upsert(ids, vectors, [entry.text for entry in entries], metadatas)
        self.states.save(namespace, queue)

    # ----- reading ------------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        namespace: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        time_range: tuple[Any, Any] | None = None,
    ) -> list[Hit]:
        """The ``k`` best messages for ``query``, read with the namespace's current memory.

        ``where`` is a Chroma filter on metadata; ``time_range`` is ``(start, end)``, either end may be None.
        At most one hit per message (its best part); scores are cosine similarities, descending.
        """
        check_text(query, "query")
        check_namespace(namespace)
        check_k(k)
        filters = self._filters(where, time_range)
        with self._thread_lock:
            queue = self.states.load(namespace, *self._queue_shape())
        if queue.step == 0:
            return []
        with torch.inference_mode():
            vector = self.encoder.encode_queries(queue.latents, queue.latent_steps(), [query])[0]
        total = self.store.count(namespace)
        n = min(total, 3 * k)
        while True:
            hits = self._best_per_message(self.store.query(vector, namespace, max(n, 1), filters))
            if len(hits) >= k or n >= total:
                return hits[:k]
            n = min(total, 2 * n)

    def get(self, ids: Sequence[str] | None, namespace: str) -> list[Segment]:
        """Stored segments of the given message ids (all when None), in stream order."""
        check_namespace(namespace)
        if ids is not None:
            ids = [check_text(str(i), "message id") for i in ids]
        stored = sorted(self.store.get(namespace, ids), key=lambda s: s.metadata["position"])
        return [Segment(s.metadata["message_id"], s.metadata["part"], s.text, s.metadata) for s in stored]

    def delete(self, namespace: str, ids: Sequence[str] | None = None) -> None:
        """Delete messages by id, or (ids None) the whole namespace with its memory state.

        Deleting single messages leaves the latent memory as it is: what they wrote into it fades as the queue
        moves on; delete and re-ingest the namespace to remove every trace at once.
        """
        check_namespace(namespace)
        with self._writing():
            if ids is None:
                self.store.delete(namespace)
                self.states.delete(namespace)
            else:
                self.store.delete(namespace, [check_text(str(i), "message id") for i in ids])

    def namespaces(self) -> list[str]:
        return self.states.namespaces()

    def stats(self, namespace: str) -> dict[str, Any]:
        check_namespace(namespace)
        queue = self.states.load(namespace, *self._queue_shape())
        stored = self.store.get(namespace)
        return {
            "namespace": namespace,
            "segments": len(stored),
            "messages": len({s.metadata["message_id"] for s in stored}),
            "memory_step": queue.step,
            "memory_latents": len(queue),
            "memory_capacity": queue.capacity,
            "fingerprint": self.fingerprint,
        }

    # ----- helpers --------------------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Writers are serialised across threads and processes."""
        with self._thread_lock, self._file_lock:
            yield

    def _queue_shape(self) -> tuple[int, int, int]:
        config = self.encoder.config
        return config.num_query_tokens, config.queue_steps, self.encoder.dim

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
            filters.append(where)
        if time_range is not None:
            if not isinstance(time_range, tuple | list) or len(time_range) != 2:
                raise TypeError("time_range must be a (start, end) pair")
            start, end = (parse_timestamp(value) for value in time_range)
            if start is not None:
                filters.append({"timestamp": {"$gte": start}})
            if end is not None:
                filters.append({"timestamp": {"$lte": end}})
        return filters

    @staticmethod
    def _best_per_message(segments: list[StoredSegment]) -> list[Hit]:
        hits: dict[str, Hit] = {}
        for segment in segments:  # nearest first, so the first part seen is the message's best
            message_id = segment.metadata["message_id"]
            if message_id not in hits:
                hits[message_id] = Hit(message_id, segment.text, 1.0 - segment.distance, segment.metadata)
        return list(hits.values())
