"""The train/dev split: whole groups (an episode, a meeting series, a dialogue family) go to one side.

A group goes to dev when the first eight hex digits of the sha256 of its id, read as a fraction of
``16**8``, fall below ``DEV_SHARE``; the same rule for every source, so a train file and a dev file never
share a group, whatever the seed or the mix.
"""

from __future__ import annotations

import hashlib

from ..errors import InvalidInputError

DEV_SHARE = 0.15
SPLITS = ("all", "train", "dev")


def side(group: str) -> str:
    """``"dev"`` or ``"train"`` for a group id."""
    fraction = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    return "dev" if fraction < DEV_SHARE else "train"


def in_split(group: str, split: str) -> bool:
    """Whether a group belongs to ``split`` (``"all"`` holds every group)."""
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split == "all" or side(group) == split
