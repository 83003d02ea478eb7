"""Crash safety: real writer processes killed with SIGKILL, at random moments and at each step of a write.

After every kill the store must reopen cleanly: every acknowledged message is there (checked with ``get``), each
batch is wholly present or wholly absent, stored positions are exactly 0..step-1 of the committed memory step,
no journal is left, and what is stored equals, vector for vector, a store that was never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time

import pytest
import torch
from workers import chat_batches, crash_at, forkserver, ingest_batches, received, start

from evomem import EvoMemory, StateCorruptedError, StateMissingError
from evomem.schema import MODES
from evomem.storage.journal import JournalError
from evomem.storage.store import record_id

pytestmark = pytest.mark.system

NAMESPACE = "kill"
BATCHES = chat_batches(400)  # more than the kill loop reaches: the writer is always busy when killed
TRIALS = 14  # about 8 s each; the suite has a 15-minute budget


class Reference:
    """The same batches written by one process that is never interrupted (as far as needed), with the memory
    state after every batch."""

    def __init__(self, path, encoder):
        self.memory = EvoMemory(path, model=encoder)
        self.states: list[tuple[int, torch.Tensor]] = []

    def upto(self, count: int) -> Reference:
        for batch in BATCHES[len(self.states) : count]:
            self.memory.add_messages(batch, namespace=NAMESPACE)
            queue = self.memory.states.load(NAMESPACE, *self.memory._queue_shape())
            self.states.append((queue.step, queue.latents.clone()))
        return self


@pytest.fixture(scope="module")
def reference(tmp_path_factory, encoder):
    return Reference(tmp_path_factory.mktemp("reference") / "data", encoder)


def _vectors(memory: EvoMemory, segments) -> torch.Tensor:
    ids = [record_id(NAMESPACE, s.metadata["position"]) for s in segments]
    by_id = {record.record_id: record.embedding for record in memory.store.fetch(ids)}
    return torch.tensor([by_id[i] for i in ids])


def check_consistent(memory: EvoMemory, reference: Reference) -> int:
    """Assert the store is a clean prefix of the reference; return how many batches it holds."""
    step = memory.stats(NAMESPACE)["memory_step"]
    segments = memory.get(None, namespace=NAMESPACE)
    assert [s.metadata["position"] for s in segments] == list(range(step))
    assert memory.store.count(NAMESPACE) == step  # nothing uncommitted is left in Chroma either
    assert memory.store.lexical.positions(NAMESPACE, below=1 << 62) == list(range(step))  # nor in the lexical index
    if step:
        assert memory.check(NAMESPACE).unsearchable == {NAMESPACE: []}
    stored = {s.id for s in segments}
    present = [[m["id"] in stored for m in batch] for batch in BATCHES]
    assert all(all(flags) or not any(flags) for flags in present), "a batch is partly stored"
    count = sum(all(flags) for flags in present)
    assert all(all(flags) for flags in present[:count]), "stored batches are not a prefix of the stream"
    ref_memory, ref_states = reference.upto(count).memory, reference.states
    expected = ref_memory.get([m["id"] for batch in BATCHES[:count] for m in batch], namespace=NAMESPACE)
    assert [(s.id, s.part, s.text) for s in segments] == [(s.id, s.part, s.text) for s in expected]
    if count:
        assert torch.allclose(_vectors(memory, segments), _vectors(ref_memory, expected), atol=1e-5)
        ref_step, ref_latents = ref_states[count - 1]
        queue = memory.states.load(NAMESPACE, *memory._queue_shape())
        assert queue.step == ref_step and torch.allclose(queue.latents, ref_latents, atol=1e-5)
    assert not list(memory.states.directory.glob("*.journal"))
    return count


def test_sigkill_at_random_moments_loses_no_acknowledged_message(tmp_path, model_dir, encoder, reference):
    context = forkserver()
    path = tmp_path / "data"
    rng = random.Random(20260505)
    acknowledged: set[int] = set()
    recovered: list[str] = []
    killed_while_writing = 0
    began = time.monotonic()
    for _ in range(TRIALS):
        process, receiver = start(context, ingest_batches, str(path), str(model_dir), NAMESPACE, BATCHES)
        if rng.random() < 0.2:  # anywhere, opening and reconciling included
            time.sleep(rng.uniform(0.0, 1.5))
        else:  # while it writes
            assert receiver.poll(300), "the writer did not open the store"
            time.sleep(rng.uniform(0.0, 0.4))
        process.kill()
        process.join()
        reports = received(receiver)
        assert not [r for r in reports if r[0] == "error"], reports
        acknowledged.update(index for kind, index in reports if kind == "ack")
        killed_while_writing += any(kind == "open" for kind, _ in reports) and ("done", None) not in reports
        memory = EvoMemory(path, model=encoder)  # reopening reconciles what the killed writer left
        recovered += memory.recovered
        count = check_consistent(memory, reference)
        missing = [m["id"] for index in acknowledged for m in BATCHES[index]]
        found = {s.id for s in memory.get(missing, namespace=NAMESPACE)}
        assert found == set(missing), f"lost acknowledged messages: {sorted(set(missing) - found)[:5]}"
        assert max(acknowledged, default=-1) < count
    # Ingest resumes where it stopped and goes on exactly as an uninterrupted writer.
    goal = count + 3
    process, receiver = start(context, ingest_batches, str(path), str(model_dir), NAMESPACE, BATCHES[:goal])
    process.join(120)
    assert ("done", None) in received(receiver)
    assert check_consistent(EvoMemory(path, model=encoder), reference) == goal
    figures = {
        "trials": TRIALS,
        "killed_while_writing": killed_while_writing,
        "acknowledged_batches": len(acknowledged),
        "acknowledged_messages": sum(len(BATCHES[i]) for i in acknowledged),
        "lost": 0,
        "reconciled": len(recovered),
        "rolled_back": sum("rolled back" in line for line in recovered),
        "seconds": round(time.monotonic() - began, 1),
    }
    print("kill loop:", json.dumps(figures))
    assert figures["acknowledged_messages"] > 0


@pytest.mark.parametrize(
    ("point", "kept"),
    [
        ("before_upsert", False),
        ("mid_upsert", False),
        ("before_lexical", False),
        ("mid_lexical", False),
        ("before_commit", False),
        ("after_commit", True),
    ],
)
def test_kill_at_each_step_of_a_write(tmp_path, model_dir, encoder, reference, point, kept):
    path = tmp_path / "data"
    first = EvoMemory(path, model=encoder)
    for batch in BATCHES[:3]:
        first.add_messages(batch, namespace=NAMESPACE)
    context = forkserver()
    process, receiver = start(context, crash_at, str(path), str(model_dir), NAMESPACE, BATCHES[3], point)
    process.join(60)
    assert process.exitcode == -9 and ("survived", point) not in received(receiver)
    journal = first.journal.path(NAMESPACE)
    assert journal.exists()
    committed = [m["id"] for batch in BATCHES[: 4 if kept else 3] for m in batch]
    assert sorted({s.id for s in first.get(None, namespace=NAMESPACE)}) == sorted(committed)  # never uncommitted
    if point in ("mid_upsert", "before_lexical", "mid_lexical", "before_commit"):
        # ... although this process can see the dead writer's records in Chroma (and, before the commit, in the
        # lexical index), a search in any mode returns committed messages only
        assert len({s.metadata["message_id"] for s in first.store.get(NAMESPACE)}) > len(committed)
        for mode in MODES:
            assert {h.id for h in first.search("bread bakery", namespace=NAMESPACE, k=50, mode=mode)} <= set(committed)
    reopened = EvoMemory(path, model=encoder)
    assert len(reopened.recovered) == 1
    assert ("kept" if kept else "rolled back") in reopened.recovered[0]
    assert not journal.exists()
    assert check_consistent(reopened, reference) == (4 if kept else 3)
    reopened.add_messages(BATCHES[4 if kept else 3], namespace=NAMESPACE)  # resume
    assert check_consistent(reopened, reference) == (5 if kept else 4)


def test_killed_namespace_delete_is_finished_on_reopening(tmp_path, model_dir, encoder):
    path = tmp_path / "data"
    memory = EvoMemory(path, model=encoder)
    memory.add_messages(BATCHES[0], namespace=NAMESPACE)
    memory.add_messages(BATCHES[1], namespace="other")
    process, receiver = start(forkserver(), crash_at, str(path), str(model_dir), NAMESPACE, None, "mid_delete")
    process.join(60)
    assert process.exitcode == -9
    reopened = EvoMemory(path, model=encoder)
    assert reopened.recovered == [f"finished deleting namespace {NAMESPACE}"]
    assert reopened.namespaces() == ["other"]
    assert reopened.store.count(NAMESPACE) == 0 and reopened.stats(NAMESPACE)["memory_step"] == 0
    assert [s.id for s in reopened.get(None, namespace="other")] == [m["id"] for m in BATCHES[1]]


def test_readding_a_message_and_crashing_keeps_the_old_version(tmp_path, model_dir, encoder):
    path = tmp_path / "data"
    memory = EvoMemory(path, model=encoder)
    memory.add_messages(BATCHES[0] + BATCHES[1], namespace=NAMESPACE)
    before = memory.store.fetch([s.record_id for s in memory.store.get(NAMESPACE)])
    again = [{**BATCHES[1][0], "content": "rewritten text"}, *BATCHES[2]]
    process, _ = start(forkserver(), crash_at, str(path), str(model_dir), NAMESPACE, again, "mid_upsert")
    process.join(60)
    assert process.exitcode == -9
    reopened = EvoMemory(path, model=encoder)
    assert "rolled back" in reopened.recovered[0]
    after = reopened.store.fetch([s.record_id for s in reopened.store.get(NAMESPACE)])
    key = lambda r: r.record_id  # noqa: E731
    assert [(r.record_id, r.text, r.metadata, r.embedding) for r in sorted(after, key=key)] == [
        (r.record_id, r.text, r.metadata, r.embedding) for r in sorted(before, key=key)
    ]  # the old records were never touched: bit-identical


@pytest.mark.parametrize(
    "point, committed",
    [
        ("mid_upsert", False),
        ("mid_lexical", False),
        ("before_commit", False),
        ("before_superseded_deleted", True),
        ("after_commit", True),
    ],
)
def test_readers_see_the_old_or_the_new_version_of_a_message_added_again_never_neither(
    tmp_path, model_dir, encoder, point, committed
):
    """A long message re-added as a short one by a writer that dies: a reader that was open all along (readers
    never reconcile) sees the old version or the new one, each whole, never nothing and never a mix."""
    path = tmp_path / "data"
    long_text = " ".join(f"word{i} about the pinned note" for i in range(60))
    reader = EvoMemory(path, model=encoder)
    reader.add_messages([{"role": "user", "content": long_text, "id": "pinned"}, *BATCHES[0]], namespace=NAMESPACE)
    old_parts = [s.text for s in reader.get(["pinned"], namespace=NAMESPACE)]
    assert len(old_parts) > 2
    others = reader.stats(NAMESPACE)["segments"] - len(old_parts)
    again = [{"role": "user", "content": "short now", "id": "pinned"}]
    process, _ = start(forkserver(), crash_at, str(path), str(model_dir), NAMESPACE, again, point)
    process.join(60)
    assert process.exitcode == -9
    assert reader.journal.files()  # the dead writer's batch is in flight for this reader
    expected = ["user: short now"] if committed else old_parts
    assert [s.text for s in reader.get(["pinned"], namespace=NAMESPACE)] == expected
    for mode in MODES:
        hits = [
            h for h in reader.search("pinned note short now", namespace=NAMESPACE, k=10, mode=mode) if h.id == "pinned"
        ]
        assert len(hits) == 1 and hits[0].text in expected
    only_old = [h.id for h in reader.search("pinned note", namespace=NAMESPACE, k=10, mode="lexical")]
    assert ("pinned" in only_old) == (not committed)  # words of the old version only: found while it is current
    assert reader.stats(NAMESPACE)["segments"] == others + len(expected)
    reader.add_messages(BATCHES[1], namespace=NAMESPACE)  # the next writer finishes the dead one's batch
    assert not reader.journal.files()
    assert [s.text for s in reader.get(["pinned"], namespace=NAMESPACE)] == expected
    assert reader.store.count(NAMESPACE) == reader.stats(NAMESPACE)["segments"]  # nothing superseded is left


def test_a_failed_write_leaves_the_store_unchanged(tmp_path, encoder, monkeypatch):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    memory.add_messages(BATCHES[0], namespace=NAMESPACE)
    before = memory.stats(NAMESPACE)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(memory.states, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        memory.add_messages(BATCHES[1], namespace=NAMESPACE)
    monkeypatch.undo()
    assert memory.stats(NAMESPACE) == before
    assert memory.store.count(NAMESPACE) == before["segments"]
    assert not memory.journal.path(NAMESPACE).exists()


def test_corrupted_state_names_the_file_and_is_rebuilt_from_stored_text(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder, segment_batching=False)
    for batch in BATCHES[:6]:
        memory.add_messages(batch, namespace=NAMESPACE)
    queue = memory.states.load(NAMESPACE, *memory._queue_shape())
    path = memory.states.path(NAMESPACE)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x55
    path.write_bytes(bytes(data))
    calls = (lambda: memory.search("bread", namespace=NAMESPACE), lambda: memory.add_messages(BATCHES[6], NAMESPACE))
    for call in calls:
        with pytest.raises(StateCorruptedError, match="reembed --rebuild") as error:
            call()
        assert str(path) in str(error.value)
    assert memory.rebuild(NAMESPACE) == {NAMESPACE: queue.step}
    rebuilt = memory.states.load(NAMESPACE, *memory._queue_shape())
    assert rebuilt.step == queue.step and torch.allclose(rebuilt.latents, queue.latents, atol=1e-5)
    assert memory.search("bread", namespace=NAMESPACE, k=3)


def test_opening_removes_only_evomem_temporaries(tmp_path, encoder):
    path = tmp_path / "data"
    EvoMemory(path, model=encoder).add_messages(BATCHES[0], namespace=NAMESPACE)
    states = EvoMemory(path, model=encoder).states.directory
    users = [path / ".draft.tmp", path / ".notes.md.123.tmp", states / ".draft.tmp", states / ".x.safetensors.1.tmp"]
    stale = [path / ".chroma.generation.123.456.tmp", states / f".{'ab' * 16}.safetensors.123.tmp"]
    for file in users + stale:
        file.write_text("kept?")
    EvoMemory(path, model=encoder)
    assert [file.exists() for file in users + stale] == [True] * len(users) + [False] * len(stale)


def test_a_lost_state_file_is_an_error_not_a_reset_and_rebuild_recovers(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder, segment_batching=False)
    for batch in BATCHES[:3]:
        memory.add_messages(batch, namespace=NAMESPACE)
    memory.add_messages(BATCHES[0], namespace="other")
    queue = memory.states.load(NAMESPACE, *memory._queue_shape())
    memory.states.path(NAMESPACE).unlink()
    stored = memory.store.count(NAMESPACE)
    calls = [
        lambda: memory.search("bread", namespace=NAMESPACE),
        lambda: memory.get(None, namespace=NAMESPACE),
        lambda: memory.stats(NAMESPACE),
        lambda: memory.add_messages(BATCHES[3], namespace=NAMESPACE),
    ]
    for call in calls:
        with pytest.raises(
            StateMissingError, match=f"namespace '{NAMESPACE}'.*reembed --rebuild --namespace {NAMESPACE}"
        ):
            call()
    assert memory.store.count(NAMESPACE) == stored  # nothing was mixed into the stream
    assert memory.search("bread", namespace="other") and memory.search("bread", namespace="new") == []
    assert memory.rebuild(NAMESPACE) == {NAMESPACE: queue.step}
    rebuilt = memory.states.load(NAMESPACE, *memory._queue_shape())
    assert torch.allclose(rebuilt.latents, queue.latents, atol=1e-5)
    memory.add_messages(BATCHES[3], namespace=NAMESPACE)
    positions = [s.metadata["position"] for s in memory.get(None, namespace=NAMESPACE)]
    assert positions == list(range(memory.stats(NAMESPACE)["memory_step"])) and len(positions) > queue.step
    # Segments an older evomem appended after losing a state collide with the old positions: named, not guessed.
    memory.states.path("other").unlink()
    late = {"namespace": "other", "position": 0, "message_id": "late", "part": 0, "fingerprint": memory.fingerprint}
    old_id = "other:0:late"  # the older evomem's record id: namespace, part, message id
    memory.store.upsert([old_id], [[1.0] * memory.store.dim], ["late"], [late])
    with pytest.raises(ValueError, match="'other' holds .* segments at only .* stream positions"):
        memory.rebuild("other")


def test_a_damaged_journal_stops_only_its_namespace(tmp_path, encoder):
    path = tmp_path / "data"
    memory = EvoMemory(path, model=encoder)
    for name, batch in (("a", BATCHES[0]), ("b", BATCHES[1])):
        memory.add_messages(batch, namespace=name)
    step = memory.stats("a")["memory_step"]
    journal = memory.journal.path("a")
    journal.write_text("{not json")
    reopened = EvoMemory(path, model=encoder)  # opening is not blocked ...
    assert [line.startswith(f"could not reconcile {journal}") for line in reopened.recovered] == [True]
    reopened.add_messages(BATCHES[2], namespace="b")  # ... nor are the other namespaces
    assert reopened.search("bread", namespace="b") and reopened.namespaces() == ["a", "b"]
    with pytest.raises(JournalError, match=f"{journal} is unreadable.*delete it.*reembed --rebuild --namespace a"):
        reopened.add_messages(BATCHES[2], namespace="a")
    with pytest.raises(JournalError, match=f"rebuilt \\['b'\\], but not 1 namespace.*{journal}"):
        reopened.rebuild()
    journal.unlink()  # the recovery the error names
    assert reopened.rebuild("a") == {"a": step}
    reopened.add_messages(BATCHES[2], namespace="a")
    # A journal or state file copied from another namespace is named, not read as that namespace's.
    reopened.journal.begin_delete("b")
    os.replace(reopened.journal.path("b"), journal)
    with pytest.raises(JournalError, match=f"{journal} records namespace 'b', whose journal is .*: it was copied"):
        reopened.add_messages(BATCHES[3], namespace="a")
    journal.unlink()
    copy = reopened.states.path("c")
    shutil.copy(reopened.states.path("b"), copy)
    with pytest.raises(StateCorruptedError, match=f"{copy} records namespace 'b', whose state file is .*: it was"):
        reopened.namespaces()
    assert reopened.stats("b")["messages"] == len(BATCHES[1]) + len(BATCHES[2])
