"""EvoEmbedding: evomem's evolvable encoder as a LlamaIndex embedding model."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import torch
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr

from evomem import EvoEncoder, EvoMemory, LatentQueue
from evomem.models import load_encoder
from evomem.schema import check_texts
from evomem.stream import embed_texts


class EvoEmbedding(BaseEmbedding):
    """Evolvable embeddings (EvoEmbedding) for LlamaIndex, e.g. ``Settings.embed_model = EvoEmbedding()``.

    The vector of a text depends on what was read before it. An ``EvoEmbedding`` reads **one running stream**:
    every text embedded (``get_text_embedding``, ``get_text_embedding_batch`` in batches of
    ``embed_batch_size``, their async forms) continues the same latent memory, in call order, so building an
    index reads its nodes in order with a memory that spans them all, whatever the batch size. A query is read
    with the memory as it stands and does not change it. ``reset()`` starts a new stream (empty memory).

    Async methods compute on the calling thread, so concurrent batches still enter the stream in call order.
    A text over the segment limit (128 tokens by default) is read as several segments; its vector is their
    normalised mean.

    Args:
        model: ``None`` for evomem's default model (or ``$EVOMEM_MODEL``), a model directory, or an ``EvoEncoder``.
        memory: an ``EvoMemory`` whose encoder to share (instead of ``model``).
        segment_batching: pack consecutive segments into one memory pass (faster).
    """

    model_name: str = "evomem"
    segment_batching: bool = True

    _encoder: EvoEncoder = PrivateAttr()
    _queue: LatentQueue = PrivateAttr()
    _lock: Any = PrivateAttr()

    def __init__(
        self,
        model: str | Path | EvoEncoder | None = None,
        memory: EvoMemory | None = None,
        segment_batching: bool = True,
        **kwargs: Any,
    ):
        if memory is not None:
            encoder = memory.encoder
        else:
            encoder = load_encoder(model if model is not None else os.environ.get("EVOMEM_MODEL") or None)
        kwargs.setdefault("model_name", f"evomem-{encoder.fingerprint()[:12]}")
        super().__init__(segment_batching=segment_batching, **kwargs)
        self._encoder = encoder
        self._queue = encoder.new_queue()
        self._lock = threading.Lock()

    @classmethod
    def class_name(cls) -> str:
        return "EvoEmbedding"

    @property
    def encoder(self) -> EvoEncoder:
        return self._encoder

    @property
    def memory_step(self) -> int:
        """How many segments the current stream has read."""
        return self._queue.step

    def reset(self) -> None:
        """Start a new stream: forget the latent memory."""
        with self._lock:
            self._queue = self._encoder.new_queue()

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:
        return super().get_text_embedding_batch(check_texts(texts), show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        return await super().aget_text_embedding_batch(check_texts(texts), show_progress, **kwargs)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        with self._lock:
            return embed_texts(self._encoder, self._queue, texts, self.segment_batching).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        with self._lock, torch.inference_mode():
            latents, steps = self._queue.latents, self._queue.latent_steps()
            return self._encoder.encode_queries(latents, steps, [query])[0].tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._get_text_embeddings(texts)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embedding(text)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)
