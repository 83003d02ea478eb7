"""Read a training stream as at inference, keeping the memory at each question point, with a gradient window.

The stream is read in order from an empty memory (dynamic segment-batching, ``encode_stream``). A question asked
at ``at`` sees the memory after segment ``at - 1``. Backpropagating through hundreds of segments is too costly
on a CPU, so only the segments in some question's window ``[at - W, at)`` are read with grad; the others are
read under ``no_grad``: their vectors are constants in the loss and their latents enter the queue detached, but
the memory they wrote still conditions the windowed segments and the queries. A question asked long after its
evidence would then train only its query side: an *evidence window* also reads each evidence segment and the
segments just before it with grad, so the segment's vector and the memory it read learn to be found later, and a
*far negative window* reads the far segments most like the question the same way, so the evidence's competitors
move with it. Every window edge and question point ends a run of ``encode_stream``, so a pack of segment-batching
never crosses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..model.encoder import EvoEncoder
from ..model.queue import LatentQueue
from ..model.stream import encode_stream


@dataclass(frozen=True)
class Span:
    """Segments ``start .. end - 1``, read in one run, with or without grad."""

    start: int
    end: int
    grad: bool


@dataclass
class Reading:
    vectors: torch.Tensor  # (n, D): segments 0 .. n - 1, where n is the last question point
    memory: dict[int, LatentQueue]  # span end (every question point is one) -> the queue after it


def grad_window(at: int, window: int) -> tuple[int, int]:
    """The segments a question at ``at`` backpropagates into; ``window=0`` means all before it."""
    return (max(0, at - window) if window else 0), at


def evidence_windows(evidence: Sequence[int], window: int) -> list[tuple[int, int]]:
    """For each evidence segment ``e``, the segments ``e - window + 1 .. e`` (none when ``window`` is 0)."""
    return [(max(0, e - window + 1), e + 1) for e in evidence] if window else []


def far_negative_windows(
    ranked: Sequence[int], evidence: Sequence[int], before: int, count: int, window: int
) -> list[tuple[int, int]]:
    """Windows like ``evidence_windows`` around the first ``count`` segments of ``ranked`` (hardest first) that lie
    before ``before`` (the question's gradient window) and are not evidence: far negatives read with grad, so
    far evidence read with grad has competitors that move too."""
    answers = set(evidence)
    far = [i for i in ranked if i < before and i not in answers][:count]
    return evidence_windows(far, window)


def plan_spans(points: Sequence[int], window: int, extra: Sequence[tuple[int, int]] = ()) -> list[Span]:
    """Cut segments ``0 .. max(points) - 1`` at every question point and window edge; a span has grad when it
    lies inside some question's window or one of the ``extra`` windows (``evidence_windows``)."""
    windows = [grad_window(at, window) for at in points] + list(extra)
    edges = sorted({0, *(edge for pair in windows for edge in pair)})
    return [
        Span(start, end, any(lo <= start and end <= hi for lo, hi in windows))
        for start, end in zip(edges, edges[1:], strict=False)
    ]


def read_stream(
    encoder: EvoEncoder, segments: Sequence[str], spans: Sequence[Span], segment_batching: bool = True
) -> Reading:
    """Read the spans in order from an empty memory; a span has grad only if it asks and grad is enabled."""
    grad_allowed = torch.is_grad_enabled()
    token_ids = encoder.tokenize(segments[: spans[-1].end])
    queue = encoder.new_queue()
    vectors, memory = [], {}
    for span in spans:
        with torch.set_grad_enabled(span.grad and grad_allowed):
            vectors.append(encode_stream(encoder, queue, token_ids[span.start : span.end], segment_batching))
        memory[span.end] = queue.copy()
    return Reading(torch.cat(vectors), memory)
