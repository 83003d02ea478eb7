"""StreamEmbedder: the embedding model that evomem's framework adapters wrap (LangChain's ``EvoEmbeddings``,
LlamaIndex's ``EvoEmbedding``), with one behaviour for both.

An embedder is bound to one stream, named by its ``namespace``. Every batch of documents it embeds continues that
stream's latent memory, in call order, and a query is read with the memory as it stands (without changing it).
With a ``path`` the memory is persisted after every batch, atomically (``evomem.storage.state``), under
``path/embeddings/``: put it where the index is persisted, and an embedder opened later on the same path and
namespace, in any process, continues the stream and reads queries exactly as before. Streams are independent: an
index built with one namespace never changes the vectors of another's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from .model.encoder import EvoEncoder
from .model.queue import LatentQueue
from .model.stream import embed_texts
from .schema import DEFAULT_NAMESPACE, check_namespace, check_texts
from .serial import SerialWorker
from .storage.state import StateDirectory

DIRECTORY = "embeddings"  # under the embedder's path; apart from an EvoMemory's own states


class StreamEmbedder:
    """Evolvable embeddings of one stream: documents continue its memory, queries read it.

    Args:
        encoder: the evomem encoder.
        namespace: the stream's name (any text an ``EvoMemory`` namespace may be); one stream per index.
        path: a directory to persist the stream's memory in (``None``: kept in this object only).
        segment_batching: pack consecutive segments into one memory pass (faster).
    """

    def __init__(
        self,
        encoder: EvoEncoder,
        namespace: str = DEFAULT_NAMESPACE,
        path: str | Path | None = None,
        segment_batching: bool = True,
    ):
        self.encoder = encoder
        self.namespace = check_namespace(namespace)
        self.segment_batching = segment_batching
        self.path = None if path is None else Path(path).expanduser()
        self._lock = threading.Lock()
        self._states: StateDirectory | None = None
        self._file_lock: Any = nullcontext()
        if self.path is not None:
            self._states = StateDirectory(self.path / DIRECTORY, encoder.fingerprint())
            self._states.directory.mkdir(parents=True, exist_ok=True)
            self._file_lock = FileLock(str(self._states.directory / "writer.lock"))
        self._queue = self.encoder.new_queue()
        self._worker = SerialWorker("evomem-embed")  # the thread of the async methods

    def _current(self) -> LatentQueue:
        """The stream's memory: as persisted under ``path`` (another embedder may have continued it), else this
        object's own."""
        if self._states is None:
            return self._queue
        config = self.encoder.config
        return self._states.load(self.namespace, config.num_query_tokens, config.queue_steps, self.encoder.dim)

    @contextmanager
    def _stream(self) -> Iterator[LatentQueue]:
        """A copy of the stream's memory to continue, with the writer lock held; saved (and persisted) when the
        caller is done, dropped if it fails."""
        with self._lock, self._file_lock:
            queue = self._current().copy()
            yield queue
            if self._states is not None:
                self._states.save(self.namespace, queue)
            self._queue = queue

    @property
    def step(self) -> int:
        """How many segments the stream has read."""
        with self._lock:
            return self._current().step

    def embed_documents(self, texts: list[str]) -> torch.Tensor:
        """Vectors (n, D) of ``texts`` read in order as the stream's next segments; the memory evolves over them.

        A text over the segment limit is read as several segments, and its vector is their normalised mean.
        """
        texts = check_texts(texts)
        with self._stream() as queue:
            return embed_texts(self.encoder, queue, texts, self.segment_batching)

    def embed_queries(self, queries: list[str]) -> torch.Tensor:
        """Vectors (n, D) of queries, read in one batch with the stream's current memory (left unchanged)."""
        queries = check_texts(queries)
        with self._lock:
            queue = self._current()
        with torch.inference_mode():
            return self.encoder.encode_queries(queue, queries)

    def embed_query(self, query: str) -> torch.Tensor:
        """The vector (D,) of one query, read with the stream's current memory."""
        return self.embed_queries([query])[0]

    async def aembed_documents(self, texts: list[str]) -> torch.Tensor:
        """``embed_documents`` in this embedder's worker thread: the event loop never blocks, and batches enter
        the stream in the order they were awaited."""
        texts = check_texts(texts)
        return await self._worker.run(self.embed_documents, texts)

    async def aembed_queries(self, queries: list[str]) -> torch.Tensor:
        """``embed_queries`` in the same worker thread, so a query reads the memory of the batches before it."""
        queries = check_texts(queries)
        return await self._worker.run(self.embed_queries, queries)

    def reset(self) -> None:
        """Start the stream again from an empty memory (persisted too, with a ``path``)."""
        with self._lock, self._file_lock:
            self._queue = self.encoder.new_queue()
            if self._states is not None:
                self._states.delete(self.namespace)
