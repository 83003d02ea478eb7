"""EvoEmbeddings: evomem's evolvable encoder behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import os
from pathlib import Path

from langchain_core.embeddings import Embeddings

from evomem import EvoEncoder, EvoMemory, StreamEmbedder, load_encoder
from evomem.schema import DEFAULT_NAMESPACE


class EvoEmbeddings(Embeddings):
    """Evolvable embeddings (EvoEmbedding) as a LangChain ``Embeddings``, bound to one stream (``namespace``).

    The vector of a text depends on what was read before it in the stream:

    - ``embed_documents(texts)`` reads ``texts`` as the stream's next segments, in order, continuing the memory
      of every earlier call: a vector store that embeds an index batch by batch reads it as one stream.
    - ``embed_query(text)`` reads the query with the stream's memory as it stands; it does not change it.
    - With ``path`` the memory is persisted there after every call (atomically): give the directory where the
      index is persisted, and an ``EvoEmbeddings`` opened later on the same path and namespace, in any process,
      continues the stream and embeds queries exactly as before. Without it the memory lives in this object.
    - One namespace per index: building an index with another namespace never changes this one's vectors.
      ``reset()`` starts the stream again from an empty memory.

    A text longer than the encoder's segment limit (128 tokens by default) is read as several segments; its
    vector is their normalised mean. For long-term chat memory with metadata filters use ``EvoMemoryRetriever``
    over an ``EvoMemory`` instead.

    Args:
        model: ``None`` for evomem's default model (or ``$EVOMEM_MODEL`` when set), a model directory, or an
            ``EvoEncoder``.
        memory: an ``EvoMemory`` whose encoder to share (instead of ``model``).
        namespace: the stream's name.
        path: where to persist the stream's memory.
        segment_batching: pack consecutive segments into one memory pass (faster).
    """

    def __init__(
        self,
        model: str | Path | EvoEncoder | None = None,
        *,
        memory: EvoMemory | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        path: str | Path | None = None,
        segment_batching: bool = True,
    ):
        if memory is not None:
            encoder = memory.encoder
        else:
            model = model if model is not None else os.environ.get("EVOMEM_MODEL") or None
            encoder = load_encoder(model)
        self.model = model
        self.stream = StreamEmbedder(encoder, namespace, path, segment_batching)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.stream.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.stream.embed_query(text).tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """``embed_documents`` in a worker thread; batches enter the stream in the order they were awaited."""
        return (await self.stream.aembed_documents(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.stream.aembed_queries([text]))[0].tolist()

    def reset(self) -> None:
        """Start the stream again from an empty memory."""
        self.stream.reset()

    @property
    def encoder(self) -> EvoEncoder:
        return self.stream.encoder

    @property
    def step(self) -> int:
        """How many segments the stream has read."""
        return self.stream.step

    @property
    def dim(self) -> int:
        return self.stream.encoder.dim
