"""The training record: one stream of segments read in order, with questions asked at points along it.

JSONL, one record a line. The stream form::

    {"segments": [str, ...],
     "queries": [{"query": str, "answer": str, "evidence": [int, ...], "at": int,
                  "template": str, "hard_negatives": [int, ...]}, ...],
     "source": str, "group": str}

- ``at``: how many segments have been read when the question is asked (1 .. len(segments)); the query is
  encoded with the memory after segment ``at - 1`` and ranked against segments ``0 .. at - 1`` only.
- ``evidence``: indices of the segments that answer it, all below ``at``; ``hard_negatives`` (optional):
  indices below ``at`` that look like an answer and are not (the old value of an update), disjoint from it.
- ``source``: where the text comes from (``synthetic``, ``msc``, ``friendsqa``, ``qmsum``, ``sgd``,
  ``document:<file>``); ``template``: the kind of question (``sgd/slot_update``, ``order/last``, ...).
- ``group``: the unit that train/dev splits keep whole (an episode, a meeting, a dialogue family).

The single-question form written by the template families (``{"segments", "query", "answer", "evidence",
"template", "source"}``) is the same as one question asked after the last segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError


@dataclass(frozen=True)
class Question:
    query: str
    answer: str
    evidence: list[int]
    at: int
    template: str
    hard_negatives: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "answer": self.answer,
            "evidence": self.evidence,
            "at": self.at,
            "template": self.template,
            "hard_negatives": self.hard_negatives,
        }


@dataclass(frozen=True)
class Stream:
    segments: list[str]
    questions: list[Question]
    source: str
    group: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "queries": [question.to_json() for question in self.questions],
            "source": self.source,
            "group": self.group,
        }

    def check(self, where: str = "record") -> Stream:
        """Raise ValueError naming ``where`` when an index or a field is out of place; returns self."""
        if not self.segments or not all(isinstance(s, str) and s.strip() for s in self.segments):
            raise InvalidInputError(f"{where}: segments must be a non-empty list of non-empty strings")
        if not self.questions:
            raise InvalidInputError(f"{where}: no question")
        for number, question in enumerate(self.questions):
            name = f"{where}, question {number}"
            if not isinstance(question.query, str) or not question.query.strip():
                raise InvalidInputError(f"{name}: empty query")
            if not isinstance(question.at, int) or not 1 <= question.at <= len(self.segments):
                raise InvalidInputError(f"{name}: at={question.at!r} must lie in 1..{len(self.segments)}")
            if not question.evidence:
                raise InvalidInputError(f"{name}: no evidence")
            for label, indices in (("evidence", question.evidence), ("hard_negatives", question.hard_negatives)):
                bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < question.at]
                if bad:
                    raise InvalidInputError(f"{name}: {label} {bad} not below at={question.at}")
            if set(question.evidence) & set(question.hard_negatives):
                raise InvalidInputError(f"{name}: a segment is both evidence and hard negative")
        return self


def parse_record(record: dict[str, Any], where: str = "record") -> Stream:
    """A stream from either JSON form, checked."""
    if not isinstance(record, dict):
        raise InvalidInputError(f"{where}: a record must be a JSON object")
    missing = {"segments"} | ({"queries"} if "queries" in record else {"query", "evidence"})
    missing -= set(record)
    if missing:
        raise InvalidInputError(f"{where}: record lacks {sorted(missing)}")
    segments = record["segments"]
    try:
        questions = _questions(record, segments)
    except (KeyError, TypeError) as error:
        raise InvalidInputError(f"{where}: malformed question ({error!r})") from None
    return Stream(segments, questions, record.get("source", ""), record.get("group", "")).check(where)


def _questions(record: dict[str, Any], segments: list[str]) -> list[Question]:
    if "queries" in record:
        return [
            Question(
                q["query"],
                q.get("answer", ""),
                list(q["evidence"]),
                q["at"],
                q.get("template", record.get("template", "")),
                list(q.get("hard_negatives", [])),
            )
            for q in record["queries"]
        ]
    return [
        Question(
            record["query"],
            record.get("answer", ""),
            list(record["evidence"]),
            len(segments),
            record.get("template", ""),
            list(record.get("hard_negatives", [])),
        )
    ]


def source_name(stream: Stream) -> str:
    """The figure name's source: ``document:<file>`` counts as ``document``; unnamed as ``synthetic``."""
    return (stream.source or "synthetic").split(":")[0]
