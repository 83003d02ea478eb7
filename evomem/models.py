"""Where encoders come from: the shipped default, an evomem model directory, or a plain backbone."""

from __future__ import annotations

from pathlib import Path

from .config import CONFIG_NAME, EvoConfig
from .encoder import EvoEncoder

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default"


def load_encoder(model: str | Path | EvoEncoder | None = None) -> EvoEncoder:
    """``None``: the shipped default (trained weights when present, else the untrained default config);
    a directory with ``evomem_config.json``: that model; any other directory: a fresh encoder over it."""
    if isinstance(model, EvoEncoder):
        return model
    if model is None:
        if (DEFAULT_WEIGHTS / CONFIG_NAME).is_file():
            return EvoEncoder.from_pretrained(DEFAULT_WEIGHTS)
        return EvoEncoder(EvoConfig())
    if not isinstance(model, str | Path):
        raise TypeError(f"model must be None, a directory or an EvoEncoder, got {type(model).__name__}")
    directory = Path(model).expanduser()
    if (directory / CONFIG_NAME).is_file():
        return EvoEncoder.from_pretrained(directory)
    return EvoEncoder(EvoConfig(backbone=str(directory)))
