"""Several real processes (and threads) on one store: serialised writers, readers that keep working, and several
clients writing different namespaces of one Chroma server at once."""

from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
from workers import chat_batches, forkserver, ingest_batches, received, search_loop, start, watch

from evomem import EvoMemory

pytestmark = pytest.mark.system


def assert_whole(memory: EvoMemory, namespace: str, batches) -> None:
    """Every batch stored, each message once, positions exactly 0..step-1, and every vector findable."""
    segments = memory.get(None, namespace=namespace)
    step = memory.stats(namespace)["memory_step"]
    assert [s.metadata["position"] for s in segments] == list(range(step))
    ids = [m["id"] for batch in batches for m in batch]
    assert sorted({s.id for s in segments}) == sorted(ids)
    # The vector index holds every record (a stale writer would silently drop some from it).
    hits = memory.search("bread", namespace=namespace, k=len(ids))
    assert sorted(h.id for h in hits) == sorted(ids)
    assert memory.store.count(namespace) == len(segments)


def _batch_runs(ids_in_order: list[str], batches) -> bool:
    """True when every batch's messages are consecutive in the stream (batches never interleave)."""
    where = {message_id: i for i, message_id in enumerate(dict.fromkeys(ids_in_order))}
    for batch in batches:
        places = sorted(where[m["id"]] for m in batch)
        if places != list(range(places[0], places[0] + len(places))):
            return False
    return True


def test_processes_on_one_path_serialise_writers_and_readers_keep_working(tmp_path, model_dir, encoder):
    path = str(tmp_path / "data")
    EvoMemory(path, model=encoder)  # create the store before the processes race to open it
    context = forkserver()
    first, second, own = chat_batches(12, "p"), chat_batches(12, "q"), chat_batches(12, "r")
    stop = context.Event()
    reader, reader_reports = start(context, watch, path, str(model_dir), "shared", stop)
    seen = received(reader_reports, timeout=60, limit=1)  # the reader is up before the writers start
    assert seen == [("open", None)]
    writers = [
        start(context, ingest_batches, path, str(model_dir), "shared", first),
        start(context, ingest_batches, path, str(model_dir), "shared", second),
        start(context, ingest_batches, path, str(model_dir), "own", own),
    ]
    # The reader's reports are drained while the writers run, so that it never blocks on a full pipe.
    deadline = time.monotonic() + 300
    while any(process.is_alive() for process, _ in writers) and time.monotonic() < deadline:
        seen += received(reader_reports, timeout=0.2, limit=100)
    stop.set()
    while reader.is_alive() and time.monotonic() < deadline:
        seen += received(reader_reports, timeout=0.2, limit=100)
    reader.join(10)
    for process, receiver in writers:
        reports = received(receiver)
        assert process.exitcode == 0 and ("done", None) in reports, reports
    seen += received(reader_reports)
    assert ("done", None) in seen and not [r for r in seen if r[0] == "error"], seen[-1]
    memory = EvoMemory(path, model=encoder)
    assert_whole(memory, "shared", first + second)
    assert_whole(memory, "own", own)
    stream = [s.id for s in memory.get(None, namespace="shared")]
    assert _batch_runs(stream, first + second)
    # What the reader saw while the writers ran: only whole batches, growing, and hits from that namespace only.
    snapshots = [r[1:] for r in seen if r[0] == "seen"]
    assert len(snapshots) >= 2
    steps = [step for step, _, _, _ in snapshots]
    assert steps == sorted(steps)
    batches = first + second
    for step, before, hits, after in snapshots:  # each call reads one committed state; commits only add
        assert len(before) >= step and set(before) <= set(after) and set(hits) <= set(after)
        for ids in (before, after):
            present = set(ids)
            assert all({m["id"] for m in b} <= present or not {m["id"] for m in b} & present for b in batches)
            assert _batch_runs(ids, [b for b in batches if b[0]["id"] in present])


def test_reader_processes_beside_a_writer_of_large_batches_crash_nothing_and_lose_nothing(tmp_path, model_dir, encoder):
    """Embedded Chroma is not made for several processes on one directory: without evomem's directory lock a
    searching process died with SIGSEGV and the writer's index lost about 4% of the acknowledged vectors."""
    path = str(tmp_path / "data")
    EvoMemory(path, model=encoder)
    context = forkserver()
    batches = [
        [{"role": "user", "content": f"batch {b} message {i}: bread {i * b}", "id": f"b{b}-{i}"} for i in range(250)]
        for b in range(20)
    ]
    stop = context.Event()
    readers = [start(context, search_loop, path, str(model_dir), "big", stop) for _ in range(2)]
    for _, reports in readers:
        assert received(reports, timeout=60, limit=1) == [("open", None)]
    writer, writer_reports = start(context, ingest_batches, path, str(model_dir), "big", batches)
    writer.join(300)
    stop.set()
    for process, _ in readers:
        process.join(60)
    assert writer.exitcode == 0 and ("done", None) in received(writer_reports)
    for process, reports in readers:
        finished = received(reports)
        assert process.exitcode == 0, f"reader died with exit code {process.exitcode}: {finished}"
        assert finished[-1][0] == "done" and finished[-1][1] > 0, finished
    memory = EvoMemory(path, model=encoder)
    assert_whole(memory, "big", batches)
    assert memory.check().unsearchable == {"big": []}  # the check a user runs: every stored segment reachable by search


def test_threads_share_one_memory(tmp_path, encoder):
    memory = EvoMemory(tmp_path / "data", model=encoder)
    first, second, own = chat_batches(8, "t"), chat_batches(8, "u"), chat_batches(8, "v")
    errors: list[BaseException] = []
    done = threading.Event()

    def write(namespace, batches):
        for batch in batches:
            memory.add_messages(batch, namespace=namespace)

    def read():
        while not done.is_set():
            try:
                hits = memory.search("bread", namespace="shared", k=3)
                assert all(h.metadata["namespace"] == "shared" for h in hits)
                memory.get(None, namespace="own")
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
                return

    with ThreadPoolExecutor(4) as pool:
        reader = pool.submit(read)
        jobs = [
            pool.submit(write, "shared", first),
            pool.submit(write, "shared", second),
            pool.submit(write, "own", own),
        ]
        for job in jobs:
            job.result()
        done.set()
        reader.result()
    assert not errors, "".join(traceback.format_exception(errors[0]))  # the whole trace: where a read failed
    assert_whole(memory, "shared", first + second)
    assert_whole(memory, "own", own)
    assert _batch_runs([s.id for s in memory.get(None, namespace="shared")], first + second)


@pytest.mark.server
def test_server_clients_in_processes_write_namespaces_at_once(chroma_server, tmp_path, model_dir, encoder):
    host, port = chroma_server
    context = forkserver()
    names = ["alpha", "beta", "gamma"]
    batches = {name: chat_batches(10, name[0]) for name in names}
    # Every client keeps its memory states under its own path: nothing serialises them but the server.
    writers = [
        start(context, ingest_batches, str(tmp_path / name), str(model_dir), name, batches[name], host, port)
        for name in names
    ]
    for process, receiver in writers:
        process.join(180)
        reports = received(receiver)
        assert process.exitcode == 0 and ("done", None) in reports, reports
    for name in names:
        memory = EvoMemory(tmp_path / name, model=encoder, chroma_host=host, chroma_port=port)
        assert_whole(memory, name, batches[name])
        raw = memory.store.get(name)  # everything the server holds for the namespace, committed or not
        assert len(raw) == memory.stats(name)["segments"]
        assert all(r.record_id.startswith(f"{name}:") and r.metadata["namespace"] == name for r in raw)
