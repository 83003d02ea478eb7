"""EvoMemoryRetriever: search one namespace of an EvoMemory (or EvoMemoryClient) from LangChain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, field_validator, model_validator

from evomem import Hit, MemoryAPI
from evomem.schema import (
    DEFAULT_LEXICAL_WEIGHT,
    DEFAULT_MODE,
    SearchOptions,
    check_count,
    check_min_score,
    check_mode,
    check_namespace,
    check_roles,
)

HISTORY_KEY = "lc_message"  # metadata key where EvoChatMessageHistory keeps the serialised message


def hit_to_document(hit: Hit) -> Document:
    """A Document with the hit's text, its message id, and metadata incl. ``score`` and ``speaker``."""
    metadata = {key: value for key, value in hit.metadata.items() if key != HISTORY_KEY}
    metadata["score"] = hit.score
    metadata["speaker"] = hit.metadata.get("name") or hit.metadata.get("role")
    return Document(page_content=hit.text, id=hit.id, metadata=metadata)


class EvoMemoryRetriever(BaseRetriever):
    """The ``k`` messages of ``namespace`` most relevant to a query, read with the namespace's current memory.

    Documents carry the message id and metadata (``score``, ``position``, ``timestamp``, ``speaker``, ``role``
    and the caller's own). ``k``, ``where`` (a Chroma metadata filter) and ``time_range`` (``(start, end)``,
    ISO 8601 or epoch seconds, either end ``None``) are set here and can be overridden per call:
    ``retriever.invoke("query", k=3)``. ``mode`` is the search mode (``"hybrid"``, ``"evolvable"`` or
    ``"lexical"``; see ``EvoMemory.search``) and ``lexical_weight`` the lexical share of a hybrid search; both can
    be overridden per call too.

    Over the namespace of an ``EvoChatMessageHistory`` the retriever would find the chat's latest turns, the
    question being asked among them: ``exclude_latest=n`` leaves out the namespace's latest n messages (those
    the prompt shows as chat history) and ``exclude_roles`` the turns of some roles (e.g. ``["assistant"]``),
    both inside the search, so ``k`` documents still come back; per call too.

    ``min_score`` (or LangChain's ``score_threshold``, the same setting) leaves out the hits whose calibrated score,
    from 0 to 1, is lower: a query about nothing stored returns no documents. Set here or per call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: MemoryAPI  # an EvoMemory, or an EvoMemoryClient of an `evomem serve`
    namespace: str
    k: int = 4
    where: dict[str, Any] | None = None
    time_range: tuple[Any, Any] | None = None
    mode: str = DEFAULT_MODE
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT
    exclude_roles: Sequence[str] = ()
    exclude_latest: int = 0
    min_score: float = 0.0

    _check_namespace = field_validator("namespace")(check_namespace)
    _check_roles = field_validator("exclude_roles", mode="before")(check_roles)

    @model_validator(mode="before")
    @classmethod
    def _score_threshold(cls, data: Any) -> Any:
        return _as_min_score(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _check_mode(self) -> EvoMemoryRetriever:
        check_mode(self.mode, self.lexical_weight)
        check_count(self.exclude_latest, "exclude_latest")
        check_min_score(self.min_score)
        return self

    def _search_arguments(self, query: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """``EvoMemory.search``'s arguments: this retriever's settings, with the call's own (not None) over them."""
        settings = {"k", *SearchOptions.__optional_keys__}
        overrides = _as_min_score(overrides)
        unknown = set(overrides) - settings
        if unknown:
            raise TypeError(f"unexpected search arguments {sorted(unknown)}; the retriever takes {sorted(settings)}")
        arguments = {name: getattr(self, name) for name in settings}
        arguments.update({name: value for name, value in overrides.items() if value is not None})
        return {"query": query, "namespace": self.namespace, **arguments}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        hits = self.memory.search(**self._search_arguments(query, overrides))
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        hits = await self.memory.asearch(**self._search_arguments(query, overrides))
        return [hit_to_document(hit) for hit in hits]


def _as_min_score(settings: dict[str, Any]) -> dict[str, Any]:
    """LangChain's ``score_threshold`` spelt as evomem's ``min_score`` (giving both is refused)."""
    if "score_threshold" not in settings:
        return settings
    if settings.get("min_score") is not None:
        raise TypeError("give min_score or score_threshold, not both (they are one setting)")
    renamed = {key: value for key, value in settings.items() if key != "score_threshold"}
    return renamed | {"min_score": settings["score_threshold"]}
