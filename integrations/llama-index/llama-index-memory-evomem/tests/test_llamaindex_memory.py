"""EvoMemoryBlock on its own and inside LlamaIndex's Memory, with a real EvoMemory."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import BaseMemoryBlock, Memory
from llama_index.memory.evomem import EvoMemoryBlock

TURNS = [
    ("user", "I finally adopted a dog, a three-year-old beagle.", "2025-03-06T09:15:00Z"),
    ("assistant", "Congratulations! What is the dog's name?", "2025-03-06T09:15:30Z"),
    ("user", "Her name is Pepper. She came from the shelter on Hill Street.", "2025-03-06T09:16:00Z"),
    ("assistant", "Pepper is a lovely name.", "2025-03-06T09:16:30Z"),
    ("user", "I ran a half marathon in Lisbon last weekend with my sister Ana.", "2025-04-12T18:00:00Z"),
    ("assistant", "Impressive! How did it go?", "2025-04-12T18:00:30Z"),
    ("user", "My parents looked after Pepper during the race.", "2025-04-12T18:01:00Z"),
    ("assistant", "That was kind of them.", "2025-04-12T18:01:30Z"),
]


def chat(turns=TURNS) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=text, additional_kwargs={"timestamp": when}) for role, text, when in turns]


def test_block_stores_and_recalls_in_time_order(memory):
    block = EvoMemoryBlock(memory=memory, namespace="maya", k=3)
    assert isinstance(block, BaseMemoryBlock) and block.name == "EvoMemory"
    asyncio.run(block.aput(chat(), session_id="s1"))
    assert memory.stats("maya")["messages"] == len(TURNS)
    text = asyncio.run(block.aget([ChatMessage(role="user", content="Where did I run my half marathon?")]))
    lines = text.splitlines()
    assert len(lines) == 3 and any("Lisbon" in line for line in lines)
    order = [next(i for i, (_, turn, _) in enumerate(TURNS) if line.endswith(turn)) for line in lines]
    assert order == sorted(order)  # in the order the turns happened
    assert lines[0].startswith("[20") and "] user: " in text
    stored = memory.get(None, "maya")
    assert {s.metadata["session_id"] for s in stored} == {"s1"} and stored[0].metadata["role"] == "user"


def test_block_query_window_and_empty_input(memory):
    block = EvoMemoryBlock(memory=memory, namespace="maya", k=1, retrieval_context_window=2)
    assert asyncio.run(block.aget([ChatMessage(role="user", content="anything")])) == ""  # nothing stored yet
    asyncio.run(block.aput(chat()))
    assert asyncio.run(block.aget([])) == ""
    window = [ChatMessage(role="user", content="Who looked after Pepper?"), ChatMessage(role="assistant", content="")]
    assert "parents" in asyncio.run(block.aget(window))
    # messages without text (e.g. tool calls) are skipped, not stored
    asyncio.run(block.aput([ChatMessage(role=MessageRole.ASSISTANT, content="")]))
    assert memory.stats("maya")["messages"] == len(TURNS)


def test_timestamps_that_are_no_date_are_refused_on_put(memory):
    block = EvoMemoryBlock(memory=memory, namespace="maya", k=3)
    asyncio.run(block.aput(chat()))
    for when in ("0001-01-01T00:00:00+14:00", 1e15):
        late = ChatMessage(role="user", content="Pepper learnt a new trick.", additional_kwargs={"timestamp": when})
        with pytest.raises(ValueError, match="out of range: it must fall in years 1 to 9999"):
            asyncio.run(block.aput([late]))
    text = asyncio.run(block.aget([ChatMessage(role="user", content="What trick did Pepper learn?")]))
    assert len(text.splitlines()) == 3 and all(line.startswith("[2025-") for line in text.splitlines())


def test_invalid_settings_are_rejected(memory):
    with pytest.raises(ValueError, match="unknown search mode"):
        EvoMemoryBlock(memory=memory, namespace="maya", mode="dense")
    with pytest.raises(ValueError):
        EvoMemoryBlock(memory=memory, namespace="maya", k=0)
    with pytest.raises(ValueError):
        EvoMemoryBlock(memory="not a memory", namespace="maya")


def test_inside_llamaindex_memory(memory):
    block = EvoMemoryBlock(memory=memory, namespace="maya-session", k=3)
    short_term = Memory.from_defaults(
        session_id="maya-session", token_limit=80, token_flush_size=40, memory_blocks=[block]
    )
    short_term.put_messages(chat())
    # the short-term memory overflowed: the oldest turns were flushed into the evomem block
    flushed = memory.stats("maya-session")["messages"]
    assert 0 < flushed < len(TURNS)
    assert "Pepper" in " ".join(s.text for s in memory.get(None, "maya-session"))
    messages = short_term.get(input="What is my dog's name?")
    assert messages[0].role == MessageRole.SYSTEM
    system = messages[0].content
    recalled = system.split("<EvoMemory>\n")[1].split("\n</EvoMemory>")[0].splitlines()
    assert len(recalled) == 3 and "Pepper" in " ".join(recalled)
    assert all(line.startswith("[2025-03-06") for line in recalled)  # from the flushed first session
    assert len(messages) - 1 == len(TURNS) - flushed  # the rest of the chat is still short-term


def test_any_session_id_is_a_namespace_checked_on_construction(memory):
    with pytest.raises(ValueError, match="invalid namespace"):
        EvoMemoryBlock(memory=memory, namespace="a\nb")  # before any write, not at the first one
    block = EvoMemoryBlock(memory=memory, namespace="E\u0301milie:thread/1", k=1)
    assert block.namespace == "Émilie:thread/1"  # NFC: one namespace for both spellings
    asyncio.run(block.aput([ChatMessage(role="user", content="Pepper learned to sit.")]))
    assert memory.stats("Émilie:thread/1")["messages"] == 1
