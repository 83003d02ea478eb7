"""QMSum: windows of a meeting transcript, with the queries whose spans lie inside, asked after their spans.

Only the ``train`` and ``val`` folders are read (the test split is an evaluation held outside the project).
A record is a window of one meeting around a least-used query, with up to ``max_questions`` queries whose
spans fall inside it, each asked ``1..max_delay`` segments after its span ends. Specific queries
(``qmsum/specific``) keep their answer; topics (``qmsum/topic``) are asked in several phrasings and answered
by their best evidence segment. Evidence: of the span's segments, the at most ``max_evidence`` that share the
most content words with the answer (the topic for a topic); with a long span a segment must share two.
Queries spanning more than ``MAX_SPAN`` turns are left out. Long turns are cut into parts under the segment
limit; the group is the meeting, or for AMI the series of four meetings of one design team (``ES2002a-d``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ..datasets.records import Question, Stream
from ..datasets.split import in_split
from ..errors import InvalidInputError
from .episode import Turn
from .sampling import LeastUsed
from .sourcefiles import read_json, require_dir
from .synth import draw
from .turns import StreamText, TurnSplitter, content_words, default_splitter, detokenize

SPLITS = ("train", "val")  # never the test split
MARKER = re.compile(r"\{\w+\}")  # {vocalsound}, {disfmarker}, ...
AMI_SERIES = re.compile(r"^((?:ES|IS|TS)\d{4})[a-d]$")
MAX_SPAN = 150  # turns from a query's first span turn to its last; longer ones are left out
TOPIC_PHRASINGS = (
    "What was said about {topic}?",
    "Find where the meeting discussed {topic}.",
    "Which part of the discussion covered {topic}?",
    "{Topic}",
)


@dataclass(frozen=True)
class MeetingQuery:
    query: str
    answer: str  # "" for a topic
    span: tuple[int, ...]  # the turns of its relevant spans, in order
    template: str


@dataclass(frozen=True)
class Meeting:
    name: str
    turns: tuple[Turn, ...]  # markers removed; a text may be empty
    queries: tuple[MeetingQuery, ...]

    @property
    def group(self) -> str:
        series = AMI_SERIES.match(self.name)
        return f"qmsum:{series.group(1) if series else self.name}"


def load_meetings(directory: Path) -> list[Meeting]:
    """The meetings of the train and val folders under ``directory``, sorted by name."""
    require_dir(directory, "QMSum")
    paths = sorted(p for split in SPLITS if (directory / split).is_dir() for p in (directory / split).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no QMSum meeting (train/*.json, val/*.json) in {directory}")
    return [_meeting(path) for path in paths]


def _meeting(path: Path) -> Meeting:
    data = read_json(path)
    try:
        turns = tuple(
            Turn(t["speaker"].strip() or "Someone", detokenize(MARKER.sub(" ", t["content"])))
            for t in data["meeting_transcripts"]
        )
        queries = [
            MeetingQuery(" ".join(q["query"].split()), " ".join(q["answer"].split()), _turns(q), "qmsum/specific")
            for q in data["specific_query_list"]
        ]
        queries += [
            MeetingQuery(" ".join(t["topic"].split()), "", _turns(t), "qmsum/topic") for t in data["topic_list"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(f"{path}: not in the QMSum shape ({error!r})") from None
    kept = tuple(q for q in queries if q.span and q.span[-1] < len(turns) and q.span[-1] - q.span[0] < MAX_SPAN)
    return Meeting(path.stem, turns, kept)


def _turns(entry: dict) -> tuple[int, ...]:
    """The turns of an entry's inclusive ``[["12", "40"], ...]`` spans."""
    return tuple(sorted({t for start, end in entry["relevant_text_span"] for t in range(int(start), int(end) + 1)}))


def _text(segment: str) -> str:
    return segment.split(": ", 1)[-1]


def select_evidence(
    query: MeetingQuery, parts: dict[int, list[int]], segments: list[str], max_evidence: int = 5
) -> list[int]:
    """The span's segments that share most content words with the answer (the topic for a topic)."""
    words = content_words(query.answer or query.query)
    candidates = [i for turn in query.span for i in parts.get(turn, [])]
    needed = 1 if len(candidates) <= max_evidence else 2
    scored = [(len(words & content_words(_text(segments[i]))), i) for i in candidates]
    best = sorted((item for item in scored if item[0] >= needed), key=lambda item: (-item[0], item[1]))
    return sorted(i for _, i in best[:max_evidence])


def meeting_question(
    rng: random.Random, query: MeetingQuery, parts: dict[int, list[int]], segments: list[str], max_delay: int
) -> Question | None:
    """The query asked ``1..max_delay`` segments after its span; None when no evidence is found or the
    query gives its answer away."""
    evidence = select_evidence(query, parts, segments)
    if not evidence:
        return None
    last = max(i for turn in query.span for i in parts.get(turn, []))
    at = min(len(segments), last + 1 + rng.randint(1, max_delay))
    if query.template == "qmsum/topic":
        topic = query.query[0].lower() + query.query[1:]
        phrasing = rng.choice(TOPIC_PHRASINGS)
        return Question(
            phrasing.format(topic=topic, Topic=query.query), _text(segments[evidence[0]]), evidence, at, query.template
        )
    if query.answer.lower() in query.query.lower():
        return None
    return Question(query.query, query.answer, evidence, at, query.template)


def meeting_stream(
    rng: random.Random,
    meeting: Meeting,
    usage: LeastUsed,
    splitter: TurnSplitter,
    max_questions: int = 8,
    max_turns: int = 300,
    max_delay: int = 20,
) -> Stream | None:
    """A window of the meeting around its least-used query, with the queries whose spans lie inside it."""
    anchor = usage.order(meeting.queries)[0]
    first = max(0, anchor.span[0] - rng.randint(0, max_turns // 2))
    end = min(len(meeting.turns), max(anchor.span[-1] + 1 + max_delay, first + rng.randint(60, max_turns)))
    text = StreamText(splitter)
    parts = {
        index: text.add(turn.speaker, turn.text)
        for index, turn in enumerate(meeting.turns[first:end], start=first)
        if turn.text
    }
    inside = [q for q in meeting.queries if first <= q.span[0] and q.span[-1] < end]
    questions = []
    for query in usage.take(inside, max_questions):
        question = meeting_question(rng, query, parts, text.segments, max_delay)
        if question is not None:
            questions.append(question)
    if not questions:
        return None
    questions.sort(key=lambda question: question.at)
    last = questions[-1].at
    return Stream(text.segments[:last], questions, "qmsum", meeting.group).check(f"qmsum {meeting.name}")


def qmsum_streams(
    directory: Path, count: int, seed: int, split: str = "all", show_progress: bool = False
) -> list[Stream]:
    """``count`` QMSum records from the meetings of ``split``."""
    meetings = [m for m in load_meetings(directory) if m.queries and in_split(m.group, split)]
    if not meetings:
        raise InvalidInputError(f"no QMSum meeting with queries in {directory} belongs to the {split} split")
    rng = random.Random(seed)
    usage = LeastUsed(rng)
    splitter = default_splitter()
    return draw(lambda: meeting_stream(rng, rng.choice(meetings), usage, splitter), count, "QMSum", show_progress)
