"""Free disk space: a write that would not fit is refused before it touches the store, and reads keep working
when the disk fills up anyway.

Embedded Chroma does not recover well from a full disk inside a write (its compaction fails, and rolling the batch
back can block); so a batch first checks that the store's filesystem has room for it, with a margin. Another
program may still fill the disk during a write: then Chroma keeps the batch in its log, unapplied, and every read
must apply it first, which needs room. So an embedded store keeps a reserve (``space.reserve``, 4 MB, allocated
before every write): a write that fails on a full disk gives it back to the filesystem, and reads go on. Writes
resume once there is room for the reserve and the batch again.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..errors import StoreFullError

MARGIN_BYTES = 16 * 1024 * 1024  # Chroma's write-ahead log, index growth and the memory state
COPIES = 8  # bytes written per byte of payload: write-ahead log, vector index, metadata tables, journal
RESERVE_NAME = "space.reserve"
RESERVE_BYTES = 4 * 1024 * 1024  # room kept for reads to apply what a failed write left in Chroma's log


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


def keep_reserve(path: Path) -> None:
    """Allocate the store's reserve unless it is there (before a write); no room for it is a full store."""
    reserve = path / RESERVE_NAME
    if reserve.is_file() and reserve.stat().st_size >= RESERVE_BYTES:
        return
    try:
        descriptor = os.open(reserve, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(descriptor, 0, RESERVE_BYTES)
            else:  # macOS: written out
                os.write(descriptor, bytes(RESERVE_BYTES))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        reserve.unlink(missing_ok=True)
        if error.errno != errno.ENOSPC:
            raise
        raise StoreFullError(
            f"not enough free disk space for this write in {path}: no room for the {RESERVE_BYTES / 1e6:.0f} MB that "
            "evomem keeps free for reads. Nothing of the batch was stored; reads still work. Free some space and "
            "write again."
        ) from None


def release_reserve(path: Path) -> bool:
    """Give the reserve back to the filesystem (a write failed on a full disk); whether there was one."""
    try:
        (path / RESERVE_NAME).unlink()
    except FileNotFoundError:
        return False
    return True


def disk_is_full(path: Path) -> bool:
    return shutil.disk_usage(path).free < MARGIN_BYTES
