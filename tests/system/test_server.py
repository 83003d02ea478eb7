"""EvoMemory against a real Chroma server started with `chroma run`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import small_config

from evomem import EvoEncoder, EvoMemory

pytestmark = pytest.mark.system


def test_server_store_add_and_search(chroma_server, tmp_path, tiny_bert_dir):
    host, port = chroma_server
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    memory = EvoMemory(tmp_path / "state", model=encoder, chroma_host=host, chroma_port=port)
    chat = [{"role": "user", "content": f"note {i} about topic {i % 3}", "id": f"n{i}"} for i in range(12)]
    assert memory.add_messages(chat, namespace="alice") == [m["id"] for m in chat]
    hits = memory.search("topic 1", namespace="alice", k=5)
    assert len(hits) == 5 and {h.id for h in hits} <= {m["id"] for m in chat}
    reopened = EvoMemory(tmp_path / "state", model=encoder, chroma_host=host, chroma_port=port)
    assert [h.id for h in reopened.search("topic 1", namespace="alice", k=5)] == [h.id for h in hits]


def test_server_clients_write_namespaces_concurrently(chroma_server, tmp_path, tiny_bert_dir):
    host, port = chroma_server
    encoder = EvoEncoder(small_config(tiny_bert_dir))

    def write(name: str) -> int:
        memory = EvoMemory(tmp_path / name, model=encoder, chroma_host=host, chroma_port=port)
        memory.add_messages([{"content": f"{name} says {i}", "id": str(i)} for i in range(20)], namespace=name)
        return memory.stats(name)["segments"]

    with ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(write, ["t1", "t2", "t3"]))
    assert counts == [20, 20, 20]


def test_every_search_mode_works_against_a_server(chroma_server, tmp_path, tiny_bert_dir):
    host, port = chroma_server
    memory = EvoMemory(
        tmp_path / "state", model=EvoEncoder(small_config(tiny_bert_dir)), chroma_host=host, chroma_port=port
    )
    chat = [{"content": f"note {i} about the {word}", "id": f"n{i}"} for i, word in enumerate(["harbour", "cello"] * 4)]
    memory.add_messages(chat, namespace="modes")
    assert {h.id for h in memory.search("cello", namespace="modes", k=10, mode="lexical")} == {"n1", "n3", "n5", "n7"}
    hybrid = memory.search("cello", namespace="modes", k=3, mode="hybrid", lexical_weight=1.0)
    assert {h.id for h in hybrid} <= {"n1", "n3", "n5", "n7"}
    memory.delete("modes", ids=["n1"])
    assert "n1" not in {h.id for h in memory.search("cello", namespace="modes", k=10, mode="lexical")}
    assert memory.check("modes").unsearchable == {"modes": []}
