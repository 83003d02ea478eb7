"""Repair a namespace collection whose vector index lost records: rebuild it into a new one, then swap it in.

Two processes on one embedded directory (evomem before its directory lock) could drop vectors from the persisted
HNSW index: ``get`` still returns those records, vector search never does, and Chroma can no longer read their
vectors ("Error getting embedding"); upserting or deleting them in place crashes or wedges the collection. So
``repair`` copies every record of a damaged namespace's collection (``evomem-<fingerprint>-<namespace digest>``)
into a fresh one of the same name with ``-repair`` appended: ids, texts and metadata as stored, each vector as
stored when Chroma can still read it, else re-encoded from the stored text (the namespace read again as one
stream, as ``EvoMemory.rebuild`` does). Once the copy is checked against the original it replaces it: the old
collection is deleted and the new one renamed to the old name. Undamaged namespaces are left as they are.

Crash safety: a marker file per namespace (``state/<fingerprint>/<namespace digest>.repair.json``, written
atomically) says what is in progress.

- phase ``build``: the old collection is still the live one; a partial new one is dropped by the next ``repair``.
- phase ``swap``: the new collection is complete. The swap (marker, delete, rename, marker removed) runs under the
  directory lock, so no other process sees it half done; after a crash in it, the first process to open the
  collection again finishes it (``finish_swap``, called by ``SegmentStore``) before using it.

The whole repair holds the writer lock, so no write interleaves; memory states are not touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInputError, StoreCorruptedError
from ..schema import StoredSegment
from ..storage import swap
from ..storage.connection import ChromaConnection
from ..storage.space import batch_bytes, require_free_space
from ..storage.store import PAGE, SegmentStore
from ..storage.swap import BUILD, BUILD_SUFFIX, SWAP, marker_path
from .workspace import Workspace

if TYPE_CHECKING:
    import torch

UNREADABLE_VECTOR = "Error getting embedding"
SERVER_REFUSED = (
    "repair works on an embedded store only: a Chroma server's collection is shared by clients that the writer "
    "lock under this path does not stop, so their writes during the rebuild would be lost (and a server, one "
    "process, does not lose vectors this way). Stop the server and repair its data directory as an embedded "
    "store: `evomem --path P check --repair`, with the server's --path directory at P/chroma"
)


@dataclass(frozen=True)
class NamespaceRepair:
    """What a repair found and did in one namespace."""

    namespace: str
    records: int
    unsearchable_before: int
    unsearchable_after: int
    reencoded: int = 0  # records whose vector Chroma could not read, re-encoded from the stored text
    deviation: float | None = None  # re-encoded vs stored vectors of the readable records: max abs difference


@dataclass(frozen=True)
class RepairReport:
    """``rebuilt`` is False when nothing was unsearchable: the store was left as it was."""

    rebuilt: bool
    seconds: float
    namespaces: list[NamespaceRepair] = field(default_factory=list)

    @property
    def unsearchable(self) -> int:
        """Records that vector search still misses."""
        return sum(n.unsearchable_after for n in self.namespaces)

    def lines(self) -> list[str]:
        damaged = sum(1 for n in self.namespaces if n.unsearchable_before)
        head = (
            f"rebuilt {damaged} of {len(self.namespaces)} namespace collections in {self.seconds:.1f} s"
            if self.rebuilt
            else "nothing unsearchable: no repair"
        )
        return [head] + [
            f"namespace {n.namespace}: {n.records} records, unsearchable {n.unsearchable_before} -> "
            f"{n.unsearchable_after}, {n.reencoded} re-encoded from the stored text"
            + ("" if n.deviation is None else f" (stored vectors reproduced within {n.deviation:.1e})")
            for n in self.namespaces
        ]


@dataclass(frozen=True)
class _Copied:
    records: int
    reencoded: int
    deviation: float | None


def repair(workspace: Workspace, show_progress: bool = False) -> RepairReport:
    """Rebuild the collection of each namespace whose vector search misses a stored record (a no-op otherwise)."""
    connection = workspace.store.connection
    if not connection.embedded:
        raise InvalidInputError(SERVER_REFUSED)
    assert connection.directory is not None  # embedded
    began = time.monotonic()
    live = workspace.store
    build = SegmentStore(connection, workspace.fingerprint, live.dim, suffix=BUILD_SUFFIX)
    found = []
    with workspace.writer.writing(None):
        for name in _namespaces_to_check(live, build):
            marker = marker_path(connection.directory, workspace.fingerprint, name)
            swap.finish_swap(connection, marker, live.name(name))  # a repair killed mid-swap, in case no open did
            _drop_build(connection, build, name, marker)  # a repair killed while building starts again
            lost = live.unsearchable(name)
            if not lost:
                found.append(NamespaceRepair(name, live.count(name), 0, 0))
                continue
            swap.write_marker(marker, BUILD)
            copied = _copy_namespace(workspace, build, name, lost, show_progress)
            _check_copy(live, build, name)
            after = build.unsearchable(name)
            with connection.using(writing=True) as client:
                swap.write_marker(marker, SWAP)
                swap.swap(client, live.name(name), marker)
            connection.discard()  # every store of this process fetches the new collection
            found.append(
                NamespaceRepair(name, copied.records, len(lost), len(after), copied.reencoded, copied.deviation)
            )
    return RepairReport(any(n.unsearchable_before for n in found), time.monotonic() - began, found)


def _namespaces_to_check(live: SegmentStore, build: SegmentStore) -> list[str]:
    """Namespaces with records, and those with a repair's partial collection or marker left behind."""
    return sorted({*live.namespaces(), *build.collections()})


def _copy_namespace(workspace: Workspace, build: SegmentStore, name: str, suspects: list[str], show: bool) -> _Copied:
    """Copy every record of a namespace into ``build``, page by page; vectors Chroma cannot read are re-encoded."""
    live = workspace.store
    records = live.get(name)  # every record, committed or not: a batch in flight stays in flight
    assert live.dim is not None  # an open store's: the encoder's
    require_free_space(workspace.path, batch_bytes(len(records), live.dim, sum(len(r.text.encode()) for r in records)))
    known = _readable_vectors(live, suspects)  # apart from the rest, whose pages read whole

    def encode() -> dict[str, torch.Tensor]:
        return workspace.read_again(name, records, show, "repair").vectors

    encoded = encode() if len(known) < len(suspects) else None
    reencoded, deviation = 0, None
    for start in range(0, len(records), PAGE):
        page = records[start : start + PAGE]
        vectors = {**known, **_readable_vectors(live, [r.record_id for r in page if r.record_id not in known])}
        lost = [r.record_id for r in page if r.record_id not in vectors]
        if lost and encoded is None:  # a vector lost although search returns the record
            encoded = encode()
        if encoded is not None:
            deviation = max(deviation or 0.0, _deviation(encoded, vectors, page))
            vectors.update({rid: encoded[rid].tolist() for rid in lost})
        reencoded += len(lost)
        build.upsert(
            [r.record_id for r in page],
            [vectors[r.record_id] for r in page],
            [r.text for r in page],
            [r.metadata for r in page],
        )
    return _Copied(len(records), reencoded, deviation)


def _readable_vectors(store: SegmentStore, ids: list[str]) -> dict[str, list[float]]:
    """The stored vectors of those ``ids`` that Chroma can still read (halving a page that it cannot)."""
    from chromadb.errors import InternalError

    if not ids:
        return {}
    try:
        return {record.record_id: record.embedding for record in store.fetch(ids)}
    except InternalError as error:
        if UNREADABLE_VECTOR not in str(error):
            raise
    if len(ids) == 1:
        return {}
    half = len(ids) // 2
    return {**_readable_vectors(store, ids[:half]), **_readable_vectors(store, ids[half:])}


def _deviation(encoded: dict[str, torch.Tensor], stored: dict[str, list[float]], page: list[StoredSegment]) -> float:
    """Max abs difference between the re-encoded and the stored vectors of a page's readable records."""
    import torch

    pairs = [(encoded[r.record_id], stored[r.record_id]) for r in page if r.record_id in stored]
    return max((float((new - torch.tensor(old)).abs().max()) for new, old in pairs), default=0.0)


def _check_copy(live: SegmentStore, build: SegmentStore, name: str) -> None:
    """Raise, leaving the live collection as it was, unless ``build`` holds exactly the live records."""

    def records(store: SegmentStore) -> list[tuple]:
        return sorted((s.record_id, s.text, s.metadata) for s in store.get(name))

    if records(live) != records(build):
        raise StoreCorruptedError(
            f"the rebuilt collection {build.name(name)} differs from {live.name(name)} ({build.count(name)} vs "
            f"{live.count(name)} records); {live.name(name)} is unchanged"
        )


def _drop_build(connection: ChromaConnection, build: SegmentStore, name: str, marker: Path) -> None:
    """Delete the partial collection of a repair killed while building, then its marker."""
    if swap.read_phase(marker) != BUILD:
        return
    build.drop(name)
    swap.end(marker)
