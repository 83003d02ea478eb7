"""EvoTrain-lite: synthetic multi-session dialogues with labelled queries, built offline from templates.

A sample is one conversation between two speakers: a few *episodes* (facts told over several turns, some
only resolvable in context: pronouns, short replies, updates, changes of mind, order) interleaved with filler
chatter (real MSC turns when available). One query is asked at the end; its evidence turns are known by
construction. Every family has several question phrasings and several ways to say each fact, so the model
learns the task, not the template.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tqdm.auto import tqdm

from ..errors import InvalidInputError
from .episode import Episode, pick
from .families import FAMILIES, SPEAKER_ANSWER_FAMILIES
from .vocab import GENERIC_FILLER, NAMES

Drawn = TypeVar("Drawn")


@dataclass
class Sample:
    segments: list[str]
    query: str
    answer: str
    evidence: list[int]
    template: str
    source: str = "synthetic"
    group: str = ""  # the unit a train/dev split keeps whole; "" for generated text

    def to_json(self) -> dict:
        record = {
            "segments": self.segments,
            "query": self.query,
            "answer": self.answer,
            "evidence": self.evidence,
            "template": self.template,
            "source": self.source,
        }
        return record | ({"group": self.group} if self.group else {})


def draw(make: Callable[[], Drawn | None], count: int, what: str, show_progress: bool = False) -> list[Drawn]:
    """``count`` samples from ``make``, which returns None for a draw it rejects; gives up after ``50 * count``
    draws, naming ``what`` it could not build enough of."""
    samples: list[Drawn] = []
    with tqdm(total=count, desc=what, disable=not show_progress) as bar:
        for _ in range(50 * count):
            if len(samples) == count:
                break
            sample = make()
            if sample is not None:
                samples.append(sample)
                bar.update(1)
    if len(samples) < count:
        raise InvalidInputError(f"could only build {len(samples)} of {count} {what} samples")
    return samples


def make_sample(rng: random.Random, filler: list[str], min_segments: int = 14, max_segments: int = 32) -> Sample:
    """A conversation with 2-4 episodes among filler turns, asking one episode's question at the end."""
    a, b = pick(rng, NAMES, 2)
    episodes: list[Episode] = []
    wanted = rng.randint(2, 4)
    for family in rng.sample(FAMILIES, len(FAMILIES)):
        about, other = (a, b) if rng.random() < 0.6 else (b, a)
        episode = family(rng, about, other)
        # one episode per kind (the part before "/"), so no two episodes can answer the same question
        if all(e.family.split("/")[0] != episode.family.split("/")[0] for e in episodes):
            episodes.append(episode)
        if len(episodes) == wanted:
            break
    target = rng.randrange(len(episodes))
    length = rng.randint(min_segments, max_segments)
    story_turns = sum(len(e.turns) for e in episodes)
    slots = max(0, length - story_turns)
    # Lay out: each episode's turns in order; spread episodes get filler between their turns.
    units: list[list[tuple[int, int]]] = []
    for e_index, episode in enumerate(episodes):
        if episode.spread:
            units.extend([[(e_index, t)] for t in range(len(episode.turns))])
        else:
            units.append([(e_index, t) for t in range(len(episode.turns))])
    order = _ordered_shuffle(rng, units)
    segments, where = [], {}
    speakers = (a, b)
    filler_positions = set(rng.sample(range(len(order) + slots), slots))
    unit_iter = iter(order)
    for position in range(len(order) + slots):
        if position in filler_positions:
            speaker = speakers[position % 2]
            text = rng.choice(filler) if filler and rng.random() < 0.8 else rng.choice(GENERIC_FILLER)
            segments.append(f"{speaker}: {text}")
            continue
        for e_index, t_index in next(unit_iter):
            turn = episodes[e_index].turns[t_index]
            where[(e_index, t_index)] = len(segments)
            segments.append(f"{turn.speaker}: {turn.text}")
    episode = episodes[target]
    evidence = sorted({where[(target, t)] for t in episode.evidence})
    return Sample(segments, rng.choice(episode.questions), episode.answer, evidence, episode.family)


def _ordered_shuffle(rng: random.Random, units: list[list[tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    """A random interleaving of the units that keeps each episode's units in their told order."""
    slots = list(range(len(units)))
    rng.shuffle(slots)
    by_episode: dict[int, list] = {}
    for unit in units:
        by_episode.setdefault(unit[0][0], []).append(unit)
    result: list = [None] * len(units)
    cursor = 0
    for episode_units in by_episode.values():
        chosen = sorted(slots[cursor : cursor + len(episode_units)])
        cursor += len(episode_units)
        for slot, unit in zip(chosen, episode_units, strict=True):
            result[slot] = unit
    return result


def verify(sample: Sample) -> bool:
    """Evidence exists, carries the answer's content somewhere, and the query does not give the answer away."""
    if not sample.evidence or max(sample.evidence) >= len(sample.segments):
        return False
    answer = sample.answer.lower()
    if answer in sample.query.lower() and not sample.template.startswith(SPEAKER_ANSWER_FAMILIES):
        return False
    evidence_text = " ".join(sample.segments[i].lower() for i in sample.evidence)
    parts = [p.strip() for p in answer.split(",")]
    return all(part in evidence_text for part in parts)
