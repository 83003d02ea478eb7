"""The facade's async methods, batch search, exclusions, life cycle and typed hits, on a tiny backbone."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from conftest import small_config

from evomem import EvoEncoder, EvoMemory
from evomem.errors import MemoryClosedError
from evomem.schema import HitMetadata

CHAT = [
    {"role": "user", "name": "Maya", "content": "I adopted a beagle called Pepper.", "id": "m1"},
    {"role": "assistant", "content": "Lovely! How old is Pepper?", "id": "m2", "metadata": {"topic": "pets"}},
    {"role": "user", "name": "Maya", "content": "I run in Lisbon with my sister Ana.", "id": "m3"},
    {"role": "assistant", "content": "Lisbon is a fine place to run.", "id": "m4", "timestamp": 1748889700},
    {"role": "user", "name": "Maya", "content": "What is the name of my dog?", "id": "m5"},
]
QUERIES = ["What is the name of my dog?", "Where does Maya run?", "Lisbon sister"]


@pytest.fixture(scope="module")
def encoder(tiny_bert_dir):
    return EvoEncoder(small_config(tiny_bert_dir))


@pytest.fixture
def memory(tmp_path, encoder):
    with EvoMemory(tmp_path / "data", model=encoder) as memory:
        yield memory


@pytest.mark.parametrize("mode", ["evolvable", "lexical", "hybrid"])
def test_search_many_is_search_per_query_with_one_encoding(memory, mode, monkeypatch):
    memory.add_messages(CHAT, "maya")
    expected = [memory.search(query, "maya", k=3, mode=mode) for query in QUERIES]
    calls = []
    encode = memory.encoder.encode_queries
    monkeypatch.setattr(memory.encoder, "encode_queries", lambda *a: calls.append(a[1]) or encode(*a))
    batched = memory.search_many(QUERIES, "maya", k=3, mode=mode)
    assert [[(h.id, h.text, h.metadata) for h in hits] for hits in batched] == [
        [(h.id, h.text, h.metadata) for h in hits] for hits in expected
    ]
    scores = [h.score for hits in batched for h in hits]
    assert scores == pytest.approx([h.score for hits in expected for h in hits], abs=1e-5)
    assert calls == ([] if mode == "lexical" else [QUERIES])  # one batch for every query
    assert memory.search_many([], "maya") == [] and memory.search_many(QUERIES, "nobody") == [[], [], []]
    with pytest.raises(TypeError, match="list of strings"):
        memory.search_many("one query", "maya")


def test_exclusions_apply_inside_the_search(memory):
    long = " ".join(f"Sentence {i} is about the garden." for i in range(20))  # several parts, one message
    memory.add_messages([*CHAT[:4], {"role": "user", "content": long, "id": "long"}, CHAT[4]], "maya")
    assert len(memory.get(["long"], "maya")) > 1
    everything = memory.search("dog name", "maya", k=6, mode="evolvable")
    assert {h.id for h in everything} == {"m1", "m2", "m3", "m4", "long", "m5"}
    older = memory.search("dog name", "maya", k=4, exclude_latest=2)
    assert sorted(h.id for h in older) == ["m1", "m2", "m3", "m4"]  # k hits, none of the latest two messages
    users = memory.search("dog name", "maya", k=3, exclude_roles=["assistant"], mode="evolvable")
    assert {h.metadata["role"] for h in users} == {"user"} and len(users) == 3
    both = memory.search("Lisbon", "maya", k=5, exclude_roles=["user"], exclude_latest=3)
    assert [h.id for h in both] == ["m2"]  # m4 is among the latest three
    assert (
        memory.search("dog", "maya", exclude_latest=6) == [] and memory.search("dog", "maya", exclude_latest=99) == []
    )
    with pytest.raises(TypeError, match="list of roles"):
        memory.search("dog", "maya", exclude_roles="assistant")
    with pytest.raises(ValueError, match="exclude_latest must be 0 or more"):
        memory.search("dog", "maya", exclude_latest=-1)
    with pytest.raises(TypeError, match="unexpected search options \\['exclude_last'\\]"):
        memory.search("dog", "maya", exclude_last=1)


def test_hit_metadata_holds_the_keys_its_type_names(memory):
    memory.add_messages(CHAT, "maya")
    memory.add_text("Pepper sleeps in the garden.", "maya", metadata={"source": "notes"})
    known = HitMetadata.__required_keys__ | HitMetadata.__optional_keys__
    for hit in memory.search("Pepper", "maya", k=10):
        assert HitMetadata.__required_keys__ <= set(hit.metadata)
        assert set(hit.metadata) - known <= {"topic", "source"}


def test_aadd_messages_leaves_the_event_loop_running(memory):
    turns = [{"content": f"Turn {i}: the garden, the weather and the bakery again.", "id": f"t{i}"} for i in range(300)]

    async def main() -> tuple[int, float]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.02)
        before, start = ticks, time.monotonic()
        await memory.aadd_messages(turns, "busy")
        elapsed = time.monotonic() - start
        beat.cancel()
        return ticks - before, elapsed

    ticks, elapsed = asyncio.run(main())
    assert memory.stats("busy")["messages"] == 300
    assert elapsed > 0.1 and ticks >= max(3, elapsed / 0.01 / 5), (ticks, elapsed)


def test_async_methods_match_sync_and_keep_writes_in_order(memory):
    async def main():
        await asyncio.gather(*(memory.aadd_messages([message], "maya") for message in CHAT))
        await memory.aadd_text("Pepper sleeps in the garden.", "maya", doc_id="notes")
        found = [await memory.asearch("Pepper", "maya", k=2), *await memory.asearch_many(["Pepper", "Lisbon"], "maya")]
        segments = await memory.aget(None, "maya")
        return found, segments, await memory.adelete("maya", ["m2"]), await memory.astats("maya")

    found, segments, deleted, stats = asyncio.run(main())
    assert [s.id for s in segments] == ["m1", "m2", "m3", "m4", "m5", "notes-0"]  # in the order awaited
    assert [h.id for h in found[0]] == [h.id for h in found[1][:2]]
    assert deleted.messages == 1 and stats["messages"] == 5 and memory.namespaces() == ["maya"]
    assert asyncio.run(memory.asearch("Lisbon", "maya")) == memory.search("Lisbon", "maya")


def test_close_and_the_context_manager_release_the_store(tmp_path, encoder):
    with EvoMemory(tmp_path, model=encoder) as memory:
        memory.add_messages(CHAT, "maya")
        other = EvoMemory(tmp_path, model=encoder)  # shares this process's connection to the embedded store
        connection = memory.store.connection
        asyncio.run(memory.aadd_messages([{"content": "One more.", "id": "m6"}], "maya"))
        assert any(thread.name.startswith("evomem-write") for thread in threading.enumerate())
    assert not any(thread.name.startswith("evomem-write") for thread in threading.enumerate())  # its thread ended
    assert other.stats("maya")["messages"] == 6  # the other one still works ...
    other.close()
    assert connection._client is None  # ... and the last one to close releases the Chroma client
    for call in (lambda: memory.search("dog", "maya"), lambda: memory.add_messages(CHAT, "x"), memory.namespaces):
        with pytest.raises(MemoryClosedError, match="is closed"):
            call()
    with pytest.raises(MemoryClosedError):
        asyncio.run(memory.asearch("dog", "maya"))
    memory.close()  # twice: harmless
    with EvoMemory(tmp_path, model=encoder) as reopened:
        assert reopened.stats("maya")["messages"] == 6
