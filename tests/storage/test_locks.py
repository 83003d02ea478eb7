"""Writers per namespace: the writers of two namespaces never wait for each other; the whole store's holder
waits for them and excludes them; threads of one process and processes alike."""

from __future__ import annotations

import threading

import pytest
from conftest import small_config
from workers import forkserver, hold_namespace, received, start

from evomem import EvoEncoder, EvoMemory
from evomem.storage.locks import FileWriterLock, ThreadGate

HELD: list = []  # locks entered by threads and never left, kept from the garbage collector (which would leave them)


def enter(manager) -> None:
    manager.__enter__()  # noqa: PLC2801
    HELD.append(manager)


def in_thread(function) -> tuple[threading.Thread, threading.Event]:
    """``function`` started in a thread, and an event set once it returned."""
    done = threading.Event()

    def run() -> None:
        function()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


@pytest.mark.parametrize("make", [ThreadGate, lambda: None], ids=["threads", "threads-and-files"])
def test_namespaces_at_once_and_the_whole_store_alone(tmp_path, make):
    gate = make() or _Both(tmp_path / "writer.lock")
    release = threading.Event()
    inside = threading.Barrier(3, timeout=10)

    def write(namespace: str) -> None:
        with gate.hold(namespace):
            inside.wait()  # both namespace writers are inside at once, or this times out
            release.wait(10)

    writers = [in_thread(lambda n=n: write(n)) for n in ("alice", "bob")]
    inside.wait()
    _, whole_done = in_thread(lambda: enter(gate.hold(None)))
    _, same_done = in_thread(lambda: enter(gate.hold("alice")))
    assert not whole_done.wait(0.5) and not same_done.wait(0.1)  # both wait for the writers
    release.set()
    for _, done in writers:
        assert done.wait(10)
    assert whole_done.wait(10)
    assert not same_done.wait(0.3)  # the whole store's holder excludes a new namespace writer


class _Both:
    """A thread gate and a file lock, as a ``NamespaceWriter`` takes them."""

    def __init__(self, path):
        self.gate, self.file = ThreadGate(), FileWriterLock(path)

    def hold(self, namespace):
        return _Nested(self.gate.hold(namespace), self.file.hold(namespace))


class _Nested:
    def __init__(self, *managers):
        self.managers = managers

    def __enter__(self):
        for manager in self.managers:
            manager.__enter__()

    def __exit__(self, *exc):
        for manager in reversed(self.managers):
            manager.__exit__(*exc)


def test_a_thread_nests_and_a_waiting_store_holder_is_not_starved():
    gate = ThreadGate()
    with gate.hold(None), gate.hold("a"), gate.hold(None):
        pass  # a namespace inside the whole store, and the store again, in one thread
    with gate.hold("a"), gate.hold("a"), pytest.raises(RuntimeError, match="inside a namespace's"):
        enter(gate.hold(None))
    entered = threading.Event()
    leave = threading.Event()

    def hold_a() -> None:
        with gate.hold("a"):
            entered.set()
            leave.wait(10)

    in_thread(hold_a)
    assert entered.wait(10)
    _, whole_done = in_thread(lambda: enter(gate.hold(None)))
    _, other_done = in_thread(lambda: enter(gate.hold("b")))
    assert not other_done.wait(0.5)  # a new writer queues behind the waiting store holder
    leave.set()
    assert whole_done.wait(10) and not other_done.wait(0.3)


def test_processes_write_other_namespaces_at_once_but_never_the_same(tmp_path):
    context = forkserver()
    process, receiver = start(context, hold_namespace, str(tmp_path / "writer.lock"), "alice", 30)
    assert received(receiver, timeout=60, limit=1) == [("holding", "alice")]
    lock = FileWriterLock(tmp_path / "writer.lock")
    with lock.hold("bob"):  # another namespace: at once
        pass
    with lock.hold_if_free() as free:
        assert free is False  # the whole store: not while alice is written
    _, done = in_thread(lambda: enter(lock.hold("alice")))
    assert not done.wait(0.5)
    process.kill()
    process.join(30)
    assert done.wait(10)  # the dead writer's lock went with it


def test_a_write_to_one_namespace_never_waits_for_another_namespaces_encoding(tmp_path, tiny_bert_dir):
    memory = EvoMemory(tmp_path / "store", model=EvoEncoder(small_config(tiny_bert_dir)))
    encode, encoding, finish = memory.writer.encode, threading.Event(), threading.Event()

    def slow_for_alice(namespace, queue, entries):
        if namespace == "alice":
            encoding.set()
            finish.wait(30)
        return encode(namespace, queue, entries)

    memory.writer.encode = slow_for_alice
    _, alice_done = in_thread(lambda: memory.add_messages([{"content": "a long document"}], "alice"))
    assert encoding.wait(10)
    memory.add_messages([{"content": "bob's short note", "id": "b1"}], "bob")  # returns while alice encodes
    assert [s.id for s in memory.get(None, namespace="bob")] == ["b1"] and not alice_done.is_set()
    _, rebuilt = in_thread(lambda: memory.rebuild())
    assert not rebuilt.wait(0.5)  # store-wide work waits for alice's write
    finish.set()
    assert alice_done.wait(30) and rebuilt.wait(30)
    assert memory.stats("alice")["segments"] == 1
