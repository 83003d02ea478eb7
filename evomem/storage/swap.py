"""The swap of a rebuilt collection in place of a live one, and its crash-safe marker.

``evomem.maintenance.repair`` builds a namespace's collection anew under the live name with ``BUILD_SUFFIX``
appended, then swaps it in. A marker file per namespace (``state/<fingerprint>/<namespace digest>.repair.json``,
written atomically) says which phase is in progress: ``build`` (the live collection is still the one in use; a
partial build is dropped by the next repair) or ``swap`` (the build is complete). The swap (marker, delete, rename,
marker removed) runs under the directory lock, and a process that opens a collection whose marker says ``swap``
finishes it first (``finish_swap``, called by ``SegmentStore``), so no process sees it half done.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import StoreCorruptedError
from .connection import ChromaConnection
from .state import StateDirectory, fsync_dir, namespace_digest, write_atomic

MARKER_SUFFIX = ".repair.json"
MARKER_FORMAT = "evomem-repair"
BUILD, SWAP = "build", "swap"
BUILD_SUFFIX = "-repair"


def marker_path(directory: Path, fingerprint: str, namespace: str) -> Path:
    """The repair marker of a namespace's collection in the embedded store ``directory`` (``path/chroma``)."""
    return StateDirectory(directory.parent, fingerprint).directory / (namespace_digest(namespace) + MARKER_SUFFIX)


def finish_swap(connection: ChromaConnection, marker: Path, live: str) -> None:
    """Finish the swap into collection ``live`` of a repair that was killed during it (a no-op unless its
    ``marker`` says ``swap``)."""
    if read_phase(marker) != SWAP:
        return
    with connection.using(writing=True) as client:
        if read_phase(marker) == SWAP:
            swap(client, live, marker)


def swap(client, live: str, marker: Path) -> None:
    """Replace the live collection by the complete new one (idempotent: resumes wherever a crash stopped it)."""
    build = live + BUILD_SUFFIX
    names = _names(client)
    if build in names:
        if live in names:
            client.delete_collection(live)
        client.get_collection(build, embedding_function=None).modify(name=live)
    end(marker)


def _names(client) -> set[str]:
    return {listed if isinstance(listed, str) else listed.name for listed in client.list_collections()}


def write_marker(marker: Path, phase: str) -> None:
    """Say (atomically) that a repair of the marker's namespace is in ``phase``."""
    for stale in marker.parent.glob(f".{marker.name}.*.tmp"):  # left by a repair killed while writing it
        stale.unlink()
    write_atomic(marker, json.dumps({"format": MARKER_FORMAT, "phase": phase}).encode())


def read_phase(marker: Path) -> str | None:
    """The phase a marker says (None without a marker); a damaged marker is a ``StoreCorruptedError``."""
    try:
        body = json.loads(marker.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        body = str(error)
    if not isinstance(body, dict) or body.get("format") != MARKER_FORMAT or body.get("phase") not in (BUILD, SWAP):
        raise StoreCorruptedError(
            f"repair marker {marker} is damaged ({body!r}); it is written atomically, so something else changed it. "
            f"If Chroma still holds the namespace's collection (evomem-{marker.parent.name}-"
            f"{marker.name.removesuffix(MARKER_SUFFIX)}), delete the marker; else write "
            f'{{"format": "{MARKER_FORMAT}", "phase": "{SWAP}"}} into it (the collection of that name with '
            f"{BUILD_SUFFIX} appended is the repaired one). Then run `evomem check --repair` again"
        )
    return body["phase"]


def end(marker: Path) -> None:
    """Remove the marker: no repair of its namespace is in progress."""
    if marker.exists():
        marker.unlink()
        fsync_dir(marker.parent)
