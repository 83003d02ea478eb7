"""Search modes, and how a mode's ranking is made: one candidate per message, asked for more only while more
could exist, and the reciprocal-rank fusion of the evolvable and the lexical ranking. Rankings hold record ids;
a vector search reads its candidates' text and metadata in the same Chroma call (``Candidate.segment``), and the
facade reads those of the other final hits only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..schema import Candidate, ChannelScores

RRF_K = 60  # the usual constant of reciprocal-rank fusion (Cormack et al., 2009)
FUSION_DEPTH = 50  # messages taken from each ranking before fusing (at least k)


@dataclass(frozen=True)
class Fetched:
    """Candidates of one search request, best first, and whether the store holds no more."""

    candidates: list[Candidate]
    exhausted: bool


def best_per_message(candidates: Sequence[Candidate]) -> list[Candidate]:
    """A message's best part stands for it (candidates come best first)."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        best.setdefault(candidate.message_id, candidate)
    return list(best.values())


def widen(fetch: Callable[[int], Fetched], k: int, limit: int) -> list[Candidate]:
    """The ``k`` best messages: ask for ``1.5k`` segments (several may be parts of one message; reading each
    costs), doubling while fewer than ``k`` messages came back and more could exist; ``limit`` bounds how many
    segments exist."""
    n = min(limit, k + (k + 1) // 2)
    while True:
        fetched = fetch(n)
        hits = best_per_message(fetched.candidates)
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


def fuse(evolvable: list[Candidate], lexical: list[Candidate], lexical_weight: float, k: int) -> list[Candidate]:
    """The ``k`` best messages of both rankings by weighted reciprocal-rank fusion, scored by their fused score;
    a message's part is the one that ranked best in the evolvable ranking (else in the lexical one); each keeps
    both rankings' scores (``channels``)."""
    scores = reciprocal_rank_fusion(
        [[c.message_id for c in evolvable], [c.message_id for c in lexical]], [1.0 - lexical_weight, lexical_weight]
    )
    part = {c.message_id: c for c in reversed([*evolvable, *lexical])}
    cosine = {c.message_id: c.score for c in evolvable}
    words = {c.message_id: c.score for c in lexical}
    return [
        replace(part[m], score=score, channels=ChannelScores(cosine.get(m), words.get(m), score))
        for m, score in list(scores.items())[:k]
    ]
