"""Build, save and load training records (JSONL): segments, query, answer, evidence indices, source, template."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from .synth import Sample, make_sample, verify

MSC_SPLITS = ("session_2/valid.txt", "session_2/test.txt", "session_3/valid.txt", "session_3/test.txt")


def load_msc_turns(msc_dir: Path | None) -> list[str]:
    """Every dialogue turn of the MSC copy (current and previous sessions), for realistic filler chatter."""
    if msc_dir is None or not msc_dir.is_dir():
        return []
    turns = []
    for split in MSC_SPLITS:
        path = msc_dir / split
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                episode = json.loads(line)
                dialogs = [episode.get("dialog", [])] + [
                    d.get("dialog", []) for d in episode.get("previous_dialogs", [])
                ]
                turns.extend(turn["text"].strip() for dialog in dialogs for turn in dialog if turn.get("text"))
    return [turn for turn in turns if 3 <= len(turn.split()) <= 30]


def generate(count: int, seed: int, filler: list[str], show_progress: bool = True) -> Iterator[Sample]:
    """``count`` verified samples; a sample that fails verification is replaced, not kept."""
    rng = random.Random(seed)
    made = 0
    with tqdm(total=count, desc="samples", disable=not show_progress) as bar:
        while made < count:
            sample = make_sample(rng, filler)
            if verify(sample):
                made += 1
                bar.update(1)
                yield sample


def build(output: Path, count: int, seed: int, msc_dir: Path | None, show_progress: bool = True) -> Counter:
    """Write ``count`` samples to ``output`` (JSONL); returns how many of each template family."""
    filler = load_msc_turns(msc_dir)
    families: Counter = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        for sample in generate(count, seed, filler, show_progress):
            families[sample.template] += 1
            handle.write(json.dumps(sample.to_json(), ensure_ascii=False) + "\n")
    return families


def load_records(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    for number, record in enumerate(records, start=1):
        missing = {"segments", "query", "evidence"} - set(record)
        if missing:
            raise ValueError(f"{path}:{number}: record lacks {sorted(missing)}")
    return records
