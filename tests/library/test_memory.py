"""EvoMemory end to end on a tiny backbone with embedded Chroma."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import small_config

from evomem import DeleteResult, EvoEncoder, EvoMemory

CHAT = [
    {
        "role": "user",
        "name": "Maya",
        "content": "I adopted a beagle called Pepper.",
        "id": "m1",
        "timestamp": "2025-03-06T09:15:00Z",
    },
    {
        "role": "assistant",
        "name": "Leo",
        "content": "Lovely! I started at a bakery downtown.",
        "id": "m2",
        "timestamp": "2025-03-06T09:16:00Z",
        "metadata": {"topic": "work"},
    },
    {
        "role": "user",
        "name": "Maya",
        "content": "I am training for a half marathon in Lisbon.",
        "id": "m3",
        "timestamp": "2025-06-02T18:40:00Z",
    },
    {"role": "assistant", "content": "Good luck with the race!", "id": "m4", "timestamp": 1748889700},
]


@pytest.fixture
def encoder(tiny_bert_dir):
    return EvoEncoder(small_config(tiny_bert_dir))


@pytest.fixture
def memory(tmp_path, encoder):
    return EvoMemory(tmp_path / "data", model=encoder)


def test_add_search_get_roundtrip(memory):
    assert memory.add_messages(CHAT, namespace="maya") == ["m1", "m2", "m3", "m4"]
    hits = memory.search("Who is Pepper?", namespace="maya", k=3)
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    segments = memory.get(["m2", "m4"], namespace="maya")
    assert [(s.id, s.part) for s in segments] == [("m2", 0), ("m4", 0)]
    assert segments[0].text == "Leo: Lovely! I started at a bakery downtown."
    assert segments[1].text == "assistant: Good luck with the race!"
    assert segments[0].metadata["topic"] == "work" and segments[0].metadata["position"] == 1
    assert memory.stats("maya") | {"fingerprint": None} == {
        "namespace": "maya",
        "segments": 4,
        "messages": 4,
        "memory_step": 4,
        "memory_latents": 8,
        "memory_capacity": 8,
        "fingerprint": None,
    }


def test_generated_ids_are_deterministic(tmp_path, encoder):
    chat = [{"role": "user", "content": "hello there"}, {"role": "user", "content": "hello there"}]
    first = EvoMemory(tmp_path / "a", model=encoder).add_messages(chat, namespace="n")
    second = EvoMemory(tmp_path / "b", model=encoder).add_messages(chat, namespace="n")
    assert first == second and len(set(first)) == 2


def test_search_filters_by_metadata_and_time(memory):
    memory.add_messages(CHAT, namespace="maya")
    assert [h.id for h in memory.search("work", namespace="maya", k=10, where={"topic": "work"})] == ["m2"]
    june = memory.search("race", namespace="maya", k=10, time_range=("2025-06-01T00:00:00Z", None))
    assert sorted(h.id for h in june) == ["m3", "m4"]
    march = memory.search("race", namespace="maya", k=10, time_range=(None, "2025-03-31"))
    assert sorted(h.id for h in march) == ["m1", "m2"]


def test_one_hit_per_message_for_split_messages(memory):
    long_text = " ".join(f"Sentence number {i} about the harbour bakery and its sourdough." for i in range(30))
    memory.add_messages([{"role": "user", "content": long_text, "id": "long"}, *CHAT], namespace="n")
    parts = memory.get(["long"], namespace="n")
    assert len(parts) > 2 and [p.part for p in parts] == list(range(len(parts)))
    assert all(p.text.startswith("user: ") for p in parts)
    hits = memory.search("harbour bakery sourdough", namespace="n", k=5)
    assert len(hits) == 5 and len({h.id for h in hits}) == 5


def test_namespaces_are_isolated_and_deleted_whole(memory):
    memory.add_messages(CHAT[:2], namespace="a")
    memory.add_messages(CHAT[2:], namespace="b")
    assert memory.namespaces() == ["a", "b"]
    assert {h.id for h in memory.search("anything", namespace="a", k=10)} == {"m1", "m2"}
    memory.delete_namespace(namespace="a")
    assert memory.namespaces() == ["b"]
    assert memory.search("anything", namespace="a", k=10) == []
    assert memory.stats("a")["memory_step"] == 0
    assert {h.id for h in memory.search("anything", namespace="b", k=10)} == {"m3", "m4"}


def test_delete_single_messages_keeps_the_rest(memory):
    memory.add_messages(CHAT, namespace="n")
    memory.delete(namespace="n", ids=["m1", "m3"])
    assert [s.id for s in memory.get(None, namespace="n")] == ["m2", "m4"]
    assert memory.stats("n")["memory_step"] == 4


def test_memory_evolves_across_batches(memory):
    memory.add_messages(CHAT[:2], namespace="n")
    before = memory.search("bakery", namespace="n", k=2)
    memory.add_messages(CHAT[2:], namespace="n")
    after = memory.search("bakery", namespace="n", k=4)
    assert memory.stats("n")["memory_step"] == 4
    scores_before = {h.id: h.score for h in before}
    scores_after = {h.id: h.score for h in after}
    assert any(abs(scores_before[i] - scores_after[i]) > 1e-6 for i in scores_before)


def test_add_text_splits_a_document(memory):
    text = "The bakery opens at nine. It sells sourdough.\n\nThe harbour is close. " * 6
    ids = memory.add_text(text, namespace="docs", metadata={"source": "notes"}, doc_id="notes")
    assert len(ids) > 1 and ids[0] == "notes-0"
    segments = memory.get(ids, namespace="docs")
    assert all(s.metadata["source"] == "notes" and s.metadata["kind"] == "document" for s in segments)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.add_messages([{"role": "user", "content": ""}], namespace="n"), ValueError),
        (lambda m: m.add_messages([{"role": "user"}], namespace="n"), ValueError),
        (lambda m: m.add_messages(["just text"], namespace="n"), TypeError),
        (
            lambda m: m.add_messages([{"content": "x", "id": "a"}, {"content": "y", "id": "a"}], namespace="n"),
            ValueError,
        ),
        (lambda m: m.add_messages([{"content": "x", "timestamp": "yesterday"}], namespace="n"), ValueError),
        (lambda m: m.add_messages([{"content": "x", "metadata": {"a": {"b": 1}}}], namespace="n"), TypeError),
        (lambda m: m.add_messages([{"content": "x", "metadata": {"a": None}}], namespace="n"), TypeError),
        (lambda m: m.add_messages([{"content": "x", "metadata": {"position": 3}}], namespace="n"), ValueError),
        (lambda m: m.add_messages([{"content": "x"}], namespace=""), ValueError),
        (lambda m: m.add_messages([{"content": "x"}], namespace="a\tb"), ValueError),
        (lambda m: m.search("x", namespace="n", k=0), ValueError),
        (lambda m: m.search(42, namespace="n"), TypeError),
    ],
)
def test_bad_input_is_rejected_and_store_unchanged(memory, call, error):
    memory.add_messages(CHAT[:1], namespace="n")
    with pytest.raises(error):
        call(memory)
    assert memory.stats("n")["segments"] == 1 and memory.stats("n")["memory_step"] == 1


@pytest.mark.system
def test_reopening_in_another_process_gives_identical_results(tmp_path, tiny_bert_dir):
    model_dir = tmp_path / "model"
    EvoEncoder(small_config(tiny_bert_dir)).save_pretrained(model_dir)
    memory = EvoMemory(tmp_path / "data", model=str(model_dir))
    memory.add_messages(CHAT, namespace="n")
    here = [(h.id, round(h.score, 5)) for h in memory.search("the race in Lisbon", namespace="n", k=4)]
    script = (
        "import json, sys; from evomem import DeleteResult, EvoMemory; "
        "m = EvoMemory(sys.argv[1], model=sys.argv[2]); "
        "print(json.dumps([(h.id, round(h.score, 5)) for h in m.search('the race in Lisbon', namespace='n', k=4)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data"), str(model_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    there = [tuple(pair) for pair in json.loads(out.stdout.strip().splitlines()[-1])]
    assert there == here


def test_another_model_uses_another_collection(tmp_path, tiny_bert_dir, encoder):
    first = EvoMemory(tmp_path / "data", model=encoder)
    first.add_messages(CHAT, namespace="n")
    other = EvoMemory(tmp_path / "data", model=EvoEncoder(small_config(tiny_bert_dir, queue_steps=3)))
    assert other.fingerprint != first.fingerprint
    assert other.search("Pepper", namespace="n") == []
    assert len(first.search("Pepper", namespace="n", k=4)) == 4


def test_segments_leave_room_for_special_tokens_only(memory, encoder):
    # BERT adds [CLS] and [SEP]: a segment may hold the limit minus those two, and no part is ever truncated
    assert memory.segmenter.room == encoder.config.segment_max_tokens - 2
    long_text = " ".join(f"word{i}" for i in range(200))
    memory.add_messages([{"role": "user", "content": long_text, "id": "long"}], namespace="n")
    for part in memory.get(["long"], namespace="n"):
        assert len(encoder.tokenizer(part.text)["input_ids"]) <= encoder.config.segment_max_tokens


def test_a_retried_write_is_a_no_op_and_a_changed_message_an_update(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    chat = [
        {"role": "user", "content": f"message {i} about bread", "id": f"m{i}", "timestamp": 1700000000 + i}
        for i in range(5)
    ]
    chat[2]["content"] = " ".join(f"word{i} about the long note" for i in range(60))  # several parts
    chat[3]["metadata"] = {"topic": "bread", "n": 3, "ok": True}
    memory.add_messages(chat, namespace="ns")
    before = memory.stats("ns")
    state = memory.states.path("ns").read_bytes()
    retried = memory.add_messages(chat, namespace="ns")  # a client retrying after a timeout
    assert retried == [m["id"] for m in chat] and retried.unchanged == retried and retried.stored == []
    assert memory.stats("ns") == before and memory.states.path("ns").read_bytes() == state  # memory read once
    changed = [chat[0], {**chat[1], "content": "message 1, corrected"}, {**chat[4], "timestamp": 1800000000}]
    added = memory.add_messages(changed, namespace="ns")
    assert (added.stored, added.unchanged) == (["m1", "m4"], ["m0"])
    after = memory.stats("ns")
    assert after["messages"] == 5 and after["memory_step"] == before["memory_step"] + 2  # only the two updates
    assert [s.text for s in memory.get(["m1"], namespace="ns")] == ["user: message 1, corrected"]
    assert memory.get(["m4"], namespace="ns")[0].metadata["timestamp"] == 1800000000


def test_delete_reports_what_it_deleted_and_what_is_not_there(memory):
    long = " ".join(f"word{i} about the long note" for i in range(60))
    memory.add_messages([*CHAT, {"role": "user", "content": long, "id": "long"}], namespace="n")
    parts = len(memory.get(["long"], namespace="n"))
    assert parts > 1
    assert memory.delete("n", ids=["m1", "long", "nope"]) == DeleteResult("n", True, 2, 1 + parts, ["nope"])
    assert memory.search("Pepper beagle", namespace="n", mode="lexical") == []  # the lexical index in step
    assert memory.delete("n", ids=["m1"]) == DeleteResult("n", True, 0, 0, ["m1"])  # deleted already
    assert memory.delete_namespace("typo-ns") == DeleteResult("typo-ns", False, 0, 0)
    assert memory.delete("typo-ns", ids=["m2"]) == DeleteResult("typo-ns", False, 0, 0, ["m2"])
    assert not memory.journal.files() and memory.namespaces() == ["n"]  # nothing written for nothing deleted
    assert memory.delete_namespace("n") == DeleteResult("n", True, 3, 3) and memory.namespaces() == []


def test_any_session_id_is_a_namespace_one_per_nfc_spelling(memory):
    names = ["user:42", "user-42", "thread/1", "Émilie", "Maya Lopez", "x" * 256, "user:42:7"]
    for name in names:
        memory.add_messages([{"content": f"hello from {name}", "id": "m0"}], namespace=name)
    decomposed = "E\u0301milie"  # the same name as "Émilie" under NFC
    assert memory.add_messages([{"content": "hello from Émilie", "id": "m0"}], namespace=decomposed).unchanged == ["m0"]
    memory.add_messages([{"content": "hi", "id": "m0"}], namespace="émilie")  # case is kept: another namespace
    assert memory.namespaces() == sorted([*names, "émilie"])
    for name in names:
        hits = memory.search("hello", namespace=name, k=5)
        assert [(h.text, h.metadata["namespace"]) for h in hits] == [(f"user: hello from {name}", name)]
    assert memory.stats(decomposed)["namespace"] == "Émilie" and memory.get(None, decomposed)[0].id == "m0"
    assert memory.stats("user:42")["messages"] == 1  # "user:42:7" (its record ids "user:42:7:0") is apart
    assert memory.delete_namespace(decomposed).existed and "Émilie" not in memory.namespaces()


def test_a_message_without_a_role_is_the_users_as_the_readme_says(memory):
    memory.add_messages([{"content": "hi there"}], namespace="n")
    segment = memory.get(None, namespace="n")[0]
    assert (segment.text, segment.metadata["role"]) == ("user: hi there", "user")
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert "A message is a dict with `content` and optionally `role` (default `user`)" in readme


@pytest.mark.system
def test_a_normal_run_prints_no_warning(tmp_path, tiny_bert_dir):
    """Open, write, search and close with every warning turned into an error: nothing is printed to a user."""
    script = f"""
from evomem import EvoMemory
with EvoMemory({str(tmp_path)!r}, model={str(tiny_bert_dir)!r}) as memory:
    memory.add_messages([{{"content": "the cat sat on the mat"}}], "n")
    memory.search("cat", "n")
"""
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not done.stderr, done.stderr[-3000:]
