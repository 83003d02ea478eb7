"""Namespaces never leak: property-based tests over random interleavings of add, search, get and delete."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from conftest import small_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evomem import EvoEncoder, EvoMemory
from evomem.schema import MODES

SUFFIXES = ["a", "A", "a-b", "a.b"]  # differ in case and punctuation only
IDS = ["m1", "m2", "m3", "1", "x:y", "a:0:m1"]  # ids that look like each other and like record ids
WORDS = ["bakery", "Pepper", "harbour", "race", "Lisbon", "sourdough", "beagle", "garden", "shift", "cafe"]
CASES = {"tried": 0}
EXAMPLE = itertools.count()

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
spaces = st.sampled_from(SUFFIXES)
operations = st.one_of(
    st.tuples(st.just("add"), spaces, st.lists(st.tuples(st.sampled_from(IDS), texts), min_size=1, max_size=3)),
    st.tuples(st.just("text"), spaces, st.sampled_from(IDS), texts),
    st.tuples(st.just("search"), spaces, texts, st.integers(1, 8), st.sampled_from(MODES)),
    st.tuples(st.just("get"), spaces, st.lists(st.sampled_from(IDS), max_size=3)),
    st.tuples(st.just("delete_ids"), spaces, st.lists(st.sampled_from(IDS), min_size=1, max_size=2)),
    st.tuples(st.just("delete"), spaces),
)


@pytest.fixture(scope="module")
def memory(tmp_path_factory, tiny_bert_dir):
    return EvoMemory(tmp_path_factory.mktemp("isolation") / "data", model=EvoEncoder(small_config(tiny_bert_dir)))


def _words(text: str) -> set[str]:
    return set(text.lower().replace(":", " ").split())


def _state_digest(memory: EvoMemory, namespace: str) -> str | None:
    path = memory.states.path(namespace)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _check(memory: EvoMemory, model: dict[str, dict[str, str]], steps: dict[str, int]) -> None:
    for namespace, messages in model.items():
        segments = memory.get(None, namespace=namespace)
        assert {s.id: s.text for s in segments} == messages
        assert all(s.metadata["namespace"] == namespace for s in segments)
        assert memory.stats(namespace)["memory_step"] == steps[namespace]
    listed = set(memory.namespaces())
    assert {name for name in model if steps[name]} == listed & set(model)


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(operations, min_size=1, max_size=10))
def test_random_interleavings_never_leak_between_namespaces(memory, ops):
    prefix = f"e{next(EXAMPLE)}"  # every example gets namespaces of its own in the shared store
    model: dict[str, dict[str, str]] = {prefix + s: {} for s in SUFFIXES}
    steps = dict.fromkeys(model, 0)
    for op in ops:
        CASES["tried"] += 1
        namespace = prefix + op[1]
        others = {name: _state_digest(memory, name) for name in model if name != namespace}
        if op[0] == "add":
            batch = list({message_id: text for message_id, text in op[2]}.items())  # ids unique in a batch
            messages = [{"role": "user", "content": text, "id": message_id} for message_id, text in batch]
            assert memory.add_messages(messages, namespace=namespace) == [m for m, _ in batch]
            changed = [m for m, text in batch if model[namespace].get(m) != f"user: {text}"]  # unchanged: no-op
            model[namespace].update({m: f"user: {text}" for m, text in batch})
            steps[namespace] += len(changed)
        elif op[0] == "text":
            ids = memory.add_text(op[3], namespace=namespace, doc_id=op[2])
            assert ids == [f"{op[2]}-0"]
            steps[namespace] += model[namespace].get(ids[0]) != op[3]  # the same document again: a no-op
            model[namespace][ids[0]] = op[3]
        elif op[0] == "search":
            hits = memory.search(op[2], namespace=namespace, k=op[3], mode=op[4])
            if op[4] == "lexical":  # the messages that share a word with the query, at most k
                sharing = [m for m, text in model[namespace].items() if set(op[2].lower().split()) & _words(text)]
                assert len(hits) == min(op[3], len(sharing)) and {h.id for h in hits} <= set(sharing)
            else:
                assert len(hits) == min(op[3], len(model[namespace]))
            assert {h.id for h in hits} <= set(model[namespace])
            assert all(h.metadata["namespace"] == namespace and h.text == model[namespace][h.id] for h in hits)
        elif op[0] == "get":
            found = memory.get(op[2], namespace=namespace)
            assert {s.id for s in found} == set(op[2]) & set(model[namespace])
        elif op[0] == "delete_ids":
            memory.delete(namespace, ids=op[2])
            for message_id in op[2]:
                model[namespace].pop(message_id, None)
        else:
            memory.delete_namespace(namespace)
            model[namespace].clear()
            steps[namespace] = 0
            assert memory.store.count(namespace) == 0 and not memory.states.path(namespace).exists()
        # The other namespaces' memory states are untouched, byte for byte.
        assert others == {name: _state_digest(memory, name) for name in others}
        _check(memory, model, steps)


def test_report_cases_tried():
    print(f"isolation: {CASES['tried']} operations tried")


def test_records_are_keyed_by_namespace(memory):
    """The same message id in two namespaces gives two records; deleting one leaves the other."""
    memory.add_messages([{"content": "shared id here", "id": "same"}], namespace="k1")
    memory.add_messages([{"content": "shared id there", "id": "same"}], namespace="k2")
    assert [s.text for s in memory.get(["same"], namespace="k1")] == ["user: shared id here"]
    memory.delete("k1", ids=["same"])
    assert memory.get(["same"], namespace="k1") == []
    assert [s.text for s in memory.get(["same"], namespace="k2")] == ["user: shared id there"]
    # A user filter cannot widen a search beyond its namespace, in any mode.
    for mode in MODES:
        where = {"$or": [{"namespace": "k1"}, {"role": "user"}]}
        hits = memory.search("shared", namespace="k2", k=5, where=where, mode=mode)
        assert [h.metadata["namespace"] for h in hits] == ["k2"]
