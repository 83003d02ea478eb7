"""What a training file holds, per source: records, questions, segments per record, distinct groups."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..datasets.records import Stream, parse_record


@dataclass(frozen=True)
class SourceStats:
    source: str
    records: int
    questions: int
    distinct_questions: int  # different (query, answer) pairs
    groups: int
    segments_min: int
    segments_median: float
    segments_max: int


def read_streams(path: Path) -> list[Stream]:
    """Every record of a JSONL file as a checked stream (either JSON form)."""
    with open(path, encoding="utf-8") as handle:
        return [parse_record(json.loads(line), f"{path}:{n}") for n, line in enumerate(handle, 1) if line.strip()]


def source_stats(streams: list[Stream]) -> list[SourceStats]:
    """One row per source (``document:<file>`` counted as ``document``), sorted by name."""
    by_source: dict[str, list[Stream]] = {}
    for stream in streams:
        by_source.setdefault(stream.source.split(":")[0], []).append(stream)
    rows = []
    for source, group in sorted(by_source.items()):
        lengths = [len(stream.segments) for stream in group]
        questions = [question for stream in group for question in stream.questions]
        groups = {name for stream in group for name in stream.group.split(";") if name}
        rows.append(
            SourceStats(
                source,
                len(group),
                len(questions),
                len({(question.query, question.answer) for question in questions}),
                len(groups),
                min(lengths),
                statistics.median(lengths),
                max(lengths),
            )
        )
    return rows
