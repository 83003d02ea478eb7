"""A namespace read back as the messages ``add_messages`` takes (``evomem export``; ``evomem ingest`` reads them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .model.segmenter import Segmenter
from .schema import RESERVED_METADATA, Segment, iso_time


def as_messages(segments: Sequence[Segment], segmenter: Segmenter) -> Iterator[dict[str, Any]]:
    """One message dict per stored message, in stream order: its id, role, name, content (its parts joined),
    timestamp (ISO 8601) and own metadata. A document chunk (``add_text``) comes back as a message of role
    ``document``."""
    parts: dict[str, list[Segment]] = {}
    for segment in segments:
        parts.setdefault(segment.id, []).append(segment)
    for message_id, pieces in parts.items():
        metadata = pieces[0].metadata
        speaker = metadata.get("name") or metadata["role"]
        texts = [piece.text for piece in sorted(pieces, key=lambda piece: piece.part)]
        content = texts[0] if metadata.get("kind") == "document" else segmenter.join_parts(texts, speaker)
        message: dict[str, Any] = {"id": message_id, "role": metadata["role"], "content": content}
        if "name" in metadata:
            message["name"] = metadata["name"]
        if "timestamp" in metadata:
            message["timestamp"] = iso_time(metadata["timestamp"])
        own = {key: value for key, value in metadata.items() if key not in RESERVED_METADATA}
        if own:
            message["metadata"] = own
        yield message
