"""One Chroma collection per model and namespace; a store of the first layout (one collection per model) is
migrated when opened, losing and changing nothing."""

from __future__ import annotations

import pickle
import sqlite3
from contextlib import closing

import pytest
from conftest import small_config

from evomem import EvoEncoder, EvoMemory
from evomem.storage.store import collection_name

CHATS = {
    name: [
        {"role": "user", "content": f"{name} note {i}: the ferry leaves pier {i * 7}", "id": f"m{i}"} for i in range(9)
    ]
    for name in ("maya", "user:42", "Émilie")
}


@pytest.fixture
def encoder(tiny_bert_dir):
    return EvoEncoder(small_config(tiny_bert_dir))


def _written(path, encoder) -> EvoMemory:
    memory = EvoMemory(path, model=encoder)
    for name, chat in CHATS.items():
        memory.add_messages(chat, namespace=name)
    return memory


def _seen(memory: EvoMemory) -> dict:
    """What a user reads of every namespace: segments, stats and searches in every mode."""
    return {
        name: (
            [(s.id, s.part, s.text, s.metadata) for s in memory.get(None, namespace=name)],
            memory.stats(name),
            [
                [(h.id, round(h.score, 5)) for h in memory.search("ferry pier 14", namespace=name, k=4, mode=mode)]
                for mode in ("evolvable", "lexical", "hybrid")
            ],
        )
        for name in CHATS
    }


def _to_first_layout(memory: EvoMemory, keep: int = 0) -> None:
    """Move every record into the model's one collection, as evomem's first layout kept them; the first ``keep``
    namespaces keep their own collection too (a migration killed midway)."""
    store = memory.store
    with store.connection.using(writing=True) as client:
        legacy = client.create_collection(
            collection_name(memory.fingerprint),
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"evomem_fingerprint": memory.fingerprint, "dim": store.dim},
        )
    for index, name in enumerate(sorted(store.collections())):
        records = store.fetch([s.record_id for s in store.get(name)])
        with store.connection.using(writing=True):
            legacy.add(
                ids=[r.record_id for r in records],
                embeddings=[r.embedding for r in records],
                documents=[r.text for r in records],
                metadatas=[r.metadata for r in records],
            )
        if index >= keep:
            store.drop(name)


def test_each_namespace_has_its_own_collection(tmp_path, encoder):
    memory = _written(tmp_path / "data", encoder)
    collections = memory.store.collections()
    assert sorted(collections) == sorted(CHATS)
    assert {name: c.count() for name, c in collections.items()} == {name: len(chat) for name, chat in CHATS.items()}
    assert all(c.name == collection_name(memory.fingerprint, name) for name, c in collections.items())
    # a namespace goes whole
    assert memory.delete_namespace("maya").existed and "maya" not in memory.store.collections()


@pytest.mark.parametrize("keep", [0, 2])
def test_a_store_of_the_first_layout_is_migrated_on_opening(tmp_path, encoder, keep):
    memory = _written(tmp_path / "data", encoder)
    before = _seen(memory)
    _to_first_layout(memory, keep)
    assert memory.store.legacy_records() == sum(len(chat) for chat in CHATS.values())
    reopened = EvoMemory(tmp_path / "data", model=encoder)
    assert reopened.store.legacy_records() == 0
    assert _seen(reopened) == before
    assert sorted(reopened.store.collections()) == sorted(CHATS)
    with reopened.store.connection.using() as client:
        assert collection_name(memory.fingerprint) not in {c.name for c in client.list_collections()}


def test_a_namespace_collection_is_read_before_its_first_write(tmp_path, encoder):
    """Embedded Chroma catches a collection's HNSW index up with its write log at the first read through a client.
    When that read came after the client's first write, before the index was first saved (every 1,000 records),
    the catch-up counted the records written so far again: the index was saved after 750 records, not 1,000, and in
    6 of 15 runs of 5,000 near-duplicate records some were left that no search reaches (docs/hnsw-findings.md)."""
    memory = EvoMemory(tmp_path / "data", model=encoder)
    for b in range(5):  # 1,250 records, one per message, with evomem's reads between the batches
        chat = [
            {"role": "user", "content": f"batch {b} message {i}: bread {i * b}", "id": f"b{b}-{i}"} for i in range(250)
        ]
        memory.add_messages(chat, namespace="big")
    query = "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = ?"
    with closing(sqlite3.connect(memory.path / "chroma" / "chroma.sqlite3")) as db:
        (segment,) = db.execute(query, (memory.store.name("big"), "VECTOR")).fetchone()
    with open(memory.path / "chroma" / segment / "index_metadata.pickle", "rb") as saved:
        assert pickle.load(saved)["total_elements_added"] == 1000  # saved once, at the 1,000th record
    assert memory.check().unsearchable == {"big": []}
