"""Security: safetensors only (nothing is ever unpickled), validated model directories, and no user-chosen name
reaching Chroma or the file system unchecked."""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import small_config

import evomem
from evomem import EvoEncoder, EvoMemory
from evomem.model.backbone import load_backbone, resolve_backbone_dir, validate_model_dir
from evomem.model.encoder import WEIGHTS_NAME
from evomem.storage.store import collection_name


class _Trap:
    """Unpickling this writes a marker file: proof that something loaded a pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "unpickled"))


def _plant_pickles(directory: Path, marker: Path, names: list[str]) -> None:
    for name in names:
        (directory / name).write_bytes(pickle.dumps(_Trap(marker)))


def test_pickled_files_beside_safetensors_are_never_loaded(tmp_path, tiny_bert_dir):
    backbone = Path(shutil.copytree(tiny_bert_dir, tmp_path / "backbone"))
    marker = tmp_path / "marker"
    _plant_pickles(backbone, marker, ["pytorch_model.bin", "training_args.bin"])
    model_dir = EvoEncoder(small_config(backbone)).save_pretrained(tmp_path / "model")
    _plant_pickles(model_dir, marker, ["evomem_weights.bin", "optimizer.pt"])
    memory = EvoMemory(tmp_path / "data", model=str(model_dir))
    memory.add_messages([{"content": "hello"}], namespace="n")
    assert memory.search("hello", namespace="n")
    assert not marker.exists()


def test_model_directories_are_validated(tmp_path, tiny_bert_dir):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        EvoMemory(tmp_path / "data", model=str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        resolve_backbone_dir(str(empty))
    pickled = Path(shutil.copytree(tiny_bert_dir, tmp_path / "pickled"))
    for weights in pickled.glob("*.safetensors"):
        weights.unlink()
    _plant_pickles(pickled, tmp_path / "marker", ["pytorch_model.bin"])
    with pytest.raises(ValueError, match="never loads pickled weights"):
        EvoMemory(tmp_path / "data", model=str(pickled))
    assert not (tmp_path / "marker").exists()
    model_dir = EvoEncoder(small_config(tiny_bert_dir)).save_pretrained(tmp_path / "model")
    (model_dir / WEIGHTS_NAME).unlink()
    _plant_pickles(model_dir, tmp_path / "marker", ["evomem_weights.bin"])
    with pytest.raises(FileNotFoundError, match=WEIGHTS_NAME):
        EvoMemory(tmp_path / "data", model=str(model_dir))
    with pytest.raises(TypeError, match="model must be"):
        EvoMemory(tmp_path / "data", model=42)
    validate_model_dir(Path(tiny_bert_dir))  # a good one passes


def test_no_pickle_loading_in_the_library():
    source = "\n".join(path.read_text(encoding="utf-8") for path in Path(evomem.__file__).parent.rglob("*.py"))
    assert not re.search(r"\btorch\.load\(|\bpickle\.loads?\(|import pickle|\bjoblib\b", source)


def test_user_names_never_reach_chroma_or_the_disk_as_names(tmp_path, tiny_bert_dir):
    memory = EvoMemory(tmp_path / "data", model=EvoEncoder(small_config(tiny_bert_dir)))
    for namespace in ["alice", "Alice", "a.b-c@d_e", "x" * 256, "user:42", "thread/1", "../../etc/passwd", "Émilie"]:
        memory.add_messages(
            [{"content": "hi", "id": "../../etc/passwd", "metadata": {"collection": "evil-name"}}], namespace=namespace
        )
    with memory.store.connection.using() as client:
        names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    assert len(names) == 8 and all(re.fullmatch(rf"evomem-{memory.fingerprint}-[0-9a-f]{{32}}", n) for n in names)
    state_files = sorted(p.name for p in memory.states.directory.iterdir())
    assert len(state_files) == 16 and all(re.fullmatch(r"[0-9a-f]{32}\.(safetensors|lexical)", n) for n in state_files)
    lock_files = sorted(p.name for p in (tmp_path / "data" / "locks").iterdir())
    assert len(lock_files) == 8 and all(re.fullmatch(r"[0-9a-f]{32}\.lock", n) for n in lock_files)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "chroma",
        "chroma.generation",
        "chroma.lock",
        "locks",
        "model.json",
        "models",
        "space.reserve",
        "state",
        "writer.lock",
    ]
    for bad in ["../x", "evomem-abc", "", "ABCDEF"]:
        with pytest.raises(ValueError, match="fingerprint"):
            collection_name(bad)


def _with_model_code(tiny_bert_dir: Path, directory: Path, marker: Path, config_name: str) -> Path:
    """A copy of the tiny backbone whose ``config_name`` maps its classes, unknown to transformers, to a module
    that writes ``marker`` if run."""
    backbone = Path(shutil.copytree(tiny_bert_dir, directory))
    (backbone / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    config = json.loads((backbone / config_name).read_text())
    config["auto_map"] = {"AutoConfig": "evil.Config", "AutoModel": "evil.Model", "AutoTokenizer": ["evil.Tok", None]}
    config["model_type" if config_name == "config.json" else "tokenizer_class"] = "EvilCustom"
    (backbone / config_name).write_text(json.dumps(config))
    return backbone


@pytest.mark.parametrize("config_name", ["config.json", "tokenizer_config.json"])
@pytest.mark.parametrize("stdin", ["closed", "y"])
def test_model_code_is_never_run(tmp_path, tiny_bert_dir, monkeypatch, config_name, stdin):
    marker = tmp_path / "marker"
    backbone = _with_model_code(tiny_bert_dir, tmp_path / "backbone", marker, config_name)
    answer = io.StringIO("y\n" * 5)  # transformers asks on stdin whether to run a model's code
    if stdin == "closed":
        answer.close()
    monkeypatch.setattr(sys, "stdin", answer)
    with pytest.raises(ValueError, match=f"{backbone / config_name} has an auto_map.*never runs code"):
        EvoMemory(tmp_path / "data", model=str(backbone))
    try:  # below that check too, transformers is told never to trust a model's code
        load_backbone(backbone)
    except ValueError as error:
        assert "custom code" in str(error)
    assert not marker.exists()


def test_a_backbone_that_lacks_weights_is_refused_naming_them(tmp_path, tiny_bert_dir):
    """A checkpoint missing weights that evomem reads would load with random ones: refused. A missing pooler, which
    evomem never reads, is not."""
    from safetensors.torch import load_file, save_file

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_bert_dir, damaged)
    weights = damaged / "model.safetensors"
    tensors = load_file(weights)
    assert not any(key.startswith("pooler.") for key in tensors)  # the tiny backbone loads without one
    save_file({k: v for k, v in tensors.items() if "layer.1.output.dense" not in k}, weights, metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"lacks 2 weights \(.*layer\.1\.output\.dense\.bias"):
        load_backbone(damaged)
