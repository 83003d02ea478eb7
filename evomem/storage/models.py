"""The model a store was written with, kept beside its data, so that an upgrade of evomem never hides a memory.

A store records its model's fingerprint in ``model.json`` and keeps a copy of the model (its config and the
evomem weights, about 7 MB; the backbone is referenced, as in any saved model) under ``models/<fingerprint>/``.
Opening the store without naming a model loads that copy, whatever default the installed evomem ships;
``EvoMemory.upgrade()`` re-encodes the store with another model and then moves ``model.json`` to it, atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from ..errors import StoreCorruptedError
from ..model.config import CONFIG_NAME
from ..model.encoder import WEIGHTS_NAME, EvoEncoder
from .state import fsync_dir, write_atomic

MODEL_FILE = "model.json"  # {"fingerprint": ...}: the model the store is written with now
MODELS_DIR = "models"  # a copy of each model the store has been written with


class StoreModels:
    """The models kept in one store's directory, and which of them is the store's own."""

    def __init__(self, root: Path):
        self.root = root
        self.pointer = root / MODEL_FILE

    def current(self) -> str | None:
        """The fingerprint of the store's model; None for a new store, or one written before stores kept models."""
        try:
            return str(json.loads(self.pointer.read_text(encoding="utf-8"))["fingerprint"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            kept = ", ".join(sorted(p.name for p in (self.root / MODELS_DIR).glob("[!.]*"))) or "none"
            raise StoreCorruptedError(
                f"{self.pointer} does not say which model the store is written with ({error}); write "
                f'{{"fingerprint": "..."}} into it with the fingerprint of one of the models kept in '
                f"{self.root / MODELS_DIR} ({kept}), or open the store with model=... to choose one"
            ) from None

    def directory(self, fingerprint: str) -> Path:
        return self.root / MODELS_DIR / fingerprint

    def has(self, fingerprint: str) -> bool:
        return (self.directory(fingerprint) / WEIGHTS_NAME).is_file()

    def keep(self, encoder: EvoEncoder, fingerprint: str) -> None:
        """Copy ``encoder`` into the store (once): written beside, then renamed into place."""
        if self.has(fingerprint):
            return
        staging = self.root / MODELS_DIR / f".{fingerprint}.{uuid.uuid4().hex[:8]}.tmp"
        encoder.save_pretrained(staging)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            with open(staging / name, "rb") as handle:
                os.fsync(handle.fileno())
        try:
            staging.rename(self.directory(fingerprint))
        except OSError:  # another process kept it first
            shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(staging.parent)

    def set_current(self, fingerprint: str) -> None:
        """Make ``fingerprint`` the store's model (its copy kept first)."""
        write_atomic(self.pointer, json.dumps({"fingerprint": fingerprint}).encode())

    def claim(self, fingerprint: str) -> None:
        """Record ``fingerprint`` as the store's model unless one is recorded already: of two processes opening a
        new store with different models, the first one's wins (a hard link never replaces a file)."""
        if self.current() is not None:
            return
        staging = self.pointer.with_name(f".{MODEL_FILE}.{uuid.uuid4().hex[:8]}.tmp")
        staging.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
        try:
            os.link(staging, self.pointer)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        fsync_dir(self.root)

    def load(self, fingerprint: str) -> EvoEncoder:
        return EvoEncoder.from_pretrained(self.directory(fingerprint))

    def same_as(self, fingerprint: str, model_directory: Path) -> bool:
        """Whether the kept copy of ``fingerprint`` has the files of ``model_directory`` (cheap: no model load)."""
        return all(
            _digest(self.directory(fingerprint) / name) == _digest(model_directory / name)
            for name in (CONFIG_NAME, WEIGHTS_NAME)
        )


def _digest(path: Path) -> str:
    try:
        if path.name == CONFIG_NAME:  # the backbone's place may be spelt differently in equal models
            config = json.loads(path.read_text(encoding="utf-8"))
            return json.dumps(config, sort_keys=True)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ValueError):
        return ""
