"""EvoChatMessageHistory: a LangChain chat history kept in one namespace of an EvoMemory (or EvoMemoryClient)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    message_to_dict,
    messages_from_dict,
)

from evomem import MemoryAPI, Segment
from evomem.schema import check_namespace

from .retrievers import HISTORY_KEY

ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
CLASSES = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage}


def to_evomem_message(message: BaseMessage) -> dict[str, Any]:
    """The evomem message for a LangChain message; the whole message is kept, serialised, in its metadata.

    The text is what gets embedded; a message without text (e.g. only tool calls) is stored by its tool calls.
    ``additional_kwargs["timestamp"]`` (ISO 8601 or epoch seconds), when present, becomes its timestamp.
    """
    text = str(message.text).strip()
    if not text:
        text = json.dumps(getattr(message, "tool_calls", None) or message.content or f"({message.type} message)")
    record: dict[str, Any] = {
        "role": ROLES.get(message.type, message.type),
        "content": text,
        "metadata": {HISTORY_KEY: json.dumps(message_to_dict(message))},
    }
    if message.name:
        record["name"] = message.name
    if message.id:
        record["id"] = message.id
    if message.additional_kwargs.get("timestamp") is not None:
        record["timestamp"] = message.additional_kwargs["timestamp"]
    return record


class EvoChatMessageHistory(BaseChatMessageHistory):
    """A session's messages, stored in order in the namespace ``session_id`` of ``memory`` (an ``EvoMemory``, or an
    ``EvoMemoryClient`` of an ``evomem serve``).

    Each message is also part of the namespace's evolving stream, so an ``EvoMemoryRetriever`` over the same
    namespace searches the conversation. ``clear()`` deletes the namespace with its memory state.
    """

    def __init__(self, memory: MemoryAPI, session_id: str):
        self.memory = memory
        self.session_id = check_namespace(session_id)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The session's messages in the order they were added.

        A record that this class did not write (another client's, or one whose ``lc_message`` metadata is not a
        LangChain message) is rebuilt from its stored text and role.
        """
        return self._messages(self.memory.get(None, self.session_id))

    async def aget_messages(self) -> list[BaseMessage]:
        """``messages``, read in a worker thread (``EvoMemory.aget``)."""
        return self._messages(await self.memory.aget(None, self.session_id))

    def _messages(self, segments: list[Segment]) -> list[BaseMessage]:
        messages, seen = [], set()
        for segment in segments:  # in stream order; long messages have parts
            if segment.id not in seen:
                seen.add(segment.id)
                messages.append(self._stored_message(segment) or self._text_message(segment))
        return messages

    def _stored_message(self, segment: Segment) -> BaseMessage | None:
        """The LangChain message serialised in a record's metadata, or None (with a warning if unusable)."""
        stored = segment.metadata.get(HISTORY_KEY)
        if stored is None:
            return None
        try:
            return messages_from_dict([json.loads(stored)])[0]
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            warnings.warn(
                f"message {segment.id!r} of session {self.session_id!r} has {HISTORY_KEY} metadata that is not a "
                f"LangChain message ({type(error).__name__}: {error}); it is read from its stored text instead",
                stacklevel=3,
            )
            return None

    @staticmethod
    def _text_message(segment: Segment) -> BaseMessage:
        """A message rebuilt from a record's text, role and name."""
        role = segment.metadata.get("role", "user")
        kind = CLASSES.get(role)
        text, name = segment.text, segment.metadata.get("name")
        text = text.split(": ", 1)[1] if text.startswith(f"{name or role}: ") else text
        return kind(content=text, id=segment.id) if kind else ChatMessage(role=role, content=text)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages in one batch (one pass of the encoder over them)."""
        if messages:
            self.memory.add_messages([to_evomem_message(m) for m in messages], self.session_id)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """``add_messages`` in the memory's writer thread (``EvoMemory.aadd_messages``): writes stay in order."""
        if messages:
            await self.memory.aadd_messages([to_evomem_message(m) for m in messages], self.session_id)

    def clear(self) -> None:
        self.memory.delete_namespace(self.session_id)

    async def aclear(self) -> None:
        await self.memory.adelete_namespace(self.session_id)
