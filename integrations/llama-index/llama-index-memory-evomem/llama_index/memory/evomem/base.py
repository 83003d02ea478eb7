"""EvoMemoryBlock: a LlamaIndex long-term memory block backed by one namespace of an EvoMemory."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, TextBlock
from llama_index.core.bridge.pydantic import Field, field_validator, model_validator
from llama_index.core.memory.memory import BaseMemoryBlock

from evomem import Hit, MemoryAPI
from evomem.schema import DEFAULT_LEXICAL_WEIGHT, DEFAULT_MODE, check_mode, check_namespace


def message_text(message: ChatMessage) -> str:
    return " ".join(block.text for block in message.blocks if isinstance(block, TextBlock)).strip()


def format_hit(hit: Hit) -> str:
    """``[2025-03-06 09:15] Maya: text`` (the date when the turn has a timestamp)."""
    timestamp = hit.metadata.get("timestamp")
    if timestamp is None:
        return hit.text
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    return f"[{when}] {hit.text}"


class EvoMemoryBlock(BaseMemoryBlock[str]):
    """Long-term memory for ``Memory.from_defaults(memory_blocks=[EvoMemoryBlock(...)])``.

    ``aput`` appends chat messages (those the short-term memory flushes) to the EvoMemory namespace, one
    evolving stream; ``aget`` searches it with the text of the last ``retrieval_context_window`` messages given
    and returns the ``k`` most relevant earlier turns as text, one per line, in the order they happened.
    A message's ``additional_kwargs["timestamp"]`` (ISO 8601 or epoch seconds) is kept as its time;
    ``session_id`` is kept as metadata.
    """

    name: str = Field(default="EvoMemory", description="The name of the memory block.")
    memory: MemoryAPI = Field(description="The EvoMemory (or EvoMemoryClient) that stores the turns.")
    namespace: str = Field(description="The EvoMemory namespace (one stream) of this memory.")
    k: int = Field(default=5, gt=0, description="How many earlier turns to retrieve.")
    retrieval_context_window: int = Field(default=1, gt=0, description="Messages whose text forms the query.")
    mode: str = Field(default=DEFAULT_MODE, description="Search mode: hybrid, evolvable or lexical.")
    lexical_weight: float = Field(default=DEFAULT_LEXICAL_WEIGHT, description="Lexical share of a hybrid search.")

    _check_namespace = field_validator("namespace")(check_namespace)

    @model_validator(mode="after")
    def _check_mode(self) -> EvoMemoryBlock:
        check_mode(self.mode, self.lexical_weight)
        return self

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        texts = [message_text(m) for m in (messages or [])[-self.retrieval_context_window :]]
        query = "\n".join(text for text in texts if text)
        if not query:
            return ""
        hits = await self.memory.asearch(
            query, self.namespace, self.k, mode=self.mode, lexical_weight=self.lexical_weight
        )
        return "\n".join(format_hit(hit) for hit in sorted(hits, key=lambda hit: hit.metadata["position"]))

    async def _aput(self, messages: list[ChatMessage]) -> None:
        records = []
        for message in messages:
            text = message_text(message)
            if not text:  # e.g. a tool call without text: nothing to remember
                continue
            extra = message.additional_kwargs
            record: dict[str, Any] = {"role": message.role.value, "content": text}
            if extra.get("timestamp") is not None:
                record["timestamp"] = extra["timestamp"]
            if isinstance(extra.get("session_id"), str):
                record["metadata"] = {"session_id": extra["session_id"]}
            records.append(record)
        if records:
            await self.memory.aadd_messages(records, self.namespace)
