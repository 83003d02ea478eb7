"""Calibrated relevance: a hit's channel scores mapped to the probability that it is what the query asks for.

Raw scores cannot be thresholded: a fused reciprocal rank is about 0.016 for every first hit, BM25 grows with the
query's length and the namespace's word statistics, and a cosine similarity means something different for each
model. A logistic model per search mode turns them into a value from 0 to 1 that means the same across queries,
namespaces and modes. Its features, for a hit: the cosine similarity, ``log(1 + BM25)``, and how far each falls
below the query's best in that ranking. It was fitted for the shipped default model on the training sources' dev
streams, with each question asked both in its own stream and in another one, where nothing is evidence
(``scripts/calibrate.py``; the figures are in ``docs/search.md``). The ranking is not changed by it: a mode's
hits are its own ``k`` best, ordered by this score.

A hybrid hit that one ranking did not place counts there as that ranking's ``floor``: the lowest score it
returned when it returned as many as it was asked for (the hit could have scored up to that), else 0 (BM25 of a
message that shares no word with the query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..schema import ChannelScores


@dataclass(frozen=True)
class Reference:
    """What a query's rankings returned, that a hit's scores are read against."""

    top: ChannelScores  # the best score of each ranking (None: it found nothing)
    floor: ChannelScores  # what a hit the ranking did not place counts as (see the module's docstring)


@dataclass(frozen=True)
class Logistic:
    """``sigmoid(bias + weights . features)``; a feature's weight is 0 when its mode has no such channel."""

    bias: float
    evolvable: float = 0.0  # the cosine similarity
    lexical: float = 0.0  # log(1 + BM25)
    evolvable_gap: float = 0.0  # the query's best cosine minus the hit's
    lexical_gap: float = 0.0  # the query's best log(1 + BM25) minus the hit's

    def __call__(self, cosine: float, words: float, cosine_gap: float, words_gap: float) -> float:
        z = self.bias + self.evolvable * cosine + self.lexical * words
        z += self.evolvable_gap * cosine_gap + self.lexical_gap * words_gap
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


# Fitted for the shipped default model (see the module's docstring).
CALIBRATION = {
    "evolvable": Logistic(bias=-4.883, evolvable=6.368, evolvable_gap=-3.451),
    "lexical": Logistic(bias=-2.761, lexical=0.626, lexical_gap=-1.145),
    "hybrid": Logistic(bias=-4.657, evolvable=5.946, lexical=0.184, evolvable_gap=-2.537, lexical_gap=-0.355),
}
# MCP ``recall``'s default ``min_score`` (``docs/search.md``: what it keeps and what it cuts).
DEFAULT_RECALL_MIN_SCORE = 0.1


def relevance(mode: str, channels: ChannelScores, reference: Reference) -> float:
    """The calibrated relevance of a hit of ``mode`` from its channel scores, read against its query's rankings."""
    cosine = _value(channels.evolvable, reference.floor.evolvable)
    words = math.log1p(max(_value(channels.lexical, reference.floor.lexical), 0.0))
    top_cosine = max(_value(reference.top.evolvable, cosine), cosine)
    top_words = max(math.log1p(max(_value(reference.top.lexical, 0.0), 0.0)), words)
    return round(CALIBRATION[mode](cosine, words, top_cosine - cosine, top_words - words), 6)


def _value(score: float | None, fallback: float | None) -> float:
    if score is not None:
        return score
    return fallback if fallback is not None else 0.0
