"""EvoEmbedding: evomem's evolvable encoder as a LlamaIndex embedding model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr

from evomem import EvoEncoder, EvoMemory, StreamEmbedder, load_encoder
from evomem.schema import DEFAULT_NAMESPACE, check_texts


class EvoEmbedding(BaseEmbedding):
    """Evolvable embeddings (EvoEmbedding) for LlamaIndex, bound to one stream (``namespace``), e.g.
    ``VectorStoreIndex.from_documents(docs, embed_model=EvoEmbedding(namespace="docs", path=persist_dir))``.

    The vector of a text depends on what was read before it in the stream:

    - Every text embedded (``get_text_embedding``, ``get_text_embedding_batch`` in batches of
      ``embed_batch_size``, their async forms) is read as the stream's next segment, in call order, continuing the
      memory of every earlier call: an index reads its nodes as one stream, whatever the batch size.
    - A query is read with the stream's memory as it stands; it does not change it.
    - With ``path`` the memory is persisted there after every batch (atomically): give the directory where the
      index is persisted (``storage_context.persist(persist_dir)``), and an ``EvoEmbedding`` opened later on the
      same path and namespace, in any process, continues the stream and embeds queries exactly as before.
      Without it the memory lives in this object.
    - One namespace per index: building an index with another namespace never changes this one's vectors.
      ``reset()`` starts the stream again from an empty memory.

    Async methods run in the embedder's worker thread, never blocking the event loop; batches enter the stream
    in the order they were awaited.
    A text over the segment limit (128 tokens by default) is read as several segments; its vector is their
    normalised mean.

    Args:
        model: ``None`` for evomem's default model (or ``$EVOMEM_MODEL``), a model directory, or an ``EvoEncoder``.
        memory: an ``EvoMemory`` whose encoder to share (instead of ``model``).
        namespace: the stream's name.
        path: where to persist the stream's memory.
        segment_batching: pack consecutive segments into one memory pass (faster).
    """

    model_name: str = "evomem"
    namespace: str = DEFAULT_NAMESPACE
    segment_batching: bool = True

    _stream: StreamEmbedder = PrivateAttr()

    def __init__(
        self,
        model: str | Path | EvoEncoder | None = None,
        memory: EvoMemory | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        path: str | Path | None = None,
        segment_batching: bool = True,
        **kwargs: Any,
    ):
        if memory is not None:
            encoder = memory.encoder
        else:
            encoder = load_encoder(model if model is not None else os.environ.get("EVOMEM_MODEL") or None)
        stream = StreamEmbedder(encoder, namespace, path, segment_batching)
        kwargs.setdefault("model_name", f"evomem-{encoder.fingerprint()[:12]}")
        super().__init__(namespace=stream.namespace, segment_batching=segment_batching, **kwargs)
        self._stream = stream

    @classmethod
    def class_name(cls) -> str:
        return "EvoEmbedding"

    @property
    def encoder(self) -> EvoEncoder:
        return self._stream.encoder

    @property
    def memory_step(self) -> int:
        """How many segments the stream has read."""
        return self._stream.step

    def reset(self) -> None:
        """Start the stream again from an empty memory."""
        self._stream.reset()

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        return super().get_text_embedding_batch(check_texts(texts), show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        return await super().aget_text_embedding_batch(check_texts(texts), show_progress, **kwargs)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._stream.embed_documents(texts).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._stream.embed_query(query).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return (await self._stream.aembed_documents(texts)).tolist()

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._stream.aembed_queries([query]))[0].tolist()
