"""The retrieval systems compared in one run; each ranks a group's segments for each of its queries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..encoder import EvoEncoder
from ..stream import encode_stream
from .tasks import Group

RRF_K = 60
BASE_SYSTEMS = ("evomem", "static", "bm25")
FUSED_SYSTEMS = {"bm25+static": ("bm25", "static"), "bm25+evomem": ("bm25", "evomem")}
ALL_SYSTEMS = (*BASE_SYSTEMS, *FUSED_SYSTEMS)


def rank_by_similarity(
    segment_vectors: torch.Tensor, query_vectors: torch.Tensor, ids: Sequence[str]
) -> list[list[str]]:
    order = torch.argsort(query_vectors @ segment_vectors.T, dim=1, descending=True, stable=True)
    return [[ids[i] for i in row] for row in order.tolist()]


class EvolvableRanker:
    """evomem: the group is read in order; queries are encoded with the memory at its end."""

    def __init__(self, encoder: EvoEncoder, segment_batching: bool = True):
        self.encoder = encoder
        self.segment_batching = segment_batching

    def rank(self, group: Group, queries: Sequence[str]) -> list[list[str]]:
        queue = self.encoder.new_queue()
        with torch.inference_mode():
            vectors = encode_stream(self.encoder, queue, self.encoder.tokenize(group.texts), self.segment_batching)
            query_vectors = self.encoder.encode_queries(queue.latents, queue.latent_steps(), list(queries))
        return rank_by_similarity(vectors, query_vectors, group.segment_ids)


class StaticRanker:
    """The static base model as users run it: sentence-transformers over the same backbone, no memory."""

    def __init__(self, encoder: EvoEncoder):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(
            str(encoder.backbone_dir), device="cpu", local_files_only=True, trust_remote_code=False
        )

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.tensor(self.model.encode(list(texts), batch_size=32, normalize_embeddings=True))

    def rank(self, group: Group, queries: Sequence[str]) -> list[list[str]]:
        return rank_by_similarity(self._encode(group.texts), self._encode(queries), group.segment_ids)


class Bm25Ranker:
    """BM25 (bm25s, Lucene variant, English stopwords)."""

    def rank(self, group: Group, queries: Sequence[str]) -> list[list[str]]:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(list(group.texts), stopwords="en", show_progress=False), show_progress=False)
        tokenized = bm25s.tokenize(list(queries), stopwords="en", show_progress=False, return_ids=False)
        scores = torch.from_numpy(np.stack([retriever.get_scores(tokens) for tokens in tokenized]))
        order = torch.argsort(scores, dim=1, descending=True, stable=True)
        return [[group.segment_ids[i] for i in row] for row in order.tolist()]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]]) -> list[str]:
    """Fuse full rankings: score(d) = sum over rankings of 1 / (60 + rank)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores, key=lambda item: -scores[item])


def build_rankers(names: Sequence[str], encoder: EvoEncoder, segment_batching: bool = True) -> dict:
    """Rankers for the base systems that ``names`` (base or fused) need."""
    unknown = [name for name in names if name not in ALL_SYSTEMS]
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {', '.join(ALL_SYSTEMS)}")
    needed = {base for name in names for base in FUSED_SYSTEMS.get(name, (name,))}
    factories = {
        "evomem": lambda: EvolvableRanker(encoder, segment_batching),
        "static": lambda: StaticRanker(encoder),
        "bm25": Bm25Ranker,
    }
    return {name: factories[name]() for name in BASE_SYSTEMS if name in needed}
