"""Migrate a store written by one model to another, from the stored text.

Every model fingerprint has its own Chroma collection and memory states, so a store opened with a new model
starts empty and never mixes vectors. ``reembed`` fills the new model's collection from an old one: each
namespace's committed segments are read in stream order and ingested again with the new model, in batches of
``batch_segments``, each batch journalled and committed like any write. The new memory step of a namespace is the
number of its segments already migrated, so an interrupted migration (crash, kill, Ctrl-C) resumes where it
stopped, with the same batch boundaries and hence the same vectors as an uninterrupted one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence

from tqdm.auto import tqdm

from ..errors import InvalidInputError, InvalidTypeError
from ..schema import Segment, StoredSegment, check_namespace
from ..storage.journal import Journal
from ..storage.state import StateCorruptedError, StateDirectory
from ..storage.store import SegmentStore, evomem_collections, user_metadata
from ..storage.writer import reconcile
from .workspace import Workspace, stream_order


def source_fingerprints(target: Workspace) -> dict[str, int]:
    """Other models' collections reachable from ``target``'s Chroma client: fingerprint -> record count."""
    found = evomem_collections(target.store.connection)
    found.pop(target.fingerprint, None)
    return found


def check_batch_segments(batch_segments: int) -> None:
    """Segments a commit: a positive integer."""
    if isinstance(batch_segments, bool) or not isinstance(batch_segments, int) or batch_segments <= 0:
        raise InvalidInputError(f"batch_segments must be a positive integer, got {batch_segments!r}")


def choose_source(target: Workspace, source: str | None) -> str:
    candidates = source_fingerprints(target)
    if source is None:
        filled = {fp: n for fp, n in candidates.items() if n}
        if len(filled) != 1:
            listed = ", ".join(f"{fp} ({n} segments)" for fp, n in sorted(candidates.items())) or "none"
            raise InvalidInputError(f"choose the model to migrate from with source=FINGERPRINT; other models: {listed}")
        return next(iter(filled))
    if not isinstance(source, str):
        raise InvalidTypeError(f"source must be a model fingerprint (a string), got {type(source).__name__}")
    if source == target.fingerprint:
        raise InvalidInputError("the source is the target model itself; use rebuild() to rebuild its memory states")
    if source not in candidates:
        raise InvalidInputError(
            f"no evomem collection for model {source!r}; found: {', '.join(sorted(candidates)) or 'none'}"
        )
    return source


def _committed(store: SegmentStore, states: StateDirectory, namespace: str) -> list[StoredSegment]:
    """A source namespace's committed segments in stream order (all of them when its state is unreadable)."""
    try:
        below = states.step(namespace) or None
    except StateCorruptedError:
        below = None
    stored = store.get(namespace, below=below)
    return sorted(stored, key=stream_order)


def reembed(
    target: Workspace,
    source: str | None = None,
    namespaces: Sequence[str] | None = None,
    batch_segments: int = 256,
    show_progress: bool = False,
    drop_source: bool = False,
    on_batch: Callable[[str, int], None] | None = None,
    redo_changed: bool = False,
) -> dict[str, int]:
    """Re-encode the namespaces of model ``source`` (a fingerprint; default: the only other model with data)
    into ``target``'s model; returns the number of segments of each namespace in the target.

    Resumable: run it again after an interruption. ``drop_source`` deletes the source collection and memory
    states once every namespace is migrated. ``on_batch(namespace, migrated)`` is called after each commit, the
    lock let go.
    A target namespace that is not a migration of the source's (its messages were changed or deleted since) is
    an error, or with ``redo_changed`` (the target's data being a migration's own) deleted and migrated anew.
    """
    check_batch_segments(batch_segments)
    if namespaces is not None:
        if isinstance(namespaces, str):
            raise InvalidTypeError("namespaces must be a list of namespace names, not one string")
        namespaces = [check_namespace(name) for name in namespaces]
    source = choose_source(target, source)
    source_store = SegmentStore(target.store.connection, source, None)
    source_states = StateDirectory(target.path, source)
    source_journal = Journal(source_states)
    migrated: dict[str, int] = {}
    with target.writer.writing(None):
        source_store.migrate_legacy()  # a source model that wrote evomem's first layout
        reconcile(source_store, source_states, source_journal, undo_if_unreadable=True)
        names = list(namespaces) if namespaces is not None else source_store.namespaces()
        plans = {name: _committed(source_store, source_states, name) for name in names}
    total = sum(len(segments) for segments in plans.values())
    with tqdm(total=total, desc=f"reembed {source[:8]} -> {target.fingerprint[:8]}", disable=not show_progress) as bar:
        for name, segments in plans.items():
            with target.writer.writing(name):
                done = _resume_point(target, name, segments, source, redo_changed)
            bar.update(done)
            for start in range(done, len(segments), batch_segments):  # the lock is let go between batches
                chunk = segments[start : start + batch_segments]
                with target.writer.writing(name):
                    queue = target.states.load(name, *target.encoder.queue_shape)
                    if queue.step != start:
                        raise InvalidInputError(
                            f"namespace {name!r} of model {target.fingerprint} was written by another process during "
                            "its migration; run the migration again"
                        )
                    entries = [
                        Segment(
                            str(s.metadata["message_id"]),
                            int(s.metadata["part"]),
                            s.text,
                            user_metadata(s.metadata) | _written_at(s.metadata),
                        )
                        for s in chunk
                    ]
                    target.writer.add(name, queue, entries)
                bar.update(len(chunk))
                if on_batch is not None:
                    on_batch(name, start + len(chunk))
            migrated[name] = len(segments)
    if drop_source and namespaces is None:
        with target.writer.writing(None):
            drop_model(source_store, source_states)
    return migrated


def drop_model(store: SegmentStore, states: StateDirectory) -> None:
    """Delete a model's collections and memory states from a store (writer lock held)."""
    for name in store.collections():
        store.drop(name)
    shutil.rmtree(states.directory, ignore_errors=True)


def _resume_point(
    target: Workspace, namespace: str, segments: list[StoredSegment], source: str, redo_changed: bool
) -> int:
    """How many of ``segments`` the target already holds, checking that it holds nothing else."""
    step = target.states.step(namespace)
    if step == 0:
        return 0
    held = {_identity(s) for s in target.store.get(namespace, below=step)}
    expected = {_identity(s) for s in segments[:step]}
    if step > len(segments) or held != expected:
        if redo_changed:
            target.writer.delete(namespace, None)
            return 0
        raise InvalidInputError(
            f"namespace {namespace!r} of model {target.fingerprint} already holds {len(held)} segments that are not a "
            f"migration of model {source}; delete it first (evomem delete --namespace {namespace}) to migrate it"
        )
    return step


def _identity(segment: StoredSegment) -> tuple[str, int, str]:
    """What a migrated segment must keep: its message, its part and its text (a message added again changes it)."""
    return str(segment.metadata["message_id"]), int(segment.metadata["part"]), segment.text


def _written_at(metadata: dict) -> dict:
    """A record's first write time, kept when it is written again with another model."""
    return {"created_at": metadata["created_at"]} if "created_at" in metadata else {}
