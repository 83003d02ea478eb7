"""Late questions: some questions of a real stream asked at the stream's end instead, far after their evidence.

The real sources ask each question soon after its evidence (MSC long streams 0-40 segments later, QMSum 1-20,
FriendsQA at the end of its scene), so a model trained on them alone learns that what is relevant is recent,
while an agent (and every benchmark conversation) asks about what was said hundreds of turns before. Moving a
share of those questions to the end of their stream keeps their evidence and wording and makes the distance
as long as the stream. SGD's questions stay where they are: a later turn of the same dialogue may change the
slot again, and the question would then have the wrong evidence.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import TypeGuard

from ..datasets.records import Stream
from .synth import Sample

LATE_SOURCES = frozenset({"msc", "qmsum", "friendsqa"})


def ask_late(records: Sequence[Sample | Stream], share: float, seed: int) -> list[Sample | Stream]:
    """``records`` with each question of a stream from ``LATE_SOURCES`` asked at its stream's end with
    probability ``share`` (0 to 1), its template marked ``/late`` (the others and single-question samples unchanged);
    seeded, so a build repeats."""
    if not share:
        return list(records)
    rng = random.Random(seed)
    return [_late(record, share, rng) if _movable(record) else record for record in records]


def _movable(record: Sample | Stream) -> TypeGuard[Stream]:
    return isinstance(record, Stream) and record.source in LATE_SOURCES


def _late(stream: Stream, share: float, rng: random.Random) -> Stream:
    end = len(stream.segments)
    questions = [
        dataclasses.replace(question, at=end, template=f"{question.template}/late")
        if rng.random() < share and question.at < end
        else question
        for question in stream.questions
    ]
    questions.sort(key=lambda question: question.at)  # stable: questions asked at one point keep their order
    return dataclasses.replace(stream, questions=questions).check(f"{stream.source} stream, late questions")
