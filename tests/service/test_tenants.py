"""Tenants never wait on each other: through a real `evomem serve` with the real default model, a tenant's 40 KB
document being encoded does not hold back another tenant's one-message write."""

from __future__ import annotations

import threading
import time

import pytest
from service_servers import serve

from evomem import EvoMemoryClient
from evomem.model.loading import DEFAULT_WEIGHTS

pytestmark = [pytest.mark.system, pytest.mark.slow]


def document(kilobytes: int) -> str:
    sentences = [
        f"Entry {i}: the committee reviewed budget line {i * 7} and moved it to quarter {i % 4 + 1}."
        for i in range(5000)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, 5000, 5))[: kilobytes * 1024]


def test_a_large_write_of_one_tenant_never_holds_back_anothers(tmp_path):
    server = serve(DEFAULT_WEIGHTS, tmp_path / "store", "--no-auth", "--workers", "2")
    try:
        alice, bob = EvoMemoryClient(server.url, timeout=600), EvoMemoryClient(server.url, timeout=600)
        bob.add_messages([{"content": "warming up", "id": "w"}], "bob")
        finished: dict[str, float] = {}

        def ingest() -> None:
            alice.add_text(document(40), "alice", doc_id="minutes")
            finished["alice"] = time.monotonic()

        thread = threading.Thread(target=ingest)
        thread.start()
        time.sleep(2)  # alice's request is being encoded
        bob.add_messages([{"content": "Bob's note: the dentist moved to Friday.", "id": "b1"}], "bob")
        finished["bob"] = time.monotonic()
        assert "alice" not in finished  # bob's write returned while alice's was still being written
        thread.join(600)
        assert finished["alice"] > finished["bob"]
        assert [hit.id for hit in bob.search("When is the dentist?", "bob", k=1)] == ["b1"]
        assert alice.stats("alice")["segments"] > 50
    finally:
        server.stop()
