"""The library's contract with an agent: strict inputs, explicit namespace deletes, scores to threshold, write
times, listing, reads that never create, safe re-runs, documents replaced whole."""

from __future__ import annotations

import time

import pytest

from evomem import EvoMemory
from evomem.errors import StoreNotFoundError
from evomem.export import as_messages

CHAT = [
    {"content": "I adopted a beagle called Pepper.", "id": "m1", "name": "Maya", "timestamp": "2025-03-06T09:15:00Z"},
    {"content": "Pepper loves the beach.", "id": "m2", "role": "assistant"},
    {"content": "We moved to Lisbon in May.", "id": "m3"},
]


@pytest.fixture
def memory(tmp_path, model_dir):
    with EvoMemory(tmp_path / "store", model=model_dir) as opened:
        opened.add_messages(CHAT, "maya")
        yield opened


def test_an_unknown_message_key_is_refused_by_name_and_nothing_is_written(memory):
    for message in ({"content": "x", "timestmp": "2025-01-01"}, {"contnet": "x"}, {"content": "x", "type": "human"}):
        with pytest.raises(ValueError, match="unknown message key") as refused:
            memory.add_messages([{"content": "fine"}, message], "maya")
        assert "content, role, name, id, timestamp, metadata" in str(refused.value)
    assert memory.stats("maya")["messages"] == 3


def test_a_namespace_is_deleted_only_by_delete_namespace(memory):
    with pytest.raises(TypeError, match="delete_namespace"):
        memory.delete("maya")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="delete_namespace"):
        memory.delete("maya", None)  # type: ignore[arg-type]
    assert memory.stats("maya")["messages"] == 3
    assert memory.delete("maya", []).messages == 0 and memory.stats("maya")["messages"] == 3
    deleted = memory.delete_namespace("maya")
    assert (deleted.existed, deleted.messages) == (True, 3) and memory.namespaces() == []
    assert memory.delete_namespace("maya").existed is False


@pytest.mark.parametrize("mode", ["evolvable", "lexical", "hybrid"])
def test_scores_are_calibrated_from_0_to_1_with_the_channel_scores_beside_them(memory, mode):
    hits = memory.search("Pepper the beagle", "maya", k=3, mode=mode)
    assert hits and all(0 <= hit.score <= 1 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    channel = {"evolvable": "evolvable", "lexical": "lexical", "hybrid": "fused"}[mode]
    assert all(getattr(hit.scores, channel) is not None for hit in hits)
    if mode == "hybrid":
        assert all(hit.scores.evolvable is not None or hit.scores.lexical is not None for hit in hits)
    cut = hits[0].score
    kept = memory.search("Pepper the beagle", "maya", k=3, mode=mode, min_score=cut)
    assert [hit.id for hit in kept] == [hit.id for hit in hits if hit.score >= cut]
    assert memory.search("Pepper the beagle", "maya", k=3, mode=mode, min_score=1.0) == [] or cut == 1.0


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", True, None])
def test_a_bad_min_score_is_refused(memory, bad):
    with pytest.raises((TypeError, ValueError), match="min_score"):
        memory.search("dog", "maya", min_score=bad)


def test_every_write_has_a_created_at_and_a_time_range_finds_a_message_without_timestamp(memory):
    before = time.time()
    memory.add_messages([{"content": "The vet visit is on Friday.", "id": "m4"}], "maya")
    after = time.time()
    segments = {s.id: s for s in memory.get(namespace="maya")}
    assert all("created_at" in s.metadata for s in segments.values())
    assert before <= segments["m4"].metadata["created_at"] <= after
    assert segments["m1"].metadata["time"] == segments["m1"].metadata["timestamp"]  # the message's own time
    around = memory.search("vet", "maya", k=10, time_range=(before, after))
    assert {hit.id for hit in around} == {"m4"}
    march = memory.search("dog", "maya", k=10, time_range=("2025-03-01", "2025-03-31"))
    assert {hit.id for hit in march} == {"m1"}
    assert memory.search("dog", "maya", k=10, time_range=(None, "2024-01-01")) == []


def test_get_lists_a_namespace_in_stream_order_by_pages_of_messages(memory, model_dir):
    long = {"content": " ".join(f"word{i}" for i in range(400)), "id": "long"}
    memory.add_messages([long, {"content": "after the long one", "id": "m5"}], "maya")
    everything = memory.get(namespace="maya")
    assert [s.id for s in everything][:3] == ["m1", "m2", "m3"] and everything[-1].id == "m5"
    parts = [s for s in everything if s.id == "long"]
    assert len(parts) > 1
    pages = [memory.get(namespace="maya", limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [[s.id for s in page] for page in pages] == [["m1", "m2"], ["m3"] + ["long"] * len(parts), ["m5"], []]
    assert memory.get(["m3", "m1"], "maya") == [everything[0], everything[2]]
    with pytest.raises(TypeError, match="namespace"):
        memory.get()
    with pytest.raises(ValueError, match="limit"):
        memory.get(namespace="maya", limit=0)
    assert memory.get(namespace="nobody") == []
    exported = list(as_messages(everything, memory.segmenter))
    assert exported[3] == {"id": "long", "role": "user", "content": long["content"]}
    assert exported[0]["timestamp"] == "2025-03-06T09:15:00Z" and exported[0]["name"] == "Maya"


def test_opening_a_missing_store_to_read_creates_nothing(tmp_path, model_dir):
    missing = tmp_path / "typo" / "dir"
    with pytest.raises(StoreNotFoundError, match="no evomem store") as refused:
        EvoMemory(missing, model=model_dir, create=False)
    assert isinstance(refused.value, FileNotFoundError) and not (tmp_path / "typo").exists()
    EvoMemory(tmp_path / "made", model=model_dir).close()
    EvoMemory(tmp_path / "made", model=model_dir, create=False).close()


def test_idempotent_writes_store_a_batch_sent_again_once_and_keep_repeated_turns(tmp_path, model_dir):
    chat = [{"content": "ok"}, {"content": "How is Pepper?"}, {"content": "ok"}]
    with EvoMemory(tmp_path / "store", model=model_dir) as memory:
        first = memory.add_messages(chat, "n", idempotent=True)
        again = memory.add_messages(chat, "n", idempotent=True)
        assert list(first) == list(again) and again.unchanged == list(again) and len(set(first)) == 3
        assert memory.stats("n")["messages"] == 3
        default = memory.add_messages(chat, "n")  # without idempotent: every call stores its messages anew
        assert not set(default) & set(first) and memory.stats("n")["messages"] == 6
        with pytest.raises(TypeError, match="idempotent"):
            memory.add_messages(chat, "n", idempotent="yes")  # type: ignore[arg-type]


def test_adding_a_doc_id_again_replaces_all_of_its_chunks(tmp_path, model_dir):
    long = "\n\n".join(f"Paragraph {i}. " + "The harbour was quiet that morning. " * 12 for i in range(4))
    with EvoMemory(tmp_path / "store", model=model_dir) as memory:
        old = memory.add_text(long, "n", doc_id="d1")
        assert len(old) > 1
        new = memory.add_text("A short replacement.", "n", doc_id="d1")
        assert new == ["d1-0"]
        assert [(s.id, s.text) for s in memory.get(namespace="n")] == [("d1-0", "A short replacement.")]
        assert memory.get(namespace="n")[0].metadata["doc_id"] == "d1"
        same = memory.add_text("Notes about Pepper.", "n")  # no doc_id: one derived from the text
        assert memory.add_text("Notes about Pepper.", "n") == same
        assert memory.stats("n") | {"memory_step": 0} == memory.stats("n") | {"memory_step": 0}
        assert memory.stats("n")["messages"] == 2


def test_a_message_over_the_size_cap_is_refused_naming_the_cap_and_a_long_text_goes_to_add_text(tmp_path, model_dir):
    with EvoMemory(tmp_path / "capped", model=model_dir, max_message_chars=100) as memory:
        with pytest.raises(ValueError, match=r"message 1 \(big\) has 101 characters, over the limit of 100"):
            memory.add_messages([{"content": "fine"}, {"content": "x" * 101, "id": "big"}], "n")
        assert memory.namespaces() == []  # nothing of the batch
        assert len(memory.add_text("a long note. " * 40, "n")) >= 1  # documents are split, never refused
    with EvoMemory(tmp_path / "default", model=model_dir) as memory:
        assert memory.max_message_chars == 20_000
        with pytest.raises(ValueError, match="over the limit of 20,000"):
            memory.add_messages([{"content": "y" * 20_001}], "n")
    with EvoMemory(tmp_path / "unlimited", model=model_dir, max_message_chars=None) as memory:
        assert memory.add_messages([{"content": "z " * 10_001, "id": "long"}], "n") == ["long"]
    for bad, error in ((0, ValueError), (True, TypeError), ("100", TypeError)):
        with pytest.raises(error, match="max_message_chars"):
            EvoMemory(tmp_path / "bad", model=model_dir, max_message_chars=bad)
