"""Lay out memory latents and segments as one batch: input embeddings, position ids, 4D attention mask.

A row holds one memory block and one or more segments:
- a memory token attends only to the tokens written at the same step (its K-group), so its hidden states
  depend on that group alone and one memory block can serve several segments of a row at once;
- a segment sees the slice ``window`` of the row's memory (its own snapshot) and its own tokens; in a packed
  memory pass (``sees_previous``) it also sees the earlier segments of the row, as in the paper's packed pass;
- decoders are causal token by token inside each group.

Positions: a latent sits at its ring slot ``(step mod L) * K + k``, so its position never changes while it
lives in the queue. Encoders (absolute positions) keep segment text at 0.., exactly like a static encode, and
put the C slots at the end of the position table; decoders put the slots first and the text after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch

from ..errors import InvalidInputError

MEMORY, SEGMENT = 0, 1


@dataclass(frozen=True)
class MemoryBlock:
    """Memory latents with their write steps and ring slots (``LatentQueue.block`` makes them)."""

    embeds: torch.Tensor  # (m, D): raw latents; ``EvoEncoder`` projects them before packing
    steps: torch.Tensor  # (m,) write step of each latent
    slots: torch.Tensor  # (m,) ring slot of each latent, in [0, capacity)

    def __len__(self) -> int:
        return self.embeds.shape[0]

    def part(self, lo: int, hi: int) -> MemoryBlock:
        """Latents ``lo .. hi - 1``."""
        return MemoryBlock(self.embeds[lo:hi], self.steps[lo:hi], self.slots[lo:hi])

    def extended(self, other: MemoryBlock) -> MemoryBlock:
        """These latents, then ``other``'s."""
        return MemoryBlock(
            torch.cat([self.embeds, other.embeds]),
            torch.cat([self.steps, other.steps]),
            torch.cat([self.slots, other.slots]),
        )


@dataclass(frozen=True)
class SegmentRead:
    """A segment's token ids and the memory latents ``[lo, hi)`` of its row that it reads."""

    ids: list[int]
    window: tuple[int, int]


@dataclass(frozen=True)
class ReadRow:
    """A memory block and the segments that read slices of it, in one representation pass."""

    memory: MemoryBlock
    segments: list[SegmentRead]

    def __len__(self) -> int:
        """Tokens of the row: its memory and its segments."""
        return len(self.memory) + sum(len(segment.ids) for segment in self.segments)


@dataclass
class SegmentPiece:
    embeds: torch.Tensor  # (n, D): segment tokens, then query tokens in memory passes
    window: tuple[int, int]  # the row's memory tokens [lo, hi) this segment reads
    sees_previous: bool = False


@dataclass
class PackedBatch:
    inputs_embeds: torch.Tensor  # (B, T, D)
    position_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, 1, T, W + T), additive: 0 where attention is allowed (W: see pack)
    spans: list[list[tuple[int, int]]]  # per row, per segment: (start, end) in the sequence


@dataclass(frozen=True)
class Layout:
    causal: bool
    max_positions: int
    capacity: int

    @property
    def text_start(self) -> int:
        return self.capacity if self.causal else 0

    @property
    def text_end(self) -> int:
        return self.max_positions if self.causal else self.max_positions - self.capacity

    def memory_positions(self, slots: torch.Tensor) -> torch.Tensor:
        return slots if self.causal else slots + (self.max_positions - self.capacity)


def _row_tensors(layout: Layout, memory: MemoryBlock | None, segments: list[SegmentPiece]):
    """Per-token attributes of one row and its position ids."""
    lo: list[torch.Tensor]
    hi: list[torch.Tensor]
    previous: list[torch.Tensor]
    kind, group, step, index, lo, hi, previous, positions = [], [], [], [], [], [], [], []
    if memory is not None and memory.embeds.shape[0]:
        m = memory.embeds.shape[0]
        kind.append(torch.full((m,), MEMORY))
        group.append(torch.full((m,), -1))
        step.append(memory.steps.cpu())
        index.append(torch.arange(m))
        positions.append(layout.memory_positions(memory.slots.cpu()))
        for values in (lo, hi, previous):
            values.append(torch.zeros(m, dtype=torch.long))
    next_position = layout.text_start
    for g, segment in enumerate(segments):
        n = segment.embeds.shape[0]
        start = next_position if segment.sees_previous else layout.text_start
        if start + n > layout.text_end:
            raise InvalidInputError(
                f"segment positions {start}..{start + n} exceed the {layout.text_end} the backbone leaves beside memory"
            )
        positions.append(torch.arange(start, start + n))
        next_position = start + n
        kind.append(torch.full((n,), SEGMENT))
        group.append(torch.full((n,), g))
        step.append(torch.full((n,), -1))
        index.append(torch.full((n,), -1))
        lo.append(torch.full((n,), segment.window[0]))
        hi.append(torch.full((n,), segment.window[1]))
        previous.append(torch.full((n,), int(segment.sees_previous)))
    return [torch.cat(values) for values in (kind, group, step, index, lo, hi, previous, positions)]


def _allowed(layout: Layout, kind, group, step, index, lo, hi, previous) -> torch.Tensor:
    """(n, n) boolean over one row's tokens: may token a (row) attend to token b (column)."""
    n = kind.shape[0]
    a_kind, b_kind = kind[:, None], kind[None, :]
    same_group_mem = (a_kind == MEMORY) & (b_kind == MEMORY) & (step[:, None] == step[None, :])
    in_window = (lo[:, None] <= index[None, :]) & (index[None, :] < hi[:, None])
    reads_memory = (a_kind == SEGMENT) & (b_kind == MEMORY) & in_window
    both_segments = (a_kind == SEGMENT) & (b_kind == SEGMENT)
    same_segment = both_segments & (group[:, None] == group[None, :])
    earlier_segment = both_segments & (previous[:, None] == 1) & (group[None, :] < group[:, None])
    if layout.causal:
        order = torch.arange(n)
        not_future = order[None, :] <= order[:, None]
        same_group_mem &= not_future
        same_segment &= not_future
    return same_group_mem | reads_memory | same_segment | earlier_segment


def pack(
    layout: Layout, rows: list[tuple[MemoryBlock | None, list[SegmentPiece]]], prefix: bool = False
) -> PackedBatch:
    """Right-pad rows to one length; positions and the additive attention mask follow the rules above.

    With ``prefix`` the memory tokens stay out of the sequence: their keys and values come from a cache
    (``kv_cache.py``), and the mask's first W columns (W the largest memory block) stand for row r's memory
    tokens 0 .. m_r - 1, the other W + T columns for the sequence's tokens.
    """
    first_memory, first_segments = rows[0]
    # a row without segments has a memory block
    reference = first_segments[0].embeds if first_segments else cast(MemoryBlock, first_memory).embeds
    attributes = [_row_tensors(layout, memory, segments) for memory, segments in rows]
    sizes = [memory.embeds.shape[0] if memory is not None else 0 for memory, _ in rows]
    skipped = sizes if prefix else [0] * len(rows)  # leading tokens of each row left out of its sequence
    width = max(skipped)
    length = max(attrs[0].shape[0] - skip for attrs, skip in zip(attributes, skipped, strict=True))
    embeds = reference.new_zeros((len(rows), length, reference.shape[1]))
    position_ids = torch.zeros((len(rows), length), dtype=torch.long)
    allowed = torch.zeros((len(rows), length, width + length), dtype=torch.bool)
    allowed[:, :, width:] = torch.eye(length, dtype=torch.bool)  # padding tokens attend to themselves: no NaN
    spans = []
    for r, ((memory, segments), attrs, skip) in enumerate(zip(rows, attributes, skipped, strict=True)):
        # sizes[r] > 0: the row has a memory block
        in_sequence = ([cast(MemoryBlock, memory).embeds] if sizes[r] and not prefix else []) + [
            s.embeds for s in segments
        ]
        row_embeds = torch.cat(in_sequence)
        n = row_embeds.shape[0]
        embeds[r, :n] = row_embeds
        position_ids[r, :n] = attrs[-1][skip:]
        rules = _allowed(layout, *attrs[:-1])[skip:]
        allowed[r, :n, :skip] = rules[:, :skip]
        allowed[r, :n, width : width + n] = rules[:, skip:]
        start = n - sum(s.embeds.shape[0] for s in segments)
        row_spans = []
        for segment in segments:
            row_spans.append((start, start + segment.embeds.shape[0]))
            start += segment.embeds.shape[0]
        spans.append(row_spans)
    mask = torch.zeros(allowed.shape, dtype=reference.dtype)
    mask.masked_fill_(~allowed, torch.finfo(reference.dtype).min)
    return PackedBatch(embeds, position_ids.to(reference.device), mask[:, None].to(reference.device), spans)
