"""Drawing questions from a finite real source so that each is used once before any is used again."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


class LeastUsed:
    """Picks the items used least so far (ties at random) and counts them as used."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.uses: Counter = Counter()

    def order(self, items: Sequence[Item]) -> list[Item]:
        """``items`` from least to most used, ties shuffled."""
        return sorted(items, key=lambda item: (self.uses[item], self.rng.random()))

    def take(self, items: Sequence[Item], count: int) -> list[Item]:
        chosen = self.order(items)[:count]
        self.uses.update(chosen)
        return chosen
