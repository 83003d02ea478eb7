"""SegmentStore: segment vectors, texts and flat metadata in one Chroma collection per model fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

COLLECTION_PREFIX = "evomem-"


@dataclass(frozen=True)
class StoredSegment:
    record_id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None


def record_id(namespace: str, message_id: str, part: int) -> str:
    """Deterministic id; namespaces hold no ':' and the part is a number, so ids never collide."""
    return f"{namespace}:{part}:{message_id}"


class SegmentStore:
    """Chroma collection ``evomem-<fingerprint>``: vectors are given by evomem, never by Chroma."""

    def __init__(self, client: Any, fingerprint: str, dim: int):
        self.client = client
        self.fingerprint = fingerprint
        self.dim = dim
        self.collection = client.get_or_create_collection(
            COLLECTION_PREFIX + fingerprint,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"evomem_fingerprint": fingerprint, "dim": dim},
        )
        found = (self.collection.metadata or {}).get("evomem_fingerprint")
        if found != fingerprint:
            raise ValueError(
                f"Chroma collection {self.collection.name} belongs to model {found!r}, not {fingerprint!r}"
            )

    def upsert(
        self,
        ids: Sequence[str],
        vectors: torch.Tensor,
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {tuple(vectors.shape)}")
        size = self.client.get_max_batch_size()
        embeddings = vectors.detach().cpu().float().numpy()
        for start in range(0, len(ids), size):
            end = start + size
            self.collection.upsert(
                ids=list(ids[start:end]),
                embeddings=embeddings[start:end],
                documents=list(texts[start:end]),
                metadatas=list(metadatas[start:end]),
            )

    @staticmethod
    def _where(namespace: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
        clauses = [{"namespace": namespace}] + [clause for clause in extra if clause]
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def query(self, vector: torch.Tensor, namespace: str, n: int, filters: list[dict[str, Any]]) -> list[StoredSegment]:
        """The ``n`` nearest segments of a namespace, nearest first."""
        result = self.collection.query(
            query_embeddings=vector.detach().cpu().float().numpy()[None],
            n_results=n,
            where=self._where(namespace, filters),
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredSegment(rid, text, dict(meta), float(distance))
            for rid, text, meta, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def get(self, namespace: str, message_ids: Sequence[str] | None = None) -> list[StoredSegment]:
        filters = [] if message_ids is None else [{"message_id": {"$in": list(message_ids)}}]
        result = self.collection.get(where=self._where(namespace, filters), include=["documents", "metadatas"])
        return [
            StoredSegment(rid, text, dict(meta))
            for rid, text, meta in zip(result["ids"], result["documents"], result["metadatas"], strict=True)
        ]

    def delete(self, namespace: str, message_ids: Sequence[str] | None = None) -> None:
        filters = [] if message_ids is None else [{"message_id": {"$in": list(message_ids)}}]
        self.collection.delete(where=self._where(namespace, filters))

    def count(self, namespace: str) -> int:
        return len(self.collection.get(where={"namespace": namespace}, include=[])["ids"])
