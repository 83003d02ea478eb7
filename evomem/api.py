"""``MemoryAPI``: what ``EvoMemory`` (in process) and ``EvoMemoryClient`` (over HTTP) both offer.

Adapters type their ``memory`` as a ``MemoryAPI`` so that either one can be passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from typing_extensions import Unpack

from .schema import DEFAULT_K, AddResult, DeleteResult, Hit, SearchOptions, Segment


@runtime_checkable
class MemoryAPI(Protocol):
    """Namespaced, evolvable-embedding memory: write messages or text, search, read back, delete."""

    def add_messages(self, messages: Iterable[Any], namespace: str, idempotent: bool = False) -> AddResult: ...

    def add_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]: ...

    def search(self, query: str, namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]) -> list[Hit]: ...

    def get(
        self,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Segment]: ...

    def delete(self, namespace: str, ids: Sequence[str] | None = None) -> DeleteResult: ...

    def delete_namespace(self, namespace: str) -> DeleteResult: ...

    def namespaces(self) -> list[str]: ...

    def stats(self, namespace: str) -> dict[str, Any]: ...

    # the async twins: each runs its method in a worker thread (writes in the order they were awaited)

    async def aadd_messages(self, messages: Iterable[Any], namespace: str, idempotent: bool = False) -> AddResult: ...

    async def aadd_text(
        self, text: str, namespace: str, metadata: dict[str, Any] | None = None, doc_id: str | None = None
    ) -> list[str]: ...

    async def asearch(
        self, query: str, namespace: str, k: int = DEFAULT_K, **options: Unpack[SearchOptions]
    ) -> list[Hit]: ...

    async def aget(
        self,
        ids: Sequence[str] | None = None,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Segment]: ...

    async def adelete(self, namespace: str, ids: Sequence[str] | None = None) -> DeleteResult: ...

    async def adelete_namespace(self, namespace: str) -> DeleteResult: ...

    async def anamespaces(self) -> list[str]: ...

    async def astats(self, namespace: str) -> dict[str, Any]: ...
