"""The retrieval systems compared in one run; each ranks a group's segments for each of its queries.

A ranker's ``rank_points(group, points)`` ranks, for each point ``at`` (how many segments have been read when
the queries are asked), the segments ``0 .. at - 1`` for each query asked there; ``rank(group, queries)`` asks
them all after the whole group.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from ..errors import InvalidInputError
from ..model.encoder import EvoEncoder
from ..model.loading import static_model
from ..model.stream import encode_stream
from ..schema import MODES
from .tasks import Group

_Id = TypeVar("_Id")

SEARCH_PREFIX = "search-"  # "search-<mode>": the product's own EvoMemory.search in that mode
SEARCH_SYSTEMS = tuple(f"{SEARCH_PREFIX}{mode}" for mode in MODES)
BASE_SYSTEMS = ("evomem", "static", "bm25", *SEARCH_SYSTEMS)
FUSED_SYSTEMS = {"bm25+static": ("bm25", "static"), "bm25+evomem": ("bm25", "evomem")}
ALL_SYSTEMS = (*BASE_SYSTEMS, *FUSED_SYSTEMS)
SEARCH_DEPTH = 100  # hits a product search returns per query (R@k needs 10; MRR past 100 counts as 0)
Points = Mapping[int, Sequence[str]]  # segments read -> the queries asked then


class Ranker:
    """Ranks one group's segments for queries; subclasses rank at points along the group."""

    def rank_points(self, group: Group, points: Points) -> dict[int, list[list[str]]]:
        raise NotImplementedError

    def rank(self, group: Group, queries: Sequence[str]) -> list[list[str]]:
        return self.rank_points(group, {len(group.texts): queries})[len(group.texts)]


def prefix(group: Group, at: int) -> Group:
    return Group(group.id, group.segment_ids[:at], group.texts[:at])


def rank_by_similarity(
    segment_vectors: torch.Tensor, query_vectors: torch.Tensor, ids: Sequence[_Id]
) -> list[list[_Id]]:
    order = torch.argsort(query_vectors @ segment_vectors.T, dim=1, descending=True, stable=True)
    return [[ids[i] for i in row] for row in order.tolist()]


class EvolvableRanker(Ranker):
    """evomem: the group is read in order; queries are encoded with the memory at their point."""

    def __init__(self, encoder: EvoEncoder, segment_batching: bool = True):
        self.encoder = encoder
        self.segment_batching = segment_batching

    @torch.inference_mode()
    def rank_points(self, group: Group, points: Points) -> dict[int, list[list[str]]]:
        queue = self.encoder.new_queue()
        token_ids = self.encoder.tokenize(group.texts[: max(points)])
        vectors, read, ranked = [], 0, {}
        for at in sorted(points):
            if at > read:
                vectors.append(encode_stream(self.encoder, queue, token_ids[read:at], self.segment_batching))
                read = at
            queries = self.encoder.encode_queries(queue, list(points[at]))
            ranked[at] = rank_by_similarity(torch.cat(vectors)[:at], queries, group.segment_ids)
        return ranked


class ProductSearch:
    """The product itself: a group is added to an ``EvoMemory`` (a fresh namespace, in a temporary directory)
    message by message, and each query runs through ``EvoMemory.search`` in every mode asked for, at its point.
    The modes share one ingest; the rankings of the last group are kept for the other modes' rankers."""

    def __init__(self, encoder: EvoEncoder, segment_batching: bool = True):
        from ..memory import EvoMemory

        self.directory = tempfile.TemporaryDirectory(prefix="evomem-eval-")
        self.memory = EvoMemory(Path(self.directory.name), model=encoder, segment_batching=segment_batching)
        self.modes: list[str] = []
        self.last: tuple[Group, dict[str, dict[int, list[list[str]]]]] | None = None

    def rank_points(self, group: Group, points: Points, mode: str) -> dict[int, list[list[str]]]:
        if self.last is None or self.last[0] is not group:
            self.last = (group, self._rank_all(group, points))
        return self.last[1][mode]

    def _rank_all(self, group: Group, points: Points) -> dict[str, dict[int, list[list[str]]]]:
        namespace = "group-" + hashlib.sha1(group.id.encode()).hexdigest()[:16]  # any group id is a namespace
        ranked: dict[str, dict[int, list[list[str]]]]
        read, ranked = 0, {mode: {} for mode in self.modes}
        for at in sorted(points):
            if at > read:
                messages = [
                    as_message(i, t) for i, t in zip(group.segment_ids[read:at], group.texts[read:at], strict=True)
                ]
                self.memory.add_messages(messages, namespace=namespace)
                read = at
            for mode in self.modes:
                ranked[mode][at] = [
                    [hit.id for hit in self.memory.search(query, namespace, k=min(at, SEARCH_DEPTH), mode=mode)]
                    for query in points[at]
                ]
        self.memory.delete_namespace(namespace)
        return ranked


class SearchRanker(Ranker):
    """``EvoMemory.search`` in one mode (see ``ProductSearch``)."""

    def __init__(self, product: ProductSearch, mode: str):
        self.product = product
        self.mode = mode
        product.modes.append(mode)

    def rank_points(self, group: Group, points: Points) -> dict[int, list[list[str]]]:
        return self.product.rank_points(group, points, self.mode)


def as_message(segment_id: str, text: str) -> dict[str, str]:
    """A segment as a chat message that is stored with the same text: ``"Speaker: words"`` becomes name and
    content; any other text is the content of a ``user`` message (stored as ``"user: text"``)."""
    name, colon, content = text.partition(": ")
    if colon and content.strip() and 0 < len(name) <= 40 and "\n" not in name:
        return {"role": "user", "name": name, "content": content, "id": segment_id}
    return {"role": "user", "content": text, "id": segment_id}


class StaticRanker(Ranker):
    """The static base model as users run it: sentence-transformers over the same backbone, no memory."""

    def __init__(self, encoder: EvoEncoder):
        self.model = static_model(encoder)

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.tensor(self.model.encode(list(texts), batch_size=32, normalize_embeddings=True))

    def rank_points(self, group: Group, points: Points) -> dict[int, list[list[str]]]:
        vectors = self._encode(group.texts[: max(points)])
        ranked = {}
        for at, queries in points.items():
            ranked[at] = rank_by_similarity(vectors[:at], self._encode(queries), group.segment_ids)
        return ranked


class Bm25Ranker(Ranker):
    """BM25 (bm25s, Lucene variant, English stopwords)."""

    def rank_points(self, group: Group, points: Points) -> dict[int, list[list[str]]]:
        return {at: self._rank(prefix(group, at), queries) for at, queries in points.items()}

    def _rank(self, group: Group, queries: Sequence[str]) -> list[list[str]]:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(list(group.texts), stopwords="en", show_progress=False), show_progress=False)
        tokenized = bm25s.tokenize(list(queries), stopwords="en", show_progress=False, return_ids=False)
        scores = torch.from_numpy(np.stack([retriever.get_scores(tokens) for tokens in tokenized]))
        order = torch.argsort(scores, dim=1, descending=True, stable=True)
        return [[group.segment_ids[i] for i in row] for row in order.tolist()]


def build_rankers(names: Sequence[str], encoder: EvoEncoder, segment_batching: bool = True) -> dict:
    """Rankers for the base systems that ``names`` (base or fused) need."""
    unknown = [name for name in names if name not in ALL_SYSTEMS]
    if unknown:
        raise InvalidInputError(f"unknown systems {unknown}; choose from {', '.join(ALL_SYSTEMS)}")
    needed = {base for name in names for base in FUSED_SYSTEMS.get(name, (name,))}
    factories = {
        "evomem": lambda: EvolvableRanker(encoder, segment_batching),
        "static": lambda: StaticRanker(encoder),
        "bm25": Bm25Ranker,
    }
    if needed & set(SEARCH_SYSTEMS):
        product = ProductSearch(encoder, segment_batching)
        for name in SEARCH_SYSTEMS:
            factories[name] = partial(SearchRanker, product, name.removeprefix(SEARCH_PREFIX))
    return {name: factories[name]() for name in BASE_SYSTEMS if name in needed}
