"""Memory-state files: atomic, checksummed, tied to the model."""

from __future__ import annotations

import pytest
import torch

from evomem import LatentQueue, StateCorruptedError
from evomem.storage.state import StateDirectory


def _queue() -> LatentQueue:
    queue = LatentQueue(2, 3, 4)
    for step in range(4):
        queue.push(torch.randn(2, 4) + step)
    return queue


def test_roundtrip(tmp_path):
    states = StateDirectory(tmp_path, "fp1")
    queue = _queue()
    states.save("alice", queue)
    loaded = states.load("alice", 2, 3, 4)
    assert loaded.step == 4 and torch.equal(loaded.latents, queue.latents)
    assert states.namespaces() == ["alice"]
    assert not list(states.directory.glob("*.tmp"))


def test_missing_state_is_an_empty_queue(tmp_path):
    assert StateDirectory(tmp_path, "fp1").load("nobody", 2, 3, 4).step == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corruption_is_reported_with_the_file(tmp_path, damage):
    states = StateDirectory(tmp_path, "fp1")
    states.save("alice", _queue())
    path = states.path("alice")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-3] ^= 0xFF
    else:
        data = bytearray(b"not a safetensors file")
    path.write_bytes(bytes(data))
    with pytest.raises(StateCorruptedError, match=str(path)):
        states.load("alice", 2, 3, 4)


def test_state_of_another_model_is_refused(tmp_path):
    StateDirectory(tmp_path, "fp1").save("alice", _queue())
    other = StateDirectory(tmp_path, "fp2")
    other.directory.mkdir(parents=True)
    StateDirectory(tmp_path, "fp1").path("alice").rename(other.path("alice"))
    with pytest.raises(StateCorruptedError, match="fingerprint"):
        other.load("alice", 2, 3, 4)
