"""Where encoders come from: the shipped default, an evomem model directory, or a plain backbone; and the static
base model an encoder is compared with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidTypeError, ModelNotFoundError
from .config import CONFIG_NAME, EvoConfig
from .encoder import EvoEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_WEIGHTS = Path(__file__).parent.parent / "weights" / "default"  # evomem/weights/default


def load_encoder(model: str | Path | EvoEncoder | None = None, trainable: bool = False) -> EvoEncoder:
    """``None``: the shipped default; a directory with ``evomem_config.json``: that model; any other directory: a
    fresh encoder over it (trainable: its adapters start from peft's initialisation). Saved models load for
    inference unless ``trainable`` (``EvoEncoder.from_pretrained``)."""
    if isinstance(model, EvoEncoder):
        return model
    if model is None:
        if not (DEFAULT_WEIGHTS / CONFIG_NAME).is_file():  # never an untrained model in its place
            raise ModelNotFoundError(f"the shipped default model is missing from {DEFAULT_WEIGHTS}: reinstall evomem")
        return EvoEncoder.from_pretrained(DEFAULT_WEIGHTS, trainable=trainable)
    if not isinstance(model, str | Path):
        raise InvalidTypeError(f"model must be None, a directory or an EvoEncoder, got {type(model).__name__}")
    directory = Path(model).expanduser()
    if (directory / CONFIG_NAME).is_file():
        return EvoEncoder.from_pretrained(directory, trainable=trainable)
    return EvoEncoder(EvoConfig(backbone=str(directory)))


def static_model(encoder: EvoEncoder, max_tokens: int | None = None) -> SentenceTransformer:
    """The static base model as users run it: sentence-transformers over the encoder's backbone directory (never
    code from it), on the CPU; ``max_tokens`` overrides how many tokens of a text it reads."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(encoder.backbone_dir), device="cpu", local_files_only=True, trust_remote_code=False)
    if max_tokens is not None:
        model.max_seq_length = max_tokens
    return model
