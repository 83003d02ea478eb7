"""A namespace's searches: each mode's rankings over the committed segments, fused and calibrated, as hits.

The facade checks the arguments and loads the namespace's memory; ``Searcher.search`` does the rest. In hybrid
mode the lexical ranking (SQLite FTS5, which lets go of the GIL) runs in a thread while the queries are encoded and
searched by vector.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, cast

import torch

from ..errors import InvalidInputError, InvalidTypeError
from ..model.encoder import EvoEncoder
from ..model.queue import LatentQueue
from ..schema import Candidate, ChannelScores, Hit, HitMetadata, StoredSegment, parse_timestamp
from ..storage.journal import WriteJournal
from ..storage.store import SegmentStore, record_id
from ..storage.writer import NamespaceWriter
from .calibration import Reference, relevance
from .ranking import FUSION_DEPTH, Fetched, fuse, widen

# the lexical half of hybrid searches, run beside their vector half (threads are made as searches need them)
_BESIDE = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="evomem-lexical")


class Searcher:
    """Searches the committed segments of an open store's namespaces."""

    def __init__(self, encoder: EvoEncoder, store: SegmentStore, journal: WriteJournal, writer: NamespaceWriter):
        self.encoder = encoder
        self.store = store
        self.journal = journal  # which records are old parts of messages added again
        self.writer = writer  # brings a namespace's lexical index up to date

    def search(
        self,
        queue: LatentQueue,
        queries: list[str],
        namespace: str,
        k: int,
        checked: dict[str, Any],
        filters: list[dict[str, Any]],
    ) -> list[list[Hit]]:
        """The ``k`` best messages for each query, best first by calibrated relevance: ``queue`` is the namespace's
        committed memory, ``checked`` the search options (``schema.search_options``), ``filters`` the Chroma
        filters made of them (``search_filters``)."""
        mode, lexical_weight, exclude_latest = checked["mode"], checked["lexical_weight"], checked["exclude_latest"]
        if queue.step == 0 or not queries:
            return [[] for _ in queries]
        hidden = self.journal.superseded(namespace, queue.step)  # old parts of messages added again, until deleted
        if mode != "evolvable":
            self.writer.index_lexically(namespace, queue.step)
        below = queue.step
        if exclude_latest:
            below = self.store.latest_messages_start(namespace, exclude_latest, queue.step, hidden)
        if below == 0:
            return [[] for _ in queries]
        depth = max(k, FUSION_DEPTH) if mode == "hybrid" else k

        def lexical_rankings() -> list[list[Candidate]]:
            return [self._lexical(query, namespace, below, depth, filters, hidden) for query in queries]

        if mode == "lexical":
            rankings = lexical_rankings()
            references = [_reference([], found, depth) for found in rankings]
        else:
            lexical = _BESIDE.submit(lexical_rankings) if mode == "hybrid" else None
            with torch.inference_mode():
                vectors = self.encoder.encode_queries(queue, queries)
            rankings = [self._evolvable(vector, namespace, below, depth, filters, hidden) for vector in vectors]
            references = [_reference(found, [], depth) for found in rankings]
            if lexical is not None:
                pairs = list(zip(rankings, lexical.result(), strict=True))
                references = [_reference(evolvable, words, depth) for evolvable, words in pairs]
                rankings = [fuse(evolvable, words, lexical_weight, k) for evolvable, words in pairs]
        stored = {c.record_id: c.segment for found in rankings for c in found if c.segment is not None}
        unread = {c.record_id for found in rankings for c in found} - stored.keys()  # lexical-only hits
        stored |= self.store.segments(list(unread))
        # a segment that a writer deleted meanwhile is left out
        hits = [
            [_hit(mode, c, stored[c.record_id], reference) for c in found if c.record_id in stored]
            for found, reference in zip(rankings, references, strict=True)
        ]
        # a fused ranking's k best, best first by calibrated relevance (one channel's order is already that)
        return [sorted((hit for hit in found if hit.score >= checked["min_score"]), key=_by_score) for found in hits]

    def _evolvable(
        self,
        vector: torch.Tensor,
        namespace: str,
        below: int,
        k: int,
        filters: list[dict[str, Any]],
        hidden: frozenset[str],
    ) -> list[Candidate]:
        def fetch(n: int) -> Fetched:
            found = self.store.query(vector, namespace, n, filters, below=below)
            return Fetched([c for c in found if c.record_id not in hidden], len(found) < n)

        # every committed segment took one memory step, so positions below ``below`` hold at most that many
        with _filter_errors(filters):
            return widen(fetch, k, below)

    def _lexical(
        self, query: str, namespace: str, below: int, k: int, filters: list[dict[str, Any]], hidden: frozenset[str]
    ) -> list[Candidate]:
        def fetch(n: int) -> Fetched:
            found, matched = self.store.lexical_query(query, namespace, n, filters, below=below)
            candidates = [Candidate(record_id(namespace, m.position), m.message_id, m.score) for m in found]
            return Fetched([c for c in candidates if c.record_id not in hidden], matched < n)

        with _filter_errors(filters):
            return widen(fetch, k, below)


def search_filters(checked: dict[str, Any]) -> list[dict[str, Any]]:
    """The Chroma filters of checked search options: ``where``, ``time_range`` and ``exclude_roles``."""
    filters = _filters(checked["where"], checked["time_range"])
    if checked["exclude_roles"]:
        filters.append({"role": {"$nin": checked["exclude_roles"]}})
    return filters


def _filters(where: dict[str, Any] | None, time_range: tuple[Any, Any] | None) -> list[dict[str, Any]]:
    filters = []
    if where is not None:
        if not isinstance(where, dict) or not where:
            raise InvalidTypeError("where must be a non-empty dict of Chroma metadata filters")
        from chromadb.api.types import validate_where

        try:
            validate_where(where)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"invalid where filter {where!r}: {error}") from None
        filters.append(where)
    if time_range is not None:
        if not isinstance(time_range, tuple | list) or len(time_range) != 2:
            raise InvalidTypeError("time_range must be a (start, end) pair")
        start, end = (parse_timestamp(value) for value in time_range)
        if start is not None and end is not None and start > end:
            raise InvalidInputError(f"time_range starts after it ends: {time_range!r}")
        if start is not None or end is not None:
            filters.append({"$or": [_within(key, start, end) for key in ("time", "timestamp")]})
    return filters


def _within(key: str, start: float | None, end: float | None) -> dict[str, Any]:
    """The Chroma filter of a metadata time between ``start`` and ``end`` (either may be None). ``time`` is
    every segment's time since 0.2 (its ``timestamp``, else its ``created_at``); earlier segments have only the
    ``timestamp`` they were given."""
    bounds = [{key: {"$gte": start}}] * (start is not None) + [{key: {"$lte": end}}] * (end is not None)
    return bounds[0] if len(bounds) == 1 else {"$and": bounds}


def _channels(mode: str, candidate: Candidate) -> ChannelScores:
    """What each ranking said of a candidate of ``mode``."""
    if candidate.channels is not None:
        return candidate.channels
    return ChannelScores(evolvable=candidate.score) if mode == "evolvable" else ChannelScores(lexical=candidate.score)


def _reference(evolvable: list[Candidate], lexical: list[Candidate], depth: int) -> Reference:
    """What a query's rankings returned, for ``evomem.search.calibration``: each one's best score, and what a fused
    hit that one of them did not place could have scored there at most: the ranking's lowest score when it returned
    ``depth`` candidates; a lexical ranking that returned fewer holds every message sharing a word with the
    query, so the others score 0."""
    top = ChannelScores(
        evolvable=max((c.score for c in evolvable), default=None),
        lexical=max((c.score for c in lexical), default=None),
    )
    lowest_cosine = min((c.score for c in evolvable), default=None)
    lowest_bm25 = min((c.score for c in lexical), default=0.0) if len(lexical) >= depth else 0.0
    return Reference(top, ChannelScores(evolvable=lowest_cosine, lexical=lowest_bm25))


def _by_score(hit: Hit) -> float:
    return -hit.score


def _hit(mode: str, candidate: Candidate, segment: StoredSegment, reference: Reference) -> Hit:
    """A search's hit: the candidate's message, scored by its calibrated relevance."""
    channels = _channels(mode, candidate)
    metadata = cast(HitMetadata, segment.metadata)
    return Hit(candidate.message_id, segment.text, relevance(mode, channels, reference), metadata, channels)


@contextmanager
def _filter_errors(filters: list[dict[str, Any]]) -> Iterator[None]:
    """A filter that Chroma rejects is the caller's ``InvalidInputError``."""
    try:
        yield
    except Exception as error:
        if filters and type(error).__name__ == "InvalidArgumentError":
            raise InvalidInputError(f"Chroma rejected the filter {filters!r}: {error}") from None
        raise
