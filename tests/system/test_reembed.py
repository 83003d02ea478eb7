"""Model mismatch: separate collections per model, and `evomem reembed` migrating a store from the stored text."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from click.testing import CliRunner
from conftest import randomize_evo_weights, small_config
from workers import chat_batches, forkserver, migrate, received, start

from evomem import EvoEncoder, EvoMemory, OtherModelWarning
from evomem.cli import main
from evomem.storage.store import BOOKKEEPING, evomem_collections, record_id

pytestmark = pytest.mark.system

NAMES = ["maya", "leo"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_bert_dir):
    """Two models over the same backbone: different weights, so different fingerprints."""
    root = tmp_path_factory.mktemp("models")
    old = EvoEncoder(small_config(tiny_bert_dir)).save_pretrained(root / "old")
    new = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)), seed=3).save_pretrained(root / "new")
    return old, new


@pytest.fixture(scope="module")
def encoders(models):
    return tuple(EvoEncoder.from_pretrained(directory) for directory in models)


def old_store(path, encoder) -> EvoMemory:
    memory = EvoMemory(path, model=encoder)
    for name in NAMES:
        for batch in chat_batches(6, name[0]):
            memory.add_messages(batch, namespace=name)
    memory.add_text("A document.\n\nWith two paragraphs.", namespace="maya", metadata={"source": "notes"}, doc_id="d")
    memory.delete("maya", ids=["m1-0"])  # a gap in the positions
    return memory


def _user_view(memory: EvoMemory, name: str) -> list[tuple]:
    return [
        (s.id, s.part, s.text, sorted((k, v) for k, v in s.metadata.items() if k not in BOOKKEEPING))
        for s in memory.get(None, namespace=name)
    ]


def _vectors(memory: EvoMemory, name: str) -> torch.Tensor:
    segments = memory.get(None, namespace=name)
    ids = [record_id(name, s.metadata["position"]) for s in segments]
    records = {r.record_id: r.embedding for r in memory.store.fetch(ids)}
    return torch.tensor([records[i] for i in ids])


def test_another_model_never_sees_or_mixes_vectors(tmp_path, encoders):
    old_encoder, new_encoder = encoders
    old = old_store(tmp_path / "data", old_encoder)
    with pytest.warns(OtherModelWarning, match=f"other models only \\(fingerprints {old.fingerprint}.*evomem upgrade"):
        new = EvoMemory(tmp_path / "data", model=new_encoder)
    assert new.fingerprint != old.fingerprint
    assert new.search("bread", namespace="maya") == [] and new.namespaces() == []
    new.add_messages([{"content": "written by the new model", "id": "n1"}], namespace="maya")
    with warnings.catch_warnings():  # both models have data now: neither store looks empty by mistake
        warnings.simplefilter("error", OtherModelWarning)
        EvoMemory(tmp_path / "data", model=new_encoder).close()
        EvoMemory(tmp_path / "data", model=old_encoder).close()
        EvoMemory(tmp_path / "empty", model=new_encoder).close()
    fingerprints = {s.metadata["fingerprint"] for name in old.store.collections() for s in old.store.get(name)}
    assert fingerprints == {old.fingerprint}
    assert [h.id for h in new.search("new model", namespace="maya", k=5)] == ["n1"]
    assert "n1" not in {h.id for h in old.search("new model", namespace="maya", k=50)}
    assert set(evomem_collections(old.store.connection)) == {old.fingerprint, new.fingerprint}


def test_reembed_migrates_every_namespace_from_the_stored_text(tmp_path, encoders):
    old_encoder, new_encoder = encoders
    old = old_store(tmp_path / "data", old_encoder)
    before = {name: _user_view(old, name) for name in NAMES}
    new = EvoMemory(tmp_path / "data", model=new_encoder)
    result = new.reembed(batch_segments=7)
    assert result == {name: len(before[name]) for name in NAMES}
    for name in NAMES:
        assert _user_view(new, name) == before[name]
        segments = new.get(None, namespace=name)
        assert [s.metadata["position"] for s in segments] == list(range(len(segments)))
        assert all(s.metadata["fingerprint"] == new.fingerprint for s in segments)
        assert new.stats(name)["memory_step"] == len(segments)
        assert not torch.allclose(_vectors(new, name), _vectors(old, name), atol=1e-3)  # re-encoded
    assert {h.id for h in new.search("bread", namespace="leo", k=3)} <= {
        m["id"] for b in chat_batches(6, "l") for m in b
    }
    assert _user_view(old, "maya") == before["maya"]  # the source is left as it was
    assert new.reembed(batch_segments=7) == result  # nothing left to do: no change
    assert _user_view(new, "maya") == before["maya"]


def test_reembed_resumes_after_sigkill_with_identical_results(tmp_path, models, encoders):
    old_encoder, new_encoder = encoders
    old_store(tmp_path / "killed", old_encoder)
    old_store(tmp_path / "whole", old_encoder)
    reference = EvoMemory(tmp_path / "whole", model=new_encoder)
    reference.reembed(batch_segments=5)
    source = EvoMemory(tmp_path / "killed", model=old_encoder).fingerprint
    context = forkserver()
    process, receiver = start(context, migrate, str(tmp_path / "killed"), str(models[1]), source, 5, 3)
    process.join(120)
    assert process.exitcode == -9
    assert [r[0] for r in received(receiver)] == ["batch"] * 3
    partial = EvoMemory(tmp_path / "killed", model=new_encoder)
    assert sum(partial.stats(name)["memory_step"] for name in NAMES) == 15
    process, receiver = start(context, migrate, str(tmp_path / "killed"), str(models[1]), source, 5, None)
    process.join(120)
    reports = received(receiver)
    assert process.exitcode == 0 and reports[-1][0] == "done"
    assert reports[0] == ("batch", "leo", 20)  # resumed after the 15 segments committed before the kill
    resumed = EvoMemory(tmp_path / "killed", model=new_encoder)
    for name in NAMES:
        assert _user_view(resumed, name) == _user_view(reference, name)
        assert torch.allclose(_vectors(resumed, name), _vectors(reference, name), atol=1e-5)
        queue, expected = (m.states.load(name, *m._queue_shape()) for m in (resumed, reference))
        assert queue.step == expected.step and torch.allclose(queue.latents, expected.latents, atol=1e-5)


def test_reembed_refuses_to_mix_into_a_namespace_with_other_data(tmp_path, encoders):
    old_encoder, new_encoder = encoders
    old_store(tmp_path / "data", old_encoder)
    new = EvoMemory(tmp_path / "data", model=new_encoder)
    new.add_messages([{"content": "unrelated", "id": "u1"}], namespace="leo")
    with pytest.raises(ValueError, match="not a migration"):
        new.reembed()
    assert [s.id for s in new.get(None, namespace="leo")] == ["u1"]
    with pytest.raises(ValueError, match="no evomem collection"):
        new.reembed("0" * 24)
    with pytest.raises(ValueError, match="rebuild"):
        new.reembed(new.fingerprint)


def test_reembed_and_rebuild_from_the_command_line(tmp_path, models, encoders):
    old_model, new_model = models
    old = old_store(tmp_path / "data", encoders[0])
    base = ["--path", str(tmp_path / "data"), "--model", str(new_model)]
    result = CliRunner().invoke(main, [*base, "search", "bread", "--namespace", "leo"])
    assert result.exit_code == 2 and "warning: the store at" in result.stderr and "`evomem upgrade`" in result.stderr
    assert "no namespace 'leo' in the store at" in result.stderr and "other models' data" in result.stderr
    result = CliRunner().invoke(main, [*base, "reembed", "--batch-size", "4", "--drop-source"])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert "namespace leo: 28 segments re-embedded" in result.output
    new = EvoMemory(tmp_path / "data", model=encoders[1])
    assert set(evomem_collections(new.store.connection)) == {new.fingerprint}  # the old model's data is gone
    assert not old.states.directory.exists()
    state = new.states.path("leo")
    state.write_bytes(state.read_bytes()[:-7])
    result = CliRunner().invoke(main, [*base, "stats", "--namespace", "leo"])
    assert result.exit_code == 2 and result.output.startswith("Error: ") and "reembed --rebuild" in result.output
    result = CliRunner().invoke(main, [*base, "reembed", "--rebuild", "--namespace", "leo"])
    assert result.exit_code == 0 and "rebuilt the memory of namespace leo (step 28)" in result.output
    stats = json.loads(CliRunner().invoke(main, [*base, "stats", "--namespace", "leo"]).output)
    assert stats["memory_step"] == 28 and stats["segments"] == 28
