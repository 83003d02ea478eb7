"""Read a stream of segments in order: evolve the latent queue and embed each segment with its snapshot.

Dynamic segment-batching (Nie et al., 2026): k consecutive segments share the snapshot M_{t-1} and go through
one packed memory pass, k chosen greedily under a token budget; representation passes are then batched by
token budget, each segment still read with its own snapshot M_{t-1}.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from .encoder import EvoEncoder
from .packing import MemoryBlock, ReadRow, SegmentRead
from .queue import LatentQueue

WINDOW_SEGMENTS = 256  # snapshots held at once before their representation pass runs


def plan_packs(lengths: Sequence[int], queries_per_segment: int, text_budget: int, max_segments: int) -> list[int]:
    """Greedy pack sizes: as many consecutive segments as fit the budget, at least one, at most max_segments."""
    sizes: list[int] = []
    used = count = 0
    for length in lengths:
        cost = length + queries_per_segment
        if count and (used + cost > text_budget or count == max_segments):
            sizes.append(count)
            used = count = 0
        used += cost
        count += 1
    if count:
        sizes.append(count)
    return sizes


def encode_stream(
    encoder: EvoEncoder,
    queue: LatentQueue,
    token_ids: Sequence[list[int]],
    segment_batching: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Advance ``queue`` over the segments in order and return their vectors (n, D).

    With ``segment_batching=False`` every segment gets its own memory pass and its own representation pass.
    """
    vectors = []
    for start in range(0, len(token_ids), WINDOW_SEGMENTS):
        window = token_ids[start : start + WINDOW_SEGMENTS]
        rows = _evolve(encoder, queue, window, segment_batching)
        if segment_batching:
            vectors.extend(encoder.represent(rows))
        else:
            vectors.extend(vector for row in rows for vector in encoder.represent([row]))
        if on_progress:
            on_progress(len(window))
    return torch.cat(vectors) if vectors else torch.zeros(0, encoder.dim)


def encode_texts(
    encoder: EvoEncoder, queue: LatentQueue, texts: list[str], segment_batching: bool, task: str, show: bool
) -> torch.Tensor:
    """The vectors of ``texts`` read in order as the stream after ``queue``, which evolves over them; a progress
    bar labelled ``task`` when ``show``."""
    token_ids = encoder.tokenize(texts)
    with torch.inference_mode(), tqdm(total=len(texts), desc=task, unit="seg", disable=not show) as bar:
        return encode_stream(encoder, queue, token_ids, segment_batching, bar.update)


def embed_texts(
    encoder: EvoEncoder, queue: LatentQueue, texts: Sequence[str], segment_batching: bool = True
) -> torch.Tensor:
    """Read ``texts`` in order as one stream, evolving ``queue``; one L2-normalised vector per text (n, D).

    A text over the segment limit is cut on sentence boundaries into several segments of the stream, and its
    vector is the normalised mean of theirs. Used by the framework adapters' embedding models.
    """
    segmenter = encoder.segmenter()
    pieces: list[str] = []
    owners: list[int] = []
    for index, text in enumerate(texts):
        chunks = segmenter.split_document(text) if segmenter.count(text) > segmenter.room else []
        pieces.extend(chunks or [text])
        owners.extend([index] * max(1, len(chunks)))
    if not pieces:
        return torch.zeros(0, encoder.dim)
    with torch.inference_mode():
        vectors = encode_stream(encoder, queue, encoder.tokenize(pieces), segment_batching)
        summed = torch.zeros(len(texts), encoder.dim).index_add_(0, torch.tensor(owners), vectors.float())
        return torch.nn.functional.normalize(summed, dim=-1)


def _evolve(
    encoder: EvoEncoder, queue: LatentQueue, window: Sequence[list[int]], segment_batching: bool
) -> list[ReadRow]:
    """Run the memory passes over ``window``; return representation rows, one per pack.

    A pack's row holds the memory before the pack plus the latents its segments wrote (but the last), and
    segment i of the pack reads the C latents that were newest just before it: its own snapshot M_{t-1}.
    """
    config = encoder.config
    if segment_batching:
        lengths = [len(ids) for ids in window]
        sizes = plan_packs(lengths, config.num_query_tokens, encoder.text_budget, config.pack_max_segments)
    else:
        sizes = [1] * len(window)
    rows = []
    position = 0
    for size in sizes:
        chunk = window[position : position + size]
        before = queue.block()
        new_latents = encoder.write_memory(before, chunk)
        segments = []
        for i, (ids, written) in enumerate(zip(chunk, new_latents, strict=True)):
            end = len(before) + i * config.num_query_tokens
            segments.append(SegmentRead(ids, (max(0, end - config.capacity), end)))
            queue.push(written)
        new_steps = queue.step - size + torch.arange(size - 1).repeat_interleave(config.num_query_tokens)
        row = before.extended(queue.written(new_latents[:-1].reshape(-1, encoder.dim), new_steps))
        rows.extend(_split_row(row, segments, config.pack_max_tokens))
        position += size
    return rows


def _split_row(memory: MemoryBlock, segments: list[SegmentRead], max_tokens: int) -> list[ReadRow]:
    """Cut a pack's representation row into rows of at most ``max_tokens`` (memory slice + segments).

    Attention cost grows with the square of a row's length, so long rows are split; each keeps only the
    memory its segments read, with their windows shifted to match.
    """
    chunk: list[SegmentRead]
    rows, chunk = [], []

    def flush():
        lo = min(segment.window[0] for segment in chunk)
        hi = max(segment.window[1] for segment in chunk)
        shifted = [SegmentRead(s.ids, (s.window[0] - lo, s.window[1] - lo)) for s in chunk]
        rows.append(ReadRow(memory.part(lo, hi), shifted))

    for segment in segments:
        candidate = [*chunk, segment]
        span = max(s.window[1] for s in candidate) - min(s.window[0] for s in candidate)
        if chunk and span + sum(len(s.ids) for s in candidate) > max_tokens:
            flush()
            chunk = []
        chunk.append(segment)
    if chunk:
        flush()
    return rows
