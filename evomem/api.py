"""``MemoryAPI``: what ``EvoMemory`` (in process) and ``EvoMemoryClient`` (over HTTP) both offer.

Adapters type their ``memory`` as a ``MemoryAPI`` so that either one can be passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from .schema import AddResult, DeleteResult, Hit, Segment


@runtime_checkable
class MemoryAPI(Protocol):
    """Namespaced, evolvable-embedding memory: write messages or text, search, read back, delete."""

    def add_messages(self, messages: Iterable[Any], namespace: str) -> AddResult: ...

    def add_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]: ...

    def search(
        self,
        query: str,
        namespace: str,
        k: int = 10,
        where: dict[str, Any] | None = None,
        time_range: tuple[Any, Any] | None = None,
        mode: str = ...,
        lexical_weight: float = ...,
    ) -> list[Hit]: ...

    def get(self, ids: Sequence[str] | None, namespace: str) -> list[Segment]: ...

    def delete(self, namespace: str, ids: Sequence[str] | None = None) -> DeleteResult: ...

    def namespaces(self) -> list[str]: ...

    def stats(self, namespace: str) -> dict[str, Any]: ...
