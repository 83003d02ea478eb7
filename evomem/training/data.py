"""Build, save and load training records (JSONL): the mix of sources, split into train and dev by group; loaded
records are streams with questions (``records.py``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets.records import Stream, parse_record
from ..datasets.split import in_split
from ..errors import InvalidInputError
from .documents import document_samples, find_text_files
from .friendsqa import friendsqa_streams
from .late import ask_late
from .msc import dialogue_samples, load_msc_episodes, long_streams, msc_filler, msc_group
from .msc_facts import fact_streams
from .qmsum import qmsum_streams
from .sgd import sgd_streams
from .synth import Sample, draw, make_sample, verify

STREAM_SOURCES: dict[str, Callable[..., list[Stream]]] = {
    "friendsqa": friendsqa_streams,
    "qmsum": qmsum_streams,
    "sgd": sgd_streams,
}


@dataclass(frozen=True)
class RealSource:
    """A real-language source with turn-level evidence (a key of ``STREAM_SOURCES``), its folder and share."""

    name: str
    directory: Path
    share: float


@dataclass
class Written:
    """What a build wrote: records per source, questions per template."""

    records: Counter = field(default_factory=Counter)
    questions: Counter = field(default_factory=Counter)

    def add(self, record: Sample | Stream) -> None:
        self.records[record.source] += 1
        templates = [q.template for q in record.questions] if isinstance(record, Stream) else [record.template]
        self.questions.update(templates)


def generate(count: int, seed: int, filler: list[str], show_progress: bool = True) -> list[Sample]:
    """``count`` verified synthetic samples; a sample that fails verification is replaced, not kept."""
    rng = random.Random(seed)

    def make() -> Sample | None:
        sample = make_sample(rng, filler)
        return sample if verify(sample) else None

    return draw(make, count, "synthetic", show_progress)


def build(
    output: Path,
    count: int,
    seed: int,
    msc_dir: Path | None,
    documents: list[Path] | None = None,
    msc_share: float = 0.15,
    document_share: float = 0.15,
    show_progress: bool = True,
    *,
    msc_long_share: float = 0.0,
    msc_facts_share: float = 0.0,
    late_share: float = 0.0,
    real: Sequence[RealSource] = (),
    split: str = "all",
) -> Written:
    """Write ``count`` records to ``output`` (JSONL) from the groups of ``split`` (``all``, ``train``, ``dev``).

    Each source gets ``round(count * share)`` records: MSC inverse-cloze samples (``msc_share``), long MSC
    streams (``msc_long_share``) and persona-fact streams (``msc_facts_share``) when ``msc_dir`` is given,
    document samples over the text files under ``documents``, and each ``real`` source's stream records;
    synthetic template samples make up the rest.
    ``late_share`` of the questions of MSC, QMSum and FriendsQA streams are asked at their stream's end (``late.py``).
    """
    shares = {"msc_share": msc_share, "msc_long_share": msc_long_share, "msc_facts_share": msc_facts_share}
    shares |= {"document_share": document_share}
    shares |= {f"{source.name}_share": source.share for source in real}
    for name, share in {**shares, "late_share": late_share}.items():
        if not 0 <= share <= 1:
            raise InvalidInputError(f"{name} must lie in [0, 1], got {share}")
    if sum(shares.values()) > 1:
        raise InvalidInputError(f"the shares ({' + '.join(shares)}) must not exceed 1")
    episodes = [e for e in load_msc_episodes(msc_dir) if in_split(msc_group(e.dialogue), split)]
    dialogues = [episode.dialogue for episode in episodes]
    records: list[Sample | Stream] = []
    if msc_share and dialogues:  # without an MSC copy, synthetic samples take its share
        records += dialogue_samples(dialogues, round(count * msc_share), seed)
    if msc_long_share:
        records += long_streams(dialogues, round(count * msc_long_share), seed, show_progress)
    if msc_facts_share:
        records += fact_streams(episodes, round(count * msc_facts_share), seed, show_progress)
    if documents and document_share:
        files = [p for p in find_text_files(documents) if in_split(f"document:{p.name}", split)]
        if not files:
            raise InvalidInputError(f"no document belongs to the {split} split")
        records += document_samples(files, round(count * document_share), seed)
    for source in real:
        if source.share:
            make = STREAM_SOURCES[source.name]
            records += make(source.directory, round(count * source.share), seed, split, show_progress)
    records += generate(count - len(records), _split_seed(seed, split), msc_filler(dialogues), show_progress)
    records = ask_late(records, late_share, seed)
    random.Random(seed).shuffle(records)
    written = Written()
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        for record in records:
            written.add(record)
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    return written


def _split_seed(seed: int, split: str) -> int:
    """The synthetic generator's seed: ``seed`` itself for ``all``, one of its own for each split, so a train
    and a dev file built with the same ``--seed`` hold different generated dialogues."""
    return seed if split == "all" else int(hashlib.sha256(f"{split}:{seed}".encode()).hexdigest()[:12], 16)


def load_records(path: Path) -> list[Stream]:
    """Training records (either JSON form, ``records.py``) as checked streams; errors name ``path:line``."""
    streams = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError(f"{path}:{number}: not JSON ({error})") from None
            streams.append(parse_record(record, f"{path}:{number}"))
    return streams


def join_streams(streams: list[Stream], source: str = "joined") -> Stream:
    """One long stream: ``streams`` read one after the other, each question kept at its point (shifted).

    Makes long streams with questions along them out of short single-question records, for throughput tests.
    """
    segments: list[str] = []
    questions = []
    for stream in streams:
        offset = len(segments)
        segments.extend(stream.segments)
        for question in stream.questions:
            questions.append(
                dataclasses.replace(
                    question,
                    at=question.at + offset,
                    evidence=[i + offset for i in question.evidence],
                    hard_negatives=[i + offset for i in question.hard_negatives],
                )
            )
    return Stream(segments, questions, source).check()
