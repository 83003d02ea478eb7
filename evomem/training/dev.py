"""The dev table that selects the shipped weights: evidence recall per source, evolvable vs static vs BM25.

Every dev question ranks the segments read before it (``0 .. at - 1`` of its stream): the evolvable model with
the memory at that point, the frozen static base (``EvoEncoder.embed_static``) and BM25 (``Bm25Ranker``).
Figures are R@k in percent, overall (``dev_r@10``, ``dev_static_r@10``, ``dev_bm25_r@10``) and per source
(``dev_friendsqa_r@10``, ...).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from ..datasets.records import Question, Stream, source_name
from ..evaluation.systems import Bm25Ranker, rank_by_similarity
from ..evaluation.tasks import Group
from ..model.encoder import EvoEncoder
from .reading import plan_spans, read_stream

KS = (1, 5, 10)
EVOLVABLE, STATIC, BM25 = "", "_static", "_bm25"  # the system's part of a figure's name


@dataclass(frozen=True)
class Ranked:
    """One system's ranking of the segments before one dev question."""

    system: str
    source: str
    order: list[int]
    evidence: list[int]


def recall_figures(rankings: Iterable[Ranked]) -> dict[str, float]:
    """Mean R@k (%), the share of a question's evidence in the top k, overall and per source."""
    scores: dict[str, list[float]] = defaultdict(list)
    for ranked in rankings:
        evidence = set(ranked.evidence)
        for k in KS:
            found = len(set(ranked.order[:k]) & evidence) / len(evidence)
            for group in ("dev", f"dev_{ranked.source}"):
                scores[f"{group}{ranked.system}_r@{k}"].append(found)
    return {name: 100 * sum(values) / len(values) for name, values in scores.items()}


def by_point(stream: Stream) -> dict[int, list[Question]]:
    """The stream's questions grouped by the point they are asked at, in stream order."""
    points: dict[int, list[Question]] = defaultdict(list)
    for question in sorted(stream.questions, key=lambda q: q.at):
        points[question.at].append(question)
    return points


def evolvable_rankings(encoder: EvoEncoder, dev: list[Stream], segment_batching: bool = True) -> Iterator[Ranked]:
    for stream in dev:
        points = by_point(stream)
        reading = read_stream(encoder, stream.segments, plan_spans(list(points), 0), segment_batching)
        for at, questions in points.items():
            memory = reading.memory[at]
            queries = encoder.encode_queries(memory, [q.query for q in questions])
            yield from _ranked(EVOLVABLE, stream, questions, _nearest(reading.vectors[:at], queries))


def static_rankings(encoder: EvoEncoder, dev: list[Stream]) -> Iterator[Ranked]:
    for stream in dev:
        points = by_point(stream)
        vectors = encoder.embed_static(stream.segments[: max(points)])
        for at, questions in points.items():
            queries = encoder.embed_static([q.query for q in questions])
            yield from _ranked(STATIC, stream, questions, _nearest(vectors[:at], queries))


def bm25_rankings(dev: list[Stream]) -> Iterator[Ranked]:
    ranker = Bm25Ranker()
    for stream in dev:
        for at, questions in by_point(stream).items():
            group = Group("", tuple(str(i) for i in range(at)), tuple(stream.segments[:at]))
            orders = ranker.rank(group, [q.query for q in questions])
            yield from _ranked(BM25, stream, questions, [[int(i) for i in order] for order in orders])


@torch.no_grad()
def dev_figures(encoder: EvoEncoder, dev: list[Stream], segment_batching: bool = True) -> dict[str, float]:
    """The evolvable model's figures (they change as it trains)."""
    return recall_figures(evolvable_rankings(encoder, dev, segment_batching))


@torch.no_grad()
def baseline_figures(encoder: EvoEncoder, dev: list[Stream]) -> dict[str, float]:
    """The static base's and BM25's figures (they never change: compute them once a run)."""
    return recall_figures([*static_rankings(encoder, dev), *bm25_rankings(dev)])


def _nearest(segments: torch.Tensor, queries: torch.Tensor) -> list[list[int]]:
    return rank_by_similarity(segments, queries, range(len(segments)))


def _ranked(system: str, stream: Stream, questions: list[Question], orders: list[list[int]]) -> Iterator[Ranked]:
    for question, order in zip(questions, orders, strict=True):
        yield Ranked(system, source_name(stream), order, question.evidence)
