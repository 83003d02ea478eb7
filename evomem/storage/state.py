"""Durable memory state: one checksummed safetensors file per namespace, written atomically."""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save

from ..errors import StateCorruptedError, StateMissingError
from ..model.queue import LatentQueue

FORMAT = "evomem-queue"
VERSION = "1"


def checksum(latents: torch.Tensor) -> str:
    return hashlib.sha256(latents.contiguous().numpy().tobytes()).hexdigest()


def namespace_digest(namespace: str) -> str:
    """The name a namespace's files and collection derive from (hex; never the namespace itself)."""
    return hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:32]


def rebuild_command(namespace: str | None = None) -> str:
    """How to rebuild one namespace's memory state (every namespace's when None) from its stored text."""
    if namespace is None:
        return "`evomem reembed --rebuild` (or EvoMemory(...).rebuild())"
    return f"`evomem reembed --rebuild --namespace {shlex.quote(namespace)}` (or EvoMemory(...).rebuild({namespace!r}))"


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file, fsync, rename over the target, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemoryStates:
    """The committed memory state of each namespace of one model (fingerprint): where it lives is the subclass's.

    ``directory`` is this machine's folder for the model's namespaces (their lexical indexes and temporary files);
    ``revision`` and ``bump`` exist for states shared by several machines, whose local lexical indexes must learn
    that another machine changed a namespace.
    """

    fingerprint: str
    directory: Path

    def location(self, namespace: str) -> str:
        """Where the namespace's state lives, for messages."""
        raise NotImplementedError

    def read(self, namespace: str) -> tuple[dict[str, str], torch.Tensor] | None:
        """Checked metadata (``step``, ``per_step``, ``queue_steps`` as strings) and latents, or None."""
        raise NotImplementedError

    def save(self, namespace: str, queue: LatentQueue) -> None:
        raise NotImplementedError

    def delete(self, namespace: str) -> None:
        raise NotImplementedError

    def has(self, namespace: str) -> bool:
        raise NotImplementedError

    def namespaces(self) -> list[str]:
        raise NotImplementedError

    def revision(self, namespace: str) -> int | None:
        """A number that changes whenever the namespace's segments change (None: states of one machine)."""
        return None

    def bump(self, namespace: str) -> int | None:
        """Record that the namespace's segments changed; returns its new revision (None: one machine)."""
        return None

    def close(self) -> None:
        """Release what the states hold open (a database connection)."""

    def hint(self, namespace: str) -> str:
        return f"rebuild the memory from the namespace's stored text with {rebuild_command(namespace)}"

    def missing(self, namespace: str) -> StateMissingError:
        return StateMissingError(
            f"namespace {namespace!r} has stored segments but no memory state ({self.location(namespace)} is "
            f"missing); {self.hint(namespace)}"
        )

    def step(self, namespace: str) -> int:
        """The committed memory step of a namespace (0 when it has no state)."""
        found = self.read(namespace)
        return 0 if found is None else int(found[0]["step"])

    def load(self, namespace: str, per_step: int, queue_steps: int, dim: int) -> LatentQueue:
        """The namespace's queue, or an empty one when it has none yet."""
        found = self.read(namespace)
        if found is None:
            return LatentQueue(per_step, queue_steps, dim)
        metadata, latents = found
        try:
            return LatentQueue(per_step, queue_steps, dim, latents, int(metadata["step"]))
        except (KeyError, ValueError) as error:
            raise StateCorruptedError(
                f"memory state {self.location(namespace)} does not fit this model ({error}); {self.hint(namespace)}"
            ) from error


def state_metadata(namespace: str, fingerprint: str, queue: LatentQueue, latents: torch.Tensor) -> dict[str, str]:
    """What a saved state records beside its latents."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "namespace": namespace,
        "fingerprint": fingerprint,
        "step": str(queue.step),
        "per_step": str(queue.per_step),
        "queue_steps": str(queue.queue_steps),
        "sha256": checksum(latents),
    }


def checked_state(
    location: str, metadata: dict[str, str], latents: torch.Tensor, expected: dict[str, str], hint: str
) -> tuple[dict[str, str], torch.Tensor]:
    """``metadata`` and ``latents`` once they pass the checks every saved state passes."""
    expected = {"format": FORMAT, "version": VERSION, **expected}
    for key, value in expected.items():
        if metadata.get(key) != value:
            raise StateCorruptedError(
                f"memory state {location} has {key}={metadata.get(key)!r}, expected {value!r}; {hint}"
            )
    if metadata.get("sha256") != checksum(latents):
        raise StateCorruptedError(f"memory state {location} fails its checksum; {hint}")
    if not metadata.get("step", "").isdigit():
        raise StateCorruptedError(f"memory state {location} has no valid step; {hint}")
    return metadata, latents


def models_with_states(root: str | Path) -> set[str]:
    """The fingerprints of the models with at least one namespace's memory state under ``root/state/``."""
    directory = Path(root) / "state"
    if not directory.is_dir():
        return set()
    return {model.name for model in directory.iterdir() if model.is_dir() and any(model.glob("*.safetensors"))}


class StateDirectory(MemoryStates):
    """Memory states of one model (fingerprint) under ``root/state/<fingerprint>/``: one file per namespace."""

    def __init__(self, root: str | Path, fingerprint: str):
        self.fingerprint = fingerprint
        self.directory = Path(root) / "state" / fingerprint

    def path(self, namespace: str) -> Path:
        return self.directory / f"{namespace_digest(namespace)}.safetensors"

    def location(self, namespace: str) -> str:
        return str(self.path(namespace))

    def save(self, namespace: str, queue: LatentQueue) -> None:
        latents = queue.latents.detach().to(torch.float32).cpu().contiguous()
        metadata = state_metadata(namespace, self.fingerprint, queue, latents)
        write_atomic(self.path(namespace), save({"latents": latents}, metadata=metadata))

    def read(self, namespace: str) -> tuple[dict[str, str], torch.Tensor] | None:
        path = self.path(namespace)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                latents = handle.get_tensor("latents").clone()  # a copy, not a view of the mapped file
        except Exception as error:
            raise StateCorruptedError(f"memory state {path} is unreadable ({error}); {self.hint(namespace)}") from error
        expected = {"namespace": namespace, "fingerprint": self.fingerprint}
        return checked_state(str(path), metadata, latents, expected, self.hint(namespace))

    def has(self, namespace: str) -> bool:
        return self.path(namespace).exists()

    def delete(self, namespace: str) -> None:
        path = self.path(namespace)
        if path.exists():
            path.unlink()
            fsync_dir(path.parent)

    def namespaces(self) -> list[str]:
        """The namespace recorded in each state file; a file not named after its namespace is an error."""
        if not self.directory.is_dir():
            return []
        names = []
        for path in self.directory.glob("*.safetensors"):
            try:
                with safe_open(str(path), framework="pt") as handle:
                    name = str((handle.metadata() or {})["namespace"])
            except Exception as error:
                raise StateCorruptedError(
                    f"memory state {path} is unreadable ({error}); delete it, then rebuild the memory of every "
                    f"namespace from the stored text with {rebuild_command()}"
                ) from error
            if self.path(name) != path:
                raise StateCorruptedError(
                    f"memory state {path} records namespace {name!r}, whose state file is {self.path(name)}: it was "
                    f"copied or renamed; move it back, or delete it and rebuild with {rebuild_command()}"
                )
            names.append(name)
        return sorted(names)
