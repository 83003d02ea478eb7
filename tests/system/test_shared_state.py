"""Memory states and writer locks in a real PostgreSQL server, shared by evomem processes over one `chroma run`.

Each "machine" is an ``EvoMemory`` (or an ``evomem serve`` process) with a local path of its own, so nothing but
the Chroma server and the database is shared. The stream a namespace holds must be the stream a single local
store would hold after the same batches in the same order: same positions, same memory, same hits.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import chromadb
import psycopg
import pytest
import torch
from service_servers import serve

from evomem import EvoMemory, EvoMemoryClient
from evomem.errors import StateDatabaseError
from evomem.storage.postgres import Database, redacted
from evomem.storage.store import collection_name

pytestmark = pytest.mark.system

QUERIES = ["where did Maya move", "the beagle", "batch 3 message 1", "coffee"]
MODES = ("evolvable", "lexical", "hybrid")


def batch(number: int, size: int = 4) -> list[dict]:
    topics = ["Maya moved to Lisbon", "the beagle Pepper", "coffee on Sunday", "a job at the harbour"]
    return [
        {"content": f"batch {number} message {i}: {topics[(number + i) % 4]}", "id": f"b{number}-{i}"}
        for i in range(size)
    ]


def hits(memory, namespace: str) -> list[list[tuple[str, float]]]:
    return [
        [(hit.id, round(hit.score, 4)) for hit in memory.search(query, namespace, k=6, mode=mode)]
        for query in QUERIES
        for mode in MODES
    ]


def stream(memory, namespace: str) -> list[tuple[int, str]]:
    """(position, message id) of every stored segment, in stream order."""
    return [(segment.metadata["position"], segment.id) for segment in memory.get(None, namespace)]


@pytest.fixture
def machines(chroma_server, postgres_url, tmp_path, encoder):
    """Open "machines": EvoMemory(local path, the shared Chroma server, the shared state database)."""
    host, port = chroma_server
    opened = []

    def open_machine(name: str) -> EvoMemory:
        memory = EvoMemory(tmp_path / name, model=encoder, chroma_host=host, chroma_port=port, state_url=postgres_url)
        opened.append(memory)
        return memory

    yield open_machine
    for memory in opened:
        memory.close()


def reference(tmp_path, encoder, batches: list[list[dict]], namespace: str) -> EvoMemory:
    """One local store fed the same batches in the same order."""
    memory = EvoMemory(tmp_path / "reference", model=encoder)
    for messages in batches:
        memory.add_messages(messages, namespace)
    return memory


def test_alternating_machines_write_the_stream_one_store_would(machines, tmp_path, encoder):
    namespace = f"shared-{uuid.uuid4().hex[:8]}"
    a, b = machines("a"), machines("b")
    batches = [batch(n) for n in range(6)]
    for n, messages in enumerate(batches):
        (a if n % 2 == 0 else b).add_messages(messages, namespace)
    local = reference(tmp_path, encoder, batches, namespace)
    expected = stream(local, namespace)
    assert [position for position, _ in expected] == list(range(24))
    assert stream(a, namespace) == stream(b, namespace) == expected
    queues = [m.states.load(namespace, *m._queue_shape()) for m in (a, b, local)]
    assert all(q.step == 24 and torch.equal(q.latents, queues[2].latents) for q in queues)
    assert hits(a, namespace) == hits(b, namespace) == hits(local, namespace)
    assert a.namespaces() == b.namespaces() and namespace in a.namespaces()


def test_concurrent_writers_keep_each_batch_whole_and_in_one_order(machines, tmp_path, encoder):
    namespace = f"race-{uuid.uuid4().hex[:8]}"
    a, b = machines("a"), machines("b")
    batches = [batch(n, size=5) for n in range(12)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: (a, b)[n % 2].add_messages(batches[n], namespace), range(len(batches))))
    stored = stream(a, namespace)
    assert stored == stream(b, namespace)
    assert [position for position, _ in stored] == list(range(60))  # one stream, no gap, nothing twice
    runs = [stored[i : i + 5] for i in range(0, 60, 5)]
    order = [int(run[0][1].split("-")[0][1:]) for run in runs]
    assert sorted(order) == list(range(12))  # every batch once
    for number, run in zip(order, runs, strict=True):  # each batch whole, in its own order: never interleaved
        assert [message_id for _, message_id in run] == [m["id"] for m in batches[number]]
    local = reference(tmp_path, encoder, [batches[n] for n in order], namespace)
    assert hits(a, namespace) == hits(b, namespace) == hits(local, namespace)


def test_deletes_through_one_machine_reach_the_others_lexical_index(machines):
    namespace = f"forget-{uuid.uuid4().hex[:8]}"
    a, b = machines("a"), machines("b")
    a.add_messages(batch(0) + batch(1), namespace)
    assert hits(b, namespace) == hits(a, namespace)  # b's lexical index built from the stored text
    b.delete(namespace, ["b0-0"])  # a's index is behind (by a delete: the same step) when a deletes
    a.delete(namespace, ["b0-1", "b1-1"])
    assert hits(b, namespace) == hits(a, namespace)
    for machine in (a, b):
        found = {hit.id for hit in machine.search("Pepper beagle Maya", namespace, k=10, mode="lexical")}
        assert not found & {"b0-0", "b0-1", "b1-1"}
    a.delete_namespace(namespace)
    assert b.search("beagle", namespace, mode="lexical") == [] and namespace not in b.namespaces()
    a.add_messages([{"content": "a new stream about tea", "id": "t"}], namespace)
    assert [hit.id for hit in b.search("beagle tea", namespace, k=10, mode="lexical")] == ["t"]
    assert hits(b, namespace) == hits(a, namespace)


def test_a_batch_another_machine_rolled_back_leaves_nothing_in_the_dead_writers_lexical_index(machines, monkeypatch):
    namespace = f"undo-{uuid.uuid4().hex[:8]}"
    a = machines("a")
    a.add_messages(batch(0) + batch(1), namespace)

    class Killed(Exception):
        pass

    def die(*args):
        raise Killed

    reconcile, calls = a.writer.reconcile, []

    def reconcile_before_the_write_only(*args):
        calls.append(args)
        if len(calls) > 1:
            raise Killed
        reconcile(*args)

    # a's writer dies between its Chroma upsert (its lexical index has the batch's rows) and the commit
    monkeypatch.setattr(a.states, "save", die)
    monkeypatch.setattr(a.writer, "reconcile", reconcile_before_the_write_only)  # it does not undo the batch itself
    with pytest.raises(Killed):
        a.add_messages(
            [{"content": f"Pepper the beagle chased a gull {i}", "id": f"dead-{i}"} for i in range(6)], namespace
        )
    monkeypatch.undo()
    b = machines("b")  # opening reconciles: the batch is rolled back
    assert any("rolled back" in line for line in b.recovered), (b.recovered, a.journal.locations())
    assert hits(a, namespace) == hits(b, namespace)  # a's index is rebuilt, without the dead batch's rows


def test_a_state_database_needs_a_chroma_server_and_a_reachable_url(tmp_path, encoder, postgres_url, chroma_server):
    with pytest.raises(ValueError, match="chroma_host"):
        EvoMemory(tmp_path / "embedded", model=encoder, state_url=postgres_url)
    host, port = chroma_server
    url = "postgresql://evomem:secret@127.0.0.1:1/evomem?connect_timeout=2"
    with pytest.raises(StateDatabaseError, match="cannot reach the state database") as raised:
        EvoMemory(tmp_path / "bad", model=encoder, chroma_host=host, chroma_port=port, state_url=url)
    assert "secret" not in str(raised.value) and redacted(url) in str(raised.value)


def test_a_reader_connection_the_database_dropped_is_reopened_once(postgres_url):
    database = Database(postgres_url)
    try:
        reader_pid = database.read("SELECT pg_backend_pid()")[0][0]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (reader_pid,))
        assert database.read("SELECT 41 + 1") == [(42,)]  # on a new connection
        reopened_pid = database.read("SELECT pg_backend_pid()")[0][0]
        assert reopened_pid != reader_pid
        with pytest.raises(psycopg.errors.DivisionByZero):
            database.read("SELECT 1 / 0")  # an error of the statement itself: no new connection
        assert database.read("SELECT pg_backend_pid()")[0][0] == reopened_pid
    finally:
        database.close()


# ----- two `evomem serve` processes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_servers(chroma_server, postgres_url, tmp_path_factory, model_dir):
    """Two `evomem serve` processes with local paths of their own, over the Chroma server and the database (the
    last test kills the first one)."""
    host, port = chroma_server
    shared = ("--chroma-host", host, "--chroma-port", str(port), "--state-url", postgres_url)
    root = tmp_path_factory.mktemp("servers")
    with ThreadPoolExecutor(2) as pool:  # both start at once
        started = list(pool.map(lambda name: serve(model_dir, root / name, "--no-auth", global_options=shared), "ab"))
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_two_servers_write_one_namespace_at_once(two_servers):
    namespace = f"serve-{uuid.uuid4().hex[:8]}"
    clients = [EvoMemoryClient(server.url) for server in two_servers]
    batches = [batch(n, size=6) for n in range(10)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: clients[n % 2].add_messages(batches[n], namespace), range(len(batches))))
    stored = [segment.id for segment in clients[0].get(None, namespace)]
    assert stored == [segment.id for segment in clients[1].get(None, namespace)]
    runs = [stored[i : i + 6] for i in range(0, 60, 6)]
    assert sorted(runs) == sorted([m["id"] for m in messages] for messages in batches)  # whole, not interleaved
    for mode in MODES:
        first, second = (c.search("the beagle Pepper", namespace, k=8, mode=mode) for c in clients)
        assert [(h.id, round(h.score, 4)) for h in first] == [(h.id, round(h.score, 4)) for h in second]


def test_killing_a_server_mid_batch_leaves_the_batch_whole_or_absent(two_servers, postgres_url, chroma_server, encoder):
    namespace = f"kill-{uuid.uuid4().hex[:8]}"
    a, b = two_servers
    client_a, client_b = EvoMemoryClient(a.url, timeout=300), EvoMemoryClient(b.url)
    client_a.add_messages(batch(0), namespace)
    doomed = [{"content": f"a long turn {i} about the harbour " * 8, "id": f"doomed-{i}"} for i in range(400)]
    threading.Thread(target=lambda: _ignore_failure(client_a.add_messages, doomed, namespace), daemon=True).start()
    with psycopg.connect(postgres_url, autocommit=True) as database:  # the batch's journal entry: it is in flight
        deadline = time.monotonic() + 120
        while not database.execute("SELECT 1 FROM evomem_journal WHERE namespace = %s", (namespace,)).fetchall():
            assert time.monotonic() < deadline, f"the batch never started: {a.output()}"
            time.sleep(0.005)
    a.process.send_signal(signal.SIGKILL)
    a.process.wait()
    client_b.add_messages(batch(1), namespace)  # the other server carries on: it reconciles the dead batch first
    stored = [segment.id for segment in client_b.get(None, namespace)]
    killed = [message_id for message_id in stored if message_id.startswith("doomed-")]
    assert killed in ([], [m["id"] for m in doomed])  # wholly absent or wholly present
    assert stored == [m["id"] for m in batch(0)] + killed + [m["id"] for m in batch(1)]
    collection = chromadb.HttpClient(*chroma_server).get_collection(collection_name(encoder.fingerprint(), namespace))
    assert collection.count() == len(stored)  # no record of a rolled-back batch is left behind in Chroma
    with psycopg.connect(postgres_url, autocommit=True) as database:
        assert not database.execute("SELECT 1 FROM evomem_journal WHERE namespace = %s", (namespace,)).fetchall()


def _ignore_failure(call, *args) -> None:
    with contextlib.suppress(Exception):  # its server is killed mid-request
        call(*args)
