"""Build, save and load training records (JSONL); loaded records are streams with questions (``records.py``)."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from pathlib import Path

from .documents import document_samples, find_text_files
from .msc import dialogue_samples, load_msc_dialogues, msc_filler
from .records import Stream, parse_record
from .synth import Sample, draw, make_sample, verify


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
) -> Counter:
    """Write ``count`` samples to ``output`` (JSONL); returns how many of each template.

    Synthetic template samples make up the rest after ``msc_share`` inverse-cloze samples over real MSC
    dialogues (when ``msc_dir`` is given) and ``document_share`` over the text files under ``documents``.
    """
    for name, share in (("msc_share", msc_share), ("document_share", document_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {share}")
    if msc_share + document_share > 1:
        raise ValueError("msc_share + document_share must not exceed 1")
    dialogues = load_msc_dialogues(msc_dir)
    real = dialogue_samples(dialogues, round(count * msc_share), seed) if dialogues and msc_share else []
    if documents:
        real += document_samples(find_text_files(documents), round(count * document_share), seed)
    samples = real + generate(count - len(real), seed, msc_filler(dialogues), show_progress)
    random.Random(seed).shuffle(samples)
    families: Counter = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        for sample in samples:
            families[sample.template] += 1
            handle.write(json.dumps(sample.to_json(), ensure_ascii=False) + "\n")
    return families


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
                raise ValueError(f"{path}:{number}: not JSON ({error})") from None
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
