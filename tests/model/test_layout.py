"""Packing layout and the latent queue."""

from __future__ import annotations

import pytest
import torch

from evomem import LatentQueue
from evomem.model.packing import Layout, MemoryBlock, SegmentPiece, pack


def _allowed(batch, row=0):
    return batch.attention_mask[row, 0] == 0


def _memory(steps):
    steps = torch.tensor(steps)
    return MemoryBlock(torch.randn(len(steps), 4), steps, torch.arange(len(steps)))


def test_memory_sees_only_its_own_step_and_segments_see_their_window():
    layout = Layout(causal=False, max_positions=64, capacity=4)
    memory = _memory([0, 0, 1, 1])
    segments = [SegmentPiece(torch.randn(3, 4), (0, 2)), SegmentPiece(torch.randn(2, 4), (0, 4))]
    batch = pack(layout, [(memory, segments)])
    allowed = _allowed(batch)
    assert allowed[0, :4].tolist() == [True, True, False, False]
    assert not allowed[:4, 4:].any()  # memory never reads text
    assert allowed[4, :4].tolist() == [True, True, False, False]  # first segment reads its window only
    assert allowed[7, :4].all()
    assert not allowed[4:7, 7:].any() and not allowed[7:, 4:7].any()  # segments do not see each other
    assert batch.spans == [[(4, 7), (7, 9)]]
    # text starts at position 0 for each segment; memory sits at the end of the position table
    assert batch.position_ids[0].tolist() == [60, 61, 62, 63, 0, 1, 2, 0, 1]


def test_packed_memory_pass_is_block_causal_and_decoders_causal():
    layout = Layout(causal=True, max_positions=64, capacity=4)
    segments = [SegmentPiece(torch.randn(2, 4), (0, 2), True), SegmentPiece(torch.randn(2, 4), (0, 2), True)]
    batch = pack(layout, [(_memory([5, 5]), segments)])
    allowed = _allowed(batch)
    assert allowed[1, 0] and not allowed[0, 1]  # causal inside a memory group
    assert allowed[4, 2] and allowed[4, 3] and allowed[4, 4] and not allowed[2, 4]
    assert batch.position_ids[0].tolist() == [0, 1, 4, 5, 6, 7]


def test_padding_rows_are_masked():
    layout = Layout(causal=False, max_positions=64, capacity=4)
    short = (None, [SegmentPiece(torch.randn(2, 4), (0, 0))])
    long = (None, [SegmentPiece(torch.randn(5, 4), (0, 0))])
    batch = pack(layout, [short, long])
    allowed = _allowed(batch, 0)
    assert not allowed[:2, 2:].any()
    assert batch.inputs_embeds.shape == (2, 5, 4)


def test_segment_beyond_positions_is_an_error():
    layout = Layout(causal=False, max_positions=16, capacity=8)
    with pytest.raises(ValueError, match="exceed"):
        pack(layout, [(None, [SegmentPiece(torch.randn(9, 4), (0, 0))])])


def test_queue_is_fifo_with_steps_and_ring_slots():
    queue = LatentQueue(per_step=2, queue_steps=3, dim=4)
    for step in range(5):
        queue.push(torch.full((2, 4), float(step)))
    assert len(queue) == 6 and queue.step == 5
    assert queue.latents[:, 0].tolist() == [2, 2, 3, 3, 4, 4]
    steps = queue.latent_steps()
    assert steps.tolist() == [2, 2, 3, 3, 4, 4]
    assert queue.slots(steps).tolist() == [4, 5, 0, 1, 2, 3]


def test_queue_rejects_wrong_shapes():
    queue = LatentQueue(per_step=2, queue_steps=3, dim=4)
    with pytest.raises(ValueError):
        queue.push(torch.zeros(3, 4))
    with pytest.raises(ValueError):
        LatentQueue(2, 3, 4, torch.zeros(8, 4), step=4)
