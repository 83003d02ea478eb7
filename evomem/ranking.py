"""Search modes, and how a mode's ranking is made: one hit per message, asked for more only while more could
exist, and the reciprocal-rank fusion of the evolvable and the lexical ranking."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .schema import Hit
from .store import StoredSegment

MODES = ("evolvable", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
DEFAULT_LEXICAL_WEIGHT = 0.5  # equal weights: plain reciprocal-rank fusion
RRF_K = 60  # the usual constant of reciprocal-rank fusion (Cormack et al., 2009)
FUSION_DEPTH = 50  # messages taken from each ranking before fusing (at least k)


def check_mode(mode: str, lexical_weight: float) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; choose one of {', '.join(MODES)}")
    if isinstance(lexical_weight, bool) or not isinstance(lexical_weight, int | float) or not 0 <= lexical_weight <= 1:
        raise ValueError(f"lexical_weight must be a number from 0 to 1, got {lexical_weight!r}")


@dataclass(frozen=True)
class Fetched:
    """Segments of one search request, best first, and whether the store holds no more candidates."""

    segments: list[StoredSegment]
    exhausted: bool


def best_per_message(segments: Sequence[StoredSegment]) -> list[Hit]:
    """A message's best part stands for it (segments come best first)."""
    hits: dict[str, Hit] = {}
    for segment in segments:
        message_id = segment.metadata["message_id"]
        if message_id not in hits:
            hits[message_id] = Hit(message_id, segment.text, segment.score, segment.metadata)
    return list(hits.values())


def widen(fetch: Callable[[int], Fetched], k: int, limit: int) -> list[Hit]:
    """The ``k`` best messages: ask for ``3k`` segments (several may be parts of one message), doubling while
    fewer than ``k`` messages came back and more could exist; ``limit`` bounds how many segments exist."""
    n = min(limit, 3 * k)
    while True:
        fetched = fetch(n)
        hits = best_per_message(fetched.segments)
        if len(hits) >= k or fetched.exhausted or n >= limit:
            return hits[:k]
        n = min(limit, 2 * n)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Fused scores, best first: an item's score is the sum over rankings of ``weight / (RRF_K + rank)``."""
    weights = [1.0] * len(rankings) if weights is None else weights
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (RRF_K + rank)
    return dict(sorted(scores.items(), key=lambda pair: -pair[1]))


def fuse(evolvable: list[Hit], lexical: list[Hit], lexical_weight: float, k: int) -> list[Hit]:
    """The ``k`` best messages of both rankings by weighted reciprocal-rank fusion; a hit's score is its fused
    score, its text the part that ranked best in the evolvable ranking (else the lexical one)."""
    scores = reciprocal_rank_fusion(
        [[hit.id for hit in evolvable], [hit.id for hit in lexical]], [1.0 - lexical_weight, lexical_weight]
    )
    by_id = {hit.id: hit for hit in reversed([*evolvable, *lexical])}
    return [Hit(i, by_id[i].text, score, by_id[i].metadata) for i, score in list(scores.items())[:k]]
