"""A store written by an earlier release's default outlives the upgrade of evomem: it opens with its own model, and
`evomem upgrade`, killed with SIGKILL halfway and run again, moves it to today's default (the real models)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import randomize_evo_weights, small_config

from evomem import EvoEncoder, EvoMemory
from evomem.cli import main
from evomem.storage.models import StoreModels

pytestmark = [pytest.mark.system, pytest.mark.slow]

EARLIER_DEFAULT = Path(__file__).parent.parent / "data" / "minilm-v8-step235"  # evomem's default until 77a578c
PETS = ["cat", "dog", "parrot", "rabbit", "turtle", "hamster"]


def chat(name: str, count: int) -> list[dict]:
    return [
        {"content": f"{name} talked about the weather on day {i}", "id": f"{name}-{i}"}
        if i % 10
        else {"content": f"{name} adopted a {PETS[i // 10 % len(PETS)]} named Miso{i}", "id": f"{name}-{i}"}
        for i in range(count)
    ]


def test_an_earlier_defaults_store_opens_with_its_model_and_upgrades_after_a_sigkill(tmp_path):
    path = tmp_path / "store"
    with EvoMemory(path, model=EARLIER_DEFAULT) as written:  # what the earlier release wrote
        earlier = written.fingerprint
        for name in ("maya", "leo"):
            written.add_messages(chat(name, 40), name)
        expected = [h.id for h in written.search("Which pet did maya adopt?", "maya", k=3)]
    with EvoMemory(path) as today:  # today's release, no model named: the store's own model still answers
        assert today.fingerprint == earlier and today.newer_default
        assert [h.id for h in today.search("Which pet did maya adopt?", "maya", k=3)] == expected
    check = CliRunner().invoke(main, ["--path", str(path), "upgrade", "--check"])
    assert check.exit_code == 0 and f"is on model {earlier}" in check.stdout, check.output
    assert "ships another default model" in check.stdout

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [str(Path(sys.executable).parent / "evomem"), "--path", str(path), "upgrade", "--batch-size", "4"]
    killed = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # the installed command
    state = path / "state"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and killed.poll() is None:
        targets = [d for d in state.iterdir() if d.name != earlier and any(d.glob("*.safetensors"))]
        if targets:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(60) == -signal.SIGKILL  # killed during the online pass, not after it
    assert StoreModels(path).current() == earlier  # the store stays on its model, whole
    with EvoMemory(path) as during:
        assert during.fingerprint == earlier
        assert [h.id for h in during.search("Which pet did maya adopt?", "maya", k=3)] == expected
        assert during.stats("leo")["segments"] == 40

    resumed = CliRunner().invoke(main, ["--path", str(path), "upgrade", "--batch-size", "4"])
    assert resumed.exit_code == 0, resumed.output
    assert "an interrupted upgrade, resumed" in resumed.stdout and "80 segments in 2 namespaces" in resumed.stdout
    with EvoMemory(path) as upgraded:
        assert upgraded.fingerprint != earlier and not upgraded.newer_default
        assert StoreModels(path).current() == upgraded.fingerprint
        pets = {f"maya-{i}" for i in range(0, 40, 10)}
        assert upgraded.search("Which pet did maya adopt?", "maya", k=3)[0].id in pets
        assert upgraded.stats("maya")["segments"] == 40 and upgraded.check().exit_code == 0


def test_a_store_on_a_chroma_server_keeps_its_model_and_upgrades(tmp_path, chroma_server, tiny_bert_dir):
    host, port = chroma_server
    server = {"chroma_host": host, "chroma_port": port}
    old = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)), seed=5).save_pretrained(tmp_path / "old")
    new = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)), seed=6).save_pretrained(tmp_path / "new")
    with EvoMemory(tmp_path / "store", model=old, **server) as written:
        written.add_messages(chat("maya", 20), "maya-upgraded")
        earlier = written.fingerprint
    with EvoMemory(tmp_path / "store", **server) as memory:
        assert memory.fingerprint == earlier and memory.stats("maya-upgraded")["segments"] == 20
        report = memory.upgrade(new, batch_segments=6)
        assert report.segments == {"maya-upgraded": 20} and memory.fingerprint == report.target != earlier
        assert len(memory.search("Which pet did maya adopt?", "maya-upgraded", k=3)) == 3
    with EvoMemory(tmp_path / "store", **server) as reopened:
        assert reopened.fingerprint == report.target and reopened.stats("maya-upgraded")["segments"] == 20
