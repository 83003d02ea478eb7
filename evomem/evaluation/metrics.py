"""Ranking metrics for one query with binary relevance."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import InvalidInputError

RECALL_AT = (1, 5, 10)


def score_ranking(ranking: Sequence[str], relevant: set[str]) -> dict[str, float]:
    """Recall@1/5/10, nDCG@10 and MRR of a ranked list of ids against the relevant ids."""
    if not relevant:
        raise InvalidInputError("a query needs at least one relevant id")
    scores = {f"recall@{k}": len(set(ranking[:k]) & relevant) / len(relevant) for k in RECALL_AT}
    gains = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranking[:10]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(10, len(relevant))))
    scores["ndcg@10"] = gains / ideal
    first = next((rank for rank, item in enumerate(ranking) if item in relevant), None)
    scores["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
    return scores
