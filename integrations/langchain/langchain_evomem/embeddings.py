"""EvoEmbeddings: evomem's evolvable encoder behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import torch
from langchain_core.embeddings import Embeddings

from evomem import EvoEncoder, EvoMemory, LatentQueue
from evomem.models import load_encoder
from evomem.schema import check_texts
from evomem.stream import embed_texts


def embed_query(encoder: EvoEncoder, queue: LatentQueue, text: str) -> torch.Tensor:
    """A query vector (D,) read with the memory in ``queue`` (which it does not change)."""
    with torch.inference_mode():
        return encoder.encode_queries(queue.latents, queue.latent_steps(), [text])[0]


class EvoEmbeddings(Embeddings):
    """Evolvable embeddings (EvoEmbedding) as a LangChain ``Embeddings``.

    Unlike a static embedder, the vector of a text depends on what was read before it:

    - ``embed_documents(texts)`` reads ``texts`` as **one ordered stream**, starting from an empty latent memory,
      and returns each text's vector read with the memory of the texts before it. Reorder the texts and the
      vectors change; call it once per conversation or document, in order.
    - ``embed_query(text)`` reads the query with the memory left by the **last** ``embed_documents`` call (an empty
      memory before the first call); it does not change that memory.

    A text longer than the encoder's segment limit (128 tokens by default) is read as several segments; its
    vector is their normalised mean. For long-term memory with persistence, namespaces and metadata filters use
    ``EvoMemoryRetriever`` over an ``EvoMemory`` instead.

    Args:
        model: ``None`` for evomem's default model (or ``$EVOMEM_MODEL`` when set), a model directory, or an
            ``EvoEncoder``.
        memory: an ``EvoMemory`` whose encoder to share (instead of ``model``).
        segment_batching: pack consecutive segments into one memory pass (faster).
    """

    def __init__(
        self,
        model: str | Path | EvoEncoder | None = None,
        *,
        memory: EvoMemory | None = None,
        segment_batching: bool = True,
    ):
        if memory is not None:
            self.encoder = memory.encoder
        else:
            model = model if model is not None else os.environ.get("EVOMEM_MODEL") or None
            self.encoder = load_encoder(model)
        self.model = model
        self.segment_batching = segment_batching
        self.queue = self.encoder.new_queue()
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = check_texts(texts)
        queue = self.encoder.new_queue()
        with self._lock:
            vectors = embed_texts(self.encoder, queue, texts, self.segment_batching)
            self.queue = queue
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed_query(self.encoder, self.queue, text).tolist()

    def reset(self) -> None:
        """Forget the last stream: ``embed_query`` reads with an empty memory again."""
        self.queue = self.encoder.new_queue()

    @property
    def dim(self) -> int:
        return self.encoder.dim
