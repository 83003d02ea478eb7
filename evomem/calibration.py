"""Calibrated relevance: a hit's channel scores mapped to the probability that it is what the query asks for.

Raw scores cannot be thresholded: a fused reciprocal rank is about 0.016 for every first hit, BM25 grows with the
query's length and the namespace's word statistics, and a cosine similarity means something different for each
model. A logistic model per search mode, fitted on the training sources' dev streams (``scripts/calibrate.py``,
``docs/search.md``), turns the cosine and ``log(1 + BM25)`` into a value from 0 to 1 that means the same across
queries, namespaces and modes. The ranking is not changed by it: a mode orders its hits as before.

A hybrid hit that one ranking did not place is given that ranking's ``floor``: the lowest score it returned when
it returned as many as it was asked for (the hit could have scored up to that), else 0 (no shared word).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .schema import ChannelScores


@dataclass(frozen=True)
class Logistic:
    """``sigmoid(bias + cosine * evolvable + log(1 + bm25) * lexical)``."""

    bias: float
    evolvable: float = 0.0  # the cosine similarity's weight
    lexical: float = 0.0  # the weight of log(1 + BM25)

    def __call__(self, cosine: float, bm25: float) -> float:
        z = self.bias + self.evolvable * cosine + self.lexical * math.log1p(max(bm25, 0.0))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


# Fitted for the shipped default model on the training sources' dev streams (see the module's docstring).
CALIBRATION = {
    "evolvable": Logistic(bias=-9.0, evolvable=12.0),
    "lexical": Logistic(bias=-4.0, lexical=1.5),
    "hybrid": Logistic(bias=-9.5, evolvable=11.0, lexical=0.6),
}
# MCP ``recall``'s default ``min_score``: below it a hit is more likely noise than evidence (``docs/search.md``).
DEFAULT_RECALL_MIN_SCORE = 0.2


def relevance(mode: str, channels: ChannelScores, floor: ChannelScores | None = None) -> float:
    """The calibrated relevance of a hit of ``mode`` from its channel scores; a channel that did not place it
    counts as ``floor``'s value (0 without one)."""
    floor = floor or ChannelScores()
    cosine = _value(channels.evolvable, floor.evolvable)
    bm25 = _value(channels.lexical, floor.lexical)
    return round(CALIBRATION[mode](cosine, bm25), 6)


def _value(score: float | None, floor: float | None) -> float:
    if score is not None:
        return score
    return floor if floor is not None else 0.0
