"""A store keeps the model it was written with, and `upgrade` moves it to another one online (tiny models)."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
from conftest import randomize_evo_weights, small_config

from evomem import EvoEncoder, EvoMemory, OtherModelWarning, StoreCorruptedError
from evomem.maintenance.upgrade import MARKER
from evomem.model.loading import DEFAULT_WEIGHTS
from evomem.storage.models import MODEL_FILE, MODELS_DIR, StoreModels
from evomem.storage.state import models_with_states


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_bert_dir):
    """An old and a new model over one backbone (other weights, other fingerprints), saved as directories."""
    root = tmp_path_factory.mktemp("models")
    old = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)), seed=1).save_pretrained(root / "old")
    new = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)), seed=2).save_pretrained(root / "new")
    return old, new


def fill(path, model) -> EvoMemory:
    memory = EvoMemory(path, model=model)
    memory.add_messages([{"content": f"maya baked bread number {i}", "id": f"m{i}"} for i in range(9)], "maya")
    memory.add_messages([{"content": f"leo fixed bike {i}", "id": f"l{i}"} for i in range(5)], "leo")
    return memory


def view(memory: EvoMemory, namespace: str) -> list[tuple[str, int, str]]:
    return [(s.id, s.part, s.text) for s in memory.get(None, namespace=namespace)]


def test_a_store_opens_with_its_own_model_not_the_installed_default(tmp_path, models):
    old, _ = models
    written = fill(tmp_path / "store", old)
    fingerprint = written.fingerprint
    written.close()
    assert json.loads((tmp_path / "store" / MODEL_FILE).read_text()) == {"fingerprint": fingerprint}
    assert sorted(p.name for p in (tmp_path / "store" / MODELS_DIR / fingerprint).iterdir()) == [
        "evomem_config.json",
        "evomem_weights.safetensors",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", OtherModelWarning)
        memory = EvoMemory(tmp_path / "store")  # no model named: the store's, loaded from its own copy
    assert memory.fingerprint == fingerprint
    assert memory.search("bread", "maya", k=3) and len(view(memory, "leo")) == 5
    assert memory.newer_default  # the installed default is another model: announced, not imposed
    assert not StoreModels(tmp_path / "x").current()


def test_upgrade_reencodes_online_and_follows_writes_and_deletes_made_meanwhile(tmp_path, models):
    old, new = models
    memory = fill(tmp_path / "store", old)
    other = EvoMemory(tmp_path / "store")  # another user of the store, following its model
    before = {name: view(memory, name) for name in ("maya", "leo")}
    old_fingerprint = memory.fingerprint
    seen = []

    def meanwhile(namespace: str, migrated: int) -> None:  # after the first committed batch of the online pass
        if not seen:
            assert other.search("bread", "maya", k=2)  # the old model still answers
            other.add_messages([{"content": "maya moved to Lisbon", "id": "late"}], "maya")
            other.delete("leo", ["l0"])
            other.add_messages([{"content": "a new namespace", "id": "c1"}], "cleo")
        seen.append((namespace, migrated))

    from evomem.maintenance.upgrade import upgrade

    target = memory._open_parts(EvoEncoder.from_pretrained(new), memory.store.connection)
    report = upgrade(target, memory.models, batch_segments=4, on_batch=meanwhile)
    assert seen[0] == ("leo", 4) and report.source == old_fingerprint and report.target == target.fingerprint
    assert report.segments == {"maya": 10, "leo": 4, "cleo": 1}
    assert StoreModels(tmp_path / "store").current() == target.fingerprint
    assert not (tmp_path / "store" / MODELS_DIR / MARKER).exists()
    assert other.search("Lisbon", "maya", k=1)[0].id == "late"  # followed the upgrade on its next call
    assert other.fingerprint == target.fingerprint
    assert view(other, "maya") == [*before["maya"], ("late", 0, "user: maya moved to Lisbon")]
    assert view(other, "leo") == before["leo"][1:] and view(other, "cleo") == [("c1", 0, "user: a new namespace")]
    other.add_messages([{"content": "written after the upgrade", "id": "after"}], "leo")
    reopened = EvoMemory(tmp_path / "store")
    assert reopened.fingerprint == target.fingerprint and view(reopened, "leo")[-1][0] == "after"
    named = EvoMemory(tmp_path / "store", model=old)  # a process that names its model keeps it
    assert named.fingerprint == old_fingerprint and view(named, "maya")[-1][0] == "late"
    assert "after" not in {s.id for s in named.get(None, namespace="leo")}


def test_an_interrupted_upgrade_leaves_the_old_model_answering_and_resumes(tmp_path, models):
    old, new = models
    fill(tmp_path / "whole", old).close()
    shutil.copytree(tmp_path / "whole", tmp_path / "killed")
    EvoMemory(tmp_path / "whole").upgrade(new, batch_segments=4)
    memory = EvoMemory(tmp_path / "killed")
    old_fingerprint = memory.fingerprint

    def interrupt(namespace: str, migrated: int) -> None:
        raise KeyboardInterrupt

    from evomem.maintenance.upgrade import upgrade

    target = memory._open_parts(EvoEncoder.from_pretrained(new), memory.store.connection)
    with pytest.raises(KeyboardInterrupt):
        upgrade(target, memory.models, batch_segments=4, on_batch=interrupt)
    assert target.states.step("leo") == 4  # one batch committed
    reopened = EvoMemory(tmp_path / "killed")
    assert reopened.fingerprint == old_fingerprint and reopened.search("bread", "maya", k=2)
    report = reopened.upgrade(new, batch_segments=4)
    assert report.resumed and report.segments == {"maya": 9, "leo": 5}
    whole = EvoMemory(tmp_path / "whole")
    assert whole.fingerprint == reopened.fingerprint == report.target
    for query in ("bread 3", "bike"):
        for name in ("maya", "leo"):
            expected = [(h.id, round(h.scores.evolvable, 5)) for h in whole.search(query, name, k=5, mode="evolvable")]
            got = [(h.id, round(h.scores.evolvable, 5)) for h in reopened.search(query, name, k=5, mode="evolvable")]
            assert got == expected


def test_upgrade_back_needs_replace_and_drop_old_deletes_the_old_data(tmp_path, models):
    old, new = models
    memory = fill(tmp_path / "store", old)
    old_fingerprint = memory.fingerprint
    report = memory.upgrade(new, batch_segments=4, drop_old=True)
    assert report.dropped_source and models_with_states(tmp_path / "store") == {report.target}
    assert memory.fingerprint == report.target and len(view(memory, "maya")) == 9
    assert memory.upgrade(new).source is None  # on it already
    memory.upgrade(old)  # the old model's data was dropped: nothing to replace
    assert memory.fingerprint == old_fingerprint and len(view(memory, "maya")) == 9
    with pytest.raises(ValueError, match="already holds data in this store .*replace=True"):
        memory.upgrade(new)  # its data from before the way back is kept (no drop_old)
    with pytest.raises(ValueError, match="batch_segments must be a positive integer"):
        memory.upgrade(new, replace=True, batch_segments=0)  # refused before the new model's data is replaced
    assert models_with_states(tmp_path / "store") == {old_fingerprint, report.target}
    assert memory.upgrade(new, replace=True).segments == {"maya": 9, "leo": 5}


def test_a_store_from_before_stores_kept_their_model_is_upgraded_from_its_only_model(tmp_path, models):
    old, new = models
    fill(tmp_path / "store", old).close()
    (tmp_path / "store" / MODEL_FILE).unlink()
    shutil.rmtree(tmp_path / "store" / MODELS_DIR)
    with pytest.warns(OtherModelWarning, match="evomem upgrade"):
        memory = EvoMemory(tmp_path / "store", model=new)
    assert StoreModels(tmp_path / "store").current() is None  # not claimed: its data is another model's
    report = memory.upgrade(new, batch_segments=4)
    assert report.segments == {"maya": 9, "leo": 5} and StoreModels(tmp_path / "store").current() == report.target


def test_a_damaged_model_file_is_named(tmp_path, models):
    fill(tmp_path / "store", models[0]).close()
    (tmp_path / "store" / MODEL_FILE).write_text("{not json")
    with pytest.raises(StoreCorruptedError, match=f"{MODEL_FILE} does not say which model"):
        EvoMemory(tmp_path / "store")


def test_the_default_is_kept_in_a_new_store_byte_for_byte(tmp_path):
    models = StoreModels(tmp_path)
    assert not models.has("x")
    (tmp_path / MODELS_DIR / "x").mkdir(parents=True)
    for name in ("evomem_config.json", "evomem_weights.safetensors"):
        shutil.copy(DEFAULT_WEIGHTS / name, tmp_path / MODELS_DIR / "x" / name)
    assert models.has("x") and models.same_as("x", DEFAULT_WEIGHTS)
