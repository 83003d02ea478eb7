"""EvoMemoryRetriever: search one namespace of an EvoMemory (or EvoMemoryClient) from LangChain."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, field_validator, model_validator

from evomem import Hit, MemoryAPI
from evomem.ranking import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE, check_mode
from evomem.schema import check_namespace

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
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    memory: MemoryAPI  # an EvoMemory, or an EvoMemoryClient of an `evomem serve`
    namespace: str
    k: int = 4
    where: dict[str, Any] | None = None
    time_range: tuple[Any, Any] | None = None
    mode: str = DEFAULT_MODE
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT

    _check_namespace = field_validator("namespace")(check_namespace)

    @model_validator(mode="after")
    def _check_mode(self) -> EvoMemoryRetriever:
        check_mode(self.mode, self.lexical_weight)
        return self

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        where: dict[str, Any] | None = None,
        time_range: tuple[Any, Any] | None = None,
        mode: str | None = None,
        lexical_weight: float | None = None,
    ) -> list[Document]:
        hits = self.memory.search(
            query,
            self.namespace,
            k=self.k if k is None else k,
            where=self.where if where is None else where,
            time_range=self.time_range if time_range is None else time_range,
            mode=self.mode if mode is None else mode,
            lexical_weight=self.lexical_weight if lexical_weight is None else lexical_weight,
        )
        return [hit_to_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **kwargs
        )
