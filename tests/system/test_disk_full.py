"""A full disk: a prompt error naming the path, a store that still opens and reads, writes that resume."""

from __future__ import annotations

import os
import subprocess

import pytest

import evomem.memory
from evomem import EvoMemory, StoreFullError

pytestmark = pytest.mark.system


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MB tmpfs of its own (needs root, as the tests' machines and CI run)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk, leave_bytes: int):
    """A filler file that leaves about ``leave_bytes`` free; returns its path."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave_bytes))
    return filler


def batch(b: int, n: int = 200) -> list[dict]:
    return [{"role": "user", "content": f"batch {b} message {i} about bread {i}", "id": f"b{b}-{i}"} for i in range(n)]


def test_a_write_that_does_not_fit_is_refused_before_it_touches_the_store(small_disk, encoder):
    path = small_disk / "data"
    memory = EvoMemory(path, model=encoder)
    memory.add_messages(batch(0, 5), namespace="ns")
    filler = fill(small_disk, 1_000_000)
    with pytest.raises(StoreFullError, match=f"not enough free disk space for this write in {path}") as raised:
        memory.add_messages(batch(1), namespace="ns")
    assert raised.value.errno == 28  # ENOSPC, an OSError like any full-disk error
    assert not memory.journal.files()  # nothing was begun
    reader = EvoMemory(path, model=encoder)  # opens and reads while the disk is full
    assert reader.stats("ns")["messages"] == 5
    assert len(reader.search("bread", namespace="ns", k=10)) == 5
    filler.unlink()
    memory.add_messages(batch(1), namespace="ns")  # space is back: writes resume
    assert {h.id for h in memory.search("bread", namespace="ns", k=205)} == {m["id"] for m in batch(0, 5) + batch(1)}


@pytest.mark.parametrize("leave_bytes", [20_000, 1_000_000], ids=["in-the-log", "applying-the-log"])
def test_a_disk_that_fills_up_inside_chroma_leaves_a_readable_store_and_loses_nothing(
    small_disk, encoder, monkeypatch, leave_bytes
):
    """The space check is made to pass, so the write fails inside Chroma (the case of a disk that another program
    fills during the write): in its log, or applying its log to the metadata, which every read then tries again.
    The error surfaces, the store opens, searches and reads while the disk is still full, nothing acknowledged is
    lost, and once space returns the next write rolls the failed batch back and goes on."""
    path = small_disk / "data"
    memory = EvoMemory(path, model=encoder)
    acknowledged = batch(0, 5)
    memory.add_messages(acknowledged, namespace="ns")
    monkeypatch.setattr(evomem.memory, "batch_bytes", lambda *args: 1)
    filler = fill(small_disk, leave_bytes)
    with pytest.raises(Exception):  # noqa: B017 - Chroma's own error (or ours when space is short after it)
        for b in range(1, 80):
            memory.add_messages(batch(b, 50), namespace="ns")
            acknowledged += batch(b, 50)
    reader = EvoMemory(path, model=encoder)  # opens while the disk is still full
    assert reader.stats("ns")["messages"] == len(acknowledged)
    for opened in (reader, memory):  # reads go on: the failed write gave evomem's reserve back for them
        assert len(opened.search("bread", namespace="ns", k=10)) == min(10, len(acknowledged))
        assert {s.id for s in opened.get(None, namespace="ns")} == {m["id"] for m in acknowledged}
    with pytest.raises(StoreFullError):
        memory.add_messages(batch(98, 1), namespace="ns")  # no room for the reserve: refused before the store
    filler.unlink()
    memory.add_messages(batch(99, 3), namespace="ns")
    acknowledged += batch(99, 3)
    reopened = EvoMemory(path, model=encoder)
    assert not reopened.journal.files()
    found = {h.id for h in reopened.search("bread", namespace="ns", k=len(acknowledged) + 10)}
    assert found == {m["id"] for m in acknowledged}
    assert reopened.store.count("ns") == reopened.stats("ns")["segments"]  # the failed batch left nothing
