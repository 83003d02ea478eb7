"""`evomem check` sees every damage it can, one line each with its own exit-code bit and never a traceback, and
`check --repair` repairs each: the issue's matrix (a deleted memory state, a truncated lexical index, both, a
corrupt memory state, data of another model)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evomem import EvoEncoder, EvoMemory
from evomem.cli import main
from evomem.storage.state import namespace_digest

FRUIT = ["apple", "banana", "cherry", "damson", "elderberry", "fig"]
CHAT = [{"content": f"we talked about the {fruit} at the harbour", "id": f"m{i}"} for i, fruit in enumerate(FRUIT)]


@pytest.fixture
def store(tmp_path, model_dir):
    path = tmp_path / "store"
    with EvoMemory(path, model=model_dir) as memory:
        memory.add_messages(CHAT, "alpha")
        memory.add_messages(CHAT, "beta")
        memory.search("dog", "beta", mode="lexical")  # the lexical index exists and is current
        directory = memory.states.directory
    return path, directory


def run(path, model_dir, *args):
    result = CliRunner().invoke(main, ["--path", str(path), "--model", str(model_dir), "check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def delete_state(directory, namespace):
    (directory / f"{namespace_digest(namespace)}.safetensors").unlink()


def truncate_lexical(directory, namespace):
    lexical = directory / f"{namespace_digest(namespace)}.lexical"
    lexical.write_bytes(lexical.read_bytes()[:100])


def corrupt_state(directory, namespace):
    state = directory / f"{namespace_digest(namespace)}.safetensors"
    state.write_bytes(state.read_bytes()[:-64] + b"\0" * 64)


@pytest.mark.parametrize(
    "damage, code, expected",
    [
        ([(delete_state, "alpha")], 4, ["namespace alpha: memory-state: namespace 'alpha' has stored segments but no"]),
        ([(truncate_lexical, "beta")], 8, ["namespace beta: lexical-index: lexical index"]),
        ([(delete_state, "alpha"), (truncate_lexical, "beta")], 12, ["alpha: memory-state", "beta: lexical-index"]),
        ([(corrupt_state, "beta")], 4, ["namespace beta: memory-state: memory state"]),
    ],
    ids=["state deleted", "lexical truncated", "both", "state corrupt"],
)
def test_each_damage_is_one_line_with_its_bit_and_repair_fixes_it(store, model_dir, damage, code, expected):
    path, directory = store
    for hurt, namespace in damage:
        hurt(directory, namespace)
    found = run(path, model_dir)
    assert found.exit_code == code, found.output
    lines = found.output.splitlines()
    assert all(any(part in line for line in lines) for part in expected), found.output
    assert "Traceback" not in found.output
    repaired = run(path, model_dir, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert repaired.stdout.splitlines()[-2:] == ["namespace alpha: ok", "namespace beta: ok"]
    with EvoMemory(path, model=model_dir, create=False) as memory:
        for namespace in ("alpha", "beta"):
            assert memory.stats(namespace)["memory_step"] == len(CHAT)
            assert [h.id for h in memory.search("damson", namespace, mode="lexical", k=1)] == ["m3"]


def test_data_of_another_model_is_reported_and_left_to_reembed(store, model_dir, tiny_bert_dir):
    path, _ = store
    with EvoMemory(path, model=EvoEncoder.from_pretrained(model_dir)) as memory:
        other = memory.fingerprint
    fresh = tiny_bert_dir  # a plain backbone: another model, whose fingerprint differs
    found = CliRunner().invoke(main, ["--path", str(path), "--model", str(fresh), "check"])
    assert found.exit_code == 32, found.output
    assert f"store: other-models: data of other models ({other})" in found.output
    assert "evomem upgrade" in found.output
    assert json.loads(json.dumps(found.exit_code)) == 32
