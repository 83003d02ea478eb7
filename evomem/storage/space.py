"""Free disk space: a write that would not fit is refused before it touches the store.

Embedded Chroma does not recover well from a full disk inside a write (its compaction fails, and rolling the batch
back can block); so a batch first checks that the store's filesystem has room for it, with a margin.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import StoreFullError

MARGIN_BYTES = 16 * 1024 * 1024  # Chroma's write-ahead log, index growth and the memory state
COPIES = 8  # bytes written per byte of payload: write-ahead log, vector index, metadata tables, journal


def batch_bytes(segments: int, dim: int, text_bytes: int) -> int:
    """What a batch of ``segments`` vectors of ``dim`` floats and ``text_bytes`` of text may take on disk."""
    return COPIES * (segments * dim * 4 + text_bytes) + MARGIN_BYTES


def require_free_space(path: Path, needed: int) -> None:
    """Raise ``StoreFullError`` when ``path``'s filesystem has less than ``needed`` bytes free."""
    free = shutil.disk_usage(path).free
    if free < needed:
        raise StoreFullError(
            f"not enough free disk space for this write in {path}: {free / 1e6:.1f} MB free, about "
            f"{needed / 1e6:.1f} MB needed. Nothing of the batch was stored; reads still work. Free some space "
            "and write again."
        )
