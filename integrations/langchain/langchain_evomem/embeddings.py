"""EvoEmbeddings: evomem's evolvable encoder behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import torch
from langchain_core.embeddings import Embeddings

from evomem import EvoEncoder, EvoMemory, LatentQueue
from evomem.models import load_encoder
from evomem.segmenter import Segmenter
from evomem.stream import encode_stream


def new_queue(encoder: EvoEncoder) -> LatentQueue:
    """An empty latent memory shaped for ``encoder``."""
    config = encoder.config
    return LatentQueue(config.num_query_tokens, config.queue_steps, encoder.dim)


def text_segmenter(encoder: EvoEncoder) -> Segmenter:
    config = encoder.config
    reserved = len(encoder.tokenize([""])[0])  # special tokens every segment carries
    return Segmenter(encoder.tokenizer, config.segment_max_tokens, config.segment_overlap_tokens, reserved)


def embed_stream(
    encoder: EvoEncoder, queue: LatentQueue, texts: Sequence[str], segment_batching: bool = True
) -> torch.Tensor:
    """Read ``texts`` in order, evolving ``queue``; one L2-normalised vector per text, shape (n, D).

    A text longer than the segment limit is cut on sentence boundaries into several segments of the stream, and
    its vector is the normalised mean of theirs.
    """
    segmenter = text_segmenter(encoder)
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        chunks = segmenter.split_document(text) if segmenter.count(text) > segmenter.room else []
        pieces.extend(chunks or [text])
        owners.extend([index] * max(1, len(chunks)))
    if not pieces:
        return torch.zeros(0, encoder.dim)
    with torch.inference_mode():
        vectors = encode_stream(encoder, queue, encoder.tokenize(pieces), segment_batching)
        summed = torch.zeros(len(texts), encoder.dim).index_add_(0, torch.tensor(owners), vectors.float())
        return torch.nn.functional.normalize(summed, dim=-1)


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
        self.queue = new_queue(self.encoder)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        queue = new_queue(self.encoder)
        with self._lock:
            vectors = embed_stream(self.encoder, queue, texts, self.segment_batching)
            self.queue = queue
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed_query(self.encoder, self.queue, text).tolist()

    def reset(self) -> None:
        """Forget the last stream: ``embed_query`` reads with an empty memory again."""
        self.queue = new_queue(self.encoder)

    @property
    def dim(self) -> int:
        return self.encoder.dim
