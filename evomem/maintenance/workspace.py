"""What maintenance (rebuild, repair, re-encoding) works on: an open store, its write path and its model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InvalidInputError
from ..model.encoder import EvoEncoder
from ..model.queue import LatentQueue
from ..model.stream import encode_texts
from ..schema import StoredSegment
from ..storage.journal import WriteJournal
from ..storage.state import MemoryStates
from ..storage.store import SegmentStore
from ..storage.writer import NamespaceWriter


@dataclass(frozen=True)
class StreamReadAgain:
    """A namespace's stored segments read again in stream order from an empty memory."""

    memory: LatentQueue  # the latent memory after the last segment
    vectors: dict[str, torch.Tensor]  # the vector of each record id


@dataclass(frozen=True)
class Workspace:
    """An open store's parts, as ``EvoMemory`` holds them."""

    path: Path  # the store's directory
    fingerprint: str  # the model's, which names its collections and memory states
    encoder: EvoEncoder
    store: SegmentStore
    states: MemoryStates
    journal: WriteJournal  # each namespace's write in flight
    writer: NamespaceWriter  # every write goes through it
    segment_batching: bool  # read consecutive segments in one memory pass

    def read_again(self, name: str, stored: list[StoredSegment], show: bool, task: str) -> StreamReadAgain:
        """Encode a namespace's stored segments (``store.get``) again in stream order from an empty memory
        (``task`` labels the progress bar); nothing is written."""
        stored = sorted(stored, key=stream_order)
        positions = {int(s.metadata["position"]) for s in stored}
        if len(positions) < len(stored):
            raise InvalidInputError(
                f"namespace {name!r} holds {len(stored)} segments at only {len(positions)} stream positions: "
                "some were written after its memory state was lost, so their order is unknown; delete the "
                "namespace and ingest its messages again"
            )
        queue = LatentQueue(*self.encoder.queue_shape, step=max(positions) + 1 - len(stored))
        texts = [s.text for s in stored]
        vectors = encode_texts(self.encoder, queue, texts, self.segment_batching, f"{task} {name}", show)
        return StreamReadAgain(queue, {s.record_id: vector for s, vector in zip(stored, vectors, strict=True)})


def stream_order(segment: StoredSegment) -> tuple[int, int]:
    """A stored segment's place in its namespace's stream: its message's position, then its part."""
    return segment.metadata["position"], segment.metadata["part"]
