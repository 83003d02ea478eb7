"""Upgrade a store to another model online: re-encode it from the stored text while its own model keeps answering,
then make the new model the store's, atomically.

1. The source is the store's model (``model.json``; for a store written before stores kept their model, the only
   other model with data). An ``upgrade.json`` marker names the source and the target while the upgrade runs.
2. Every namespace is re-encoded into the target's collection and memory states in batches (``reembed``), each
   batch committed like any write; writers of the store's model go on between batches and readers never wait.
3. Under the store's exclusive writer lock, what was written or deleted meanwhile is caught up (a namespace that
   changed under a batch already re-encoded is re-encoded anew), the target's copy is kept in the store and
   ``model.json`` is replaced: from then on the store opens with the target, and processes that had the store open
   follow it on their next call.

A kill at any moment leaves the store on its model, whole; running the upgrade again resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInputError
from ..storage.models import MODELS_DIR, StoreModels
from ..storage.state import StateDirectory, write_atomic
from ..storage.store import SegmentStore
from .reembed import check_batch_segments, choose_source, drop_model, reembed
from .workspace import Workspace

MARKER = "upgrade.json"  # under models/: {"source": ..., "target": ...} while an upgrade runs


@dataclass(frozen=True)
class UpgradeReport:
    """What an upgrade did."""

    source: str | None  # the model re-encoded from; None when the store was on the target already
    target: str  # the store's model now
    segments: dict[str, int] = field(default_factory=dict)  # each namespace's segments in the target
    resumed: bool = False  # an interrupted upgrade was resumed
    dropped_source: bool = False  # the source's collections and memory states were deleted


def upgrade(
    target: Workspace,
    models: StoreModels,
    replace: bool = False,
    drop_source: bool = False,
    batch_segments: int = 256,
    show_progress: bool = False,
    on_batch: Callable[[str, int], None] | None = None,
) -> UpgradeReport:
    """Re-encode the store into ``target``'s model and make it the store's model (see the module docstring).

    ``replace`` discards data the target model already holds in the store (from before an earlier upgrade away from
    it, or written by naming it), which is otherwise an error; ``drop_source`` deletes the source's data after the
    swap (by default it is kept, so the store can go back without re-encoding). ``on_batch(namespace, migrated)``
    is called after each batch of the online pass.
    """
    check_batch_segments(batch_segments)  # before anything of the target is replaced
    current = models.current()
    if current == target.fingerprint:
        models.keep(target.encoder, target.fingerprint)
        return UpgradeReport(None, target.fingerprint)
    source = current if current is not None else choose_source(target, None)
    marker = models.root / MODELS_DIR / MARKER
    resumed = _read_marker(marker) == {"source": source, "target": target.fingerprint}
    if not resumed:
        _clear_target(target, replace)
        write_atomic(marker, json.dumps({"source": source, "target": target.fingerprint}).encode())
    # online: writers go on between batches
    reembed(target, source, None, batch_segments, show_progress, on_batch=on_batch, redo_changed=True)
    with target.writer.writing(None):  # what was written meanwhile; nobody writes now
        segments = reembed(target, source, None, batch_segments, redo_changed=True)
        for name in set(target.store.namespaces()) - set(segments):  # deleted meanwhile
            target.writer.delete(name, None)
        models.keep(target.encoder, target.fingerprint)
        models.set_current(target.fingerprint)
        marker.unlink()
        if drop_source:
            drop_model(SegmentStore(target.store.connection, source, None), StateDirectory(target.path, source))
    return UpgradeReport(source, target.fingerprint, segments, resumed, drop_source)


def _read_marker(marker: Path) -> dict | None:
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _clear_target(target: Workspace, replace: bool) -> None:
    """A fresh upgrade starts from an empty target: its data from before is discarded with ``replace`` only."""
    held = sorted({*target.store.namespaces(), *target.states.namespaces()})
    if not held:
        return
    if not replace:
        listed = ", ".join(repr(name) for name in held[:5]) + (" ..." if len(held) > 5 else "")
        raise InvalidInputError(
            f"model {target.fingerprint} already holds data in this store ({len(held)} namespaces: {listed}), "
            "from before an earlier upgrade away from it or written by naming it; upgrade with replace=True "
            "(`evomem upgrade --replace`) to discard it, or open the store with that model to read it first"
        )
    for name in held:
        with target.writer.writing(name):
            target.writer.delete(name, None)
