"""LatentQueue: the FIFO of latent vectors that is a namespace's evolving memory."""

from __future__ import annotations

import torch

from ..errors import InvalidInputError
from .packing import MemoryBlock


class LatentQueue:
    """The latents of the last ``queue_steps`` segments, ``per_step`` (K) each, oldest first.

    ``step`` counts every segment ever written, so the latent at index j was written at step
    ``step - len(self) // per_step + j // per_step``.
    """

    def __init__(self, per_step: int, queue_steps: int, dim: int, latents: torch.Tensor | None = None, step: int = 0):
        if latents is None:
            latents = torch.zeros(0, dim)
        capacity = per_step * queue_steps
        if latents.ndim != 2 or latents.shape[1] != dim or latents.shape[0] > capacity:
            raise InvalidInputError(f"latents of shape {tuple(latents.shape)} do not fit a queue of {capacity} x {dim}")
        if latents.shape[0] % per_step or latents.shape[0] // per_step > step:
            raise InvalidInputError(
                f"{latents.shape[0]} latents do not match step {step} with {per_step} latents a step"
            )
        self.per_step = per_step
        self.queue_steps = queue_steps
        self.dim = dim
        self.latents = latents
        self.step = step

    @property
    def capacity(self) -> int:
        return self.per_step * self.queue_steps

    def __len__(self) -> int:
        return self.latents.shape[0]

    def push(self, new_latents: torch.Tensor) -> None:
        """Append one segment's K latents, dropping the oldest beyond capacity."""
        if tuple(new_latents.shape) != (self.per_step, self.dim):
            raise InvalidInputError(
                f"expected latents of shape ({self.per_step}, {self.dim}), got {tuple(new_latents.shape)}"
            )
        self.latents = torch.cat([self.latents, new_latents.to(self.latents.dtype)])[-self.capacity :]
        self.step += 1

    def latent_steps(self) -> torch.Tensor:
        """The write step of each latent."""
        first = self.step - len(self) // self.per_step
        return first + torch.arange(len(self)) // self.per_step

    def slots(self, steps: torch.Tensor) -> torch.Tensor:
        """Ring slots of latents written at ``steps`` (K consecutive latents per step, from a step's first)."""
        within = torch.arange(steps.shape[0]) % self.per_step
        return (steps % self.queue_steps) * self.per_step + within

    def written(self, latents: torch.Tensor, steps: torch.Tensor) -> MemoryBlock:
        """Latents written at ``steps`` as the encoder reads them, at their ring slots."""
        return MemoryBlock(latents, steps, self.slots(steps))

    def block(self) -> MemoryBlock:
        """The whole memory as the encoder reads it."""
        return self.written(self.latents, self.latent_steps())

    def copy(self) -> LatentQueue:
        return LatentQueue(self.per_step, self.queue_steps, self.dim, self.latents.clone(), self.step)
