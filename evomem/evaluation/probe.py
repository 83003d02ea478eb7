"""Temporal-sensitivity probe (after the paper's Fig. 6): which mention of a recurring topic does a query find?

Each probe is a long synthetic conversation where one speaker mentions a topic three times, once in each
third, among filler chatter. The queries ask what was said first, in the middle and last about the topic; a
system is right when its top hit lies in the asked third. A static embedder sees three equally similar
mentions and cannot tell them apart; an evolvable one reads each mention with what came before it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tqdm.auto import tqdm

from .systems import build_rankers
from .tasks import Group

TOPICS = {
    "the garden": (
        "planted tomato seedlings along the fence",
        "found aphids all over the tomato leaves",
        "harvested a whole basket of ripe tomatoes",
    ),
    "the new apartment": (
        "signed the lease for the apartment downtown",
        "painted the apartment's living room green",
        "hosted a housewarming party at the apartment",
    ),
    "the marathon": (
        "registered for the city marathon",
        "ran thirty kilometres in training for the marathon",
        "crossed the marathon finish line in four hours",
    ),
    "the piano": (
        "bought a second-hand piano",
        "learned my first Chopin piece on the piano",
        "played the piano at my cousin's wedding",
    ),
    "the startup": (
        "sketched the idea for the startup with a friend",
        "pitched the startup to two investors",
        "launched the startup's app this week",
    ),
    "the puppy": (
        "picked up the puppy from the breeder",
        "took the puppy to obedience class",
        "watched the puppy win a ribbon at the dog show",
    ),
}
QUESTIONS = {
    "first": ("What did {a} mention first about {topic}?", "What was the earliest thing {a} said about {topic}?"),
    "middle": (
        "What did {a} say about {topic} in the middle of the conversation?",
        "What was the second thing {a} told about {topic}?",
    ),
    "last": ("What did {a} mention last about {topic}?", "What is the latest thing {a} said about {topic}?"),
}
THIRDS = ("first", "middle", "last")
FILLER = (
    "How was your weekend?",
    "I've been reading a lot lately.",
    "The weather is lovely today.",
    "Did you see the news this morning?",
    "I'm cooking pasta tonight.",
    "Work was busy again.",
    "My sister called me yesterday.",
    "I need to buy new shoes.",
    "That movie was better than expected.",
    "We should get coffee soon.",
    "I'm trying to drink more water.",
    "The traffic was terrible.",
)


@dataclass(frozen=True)
class Probe:
    group: Group
    queries: dict[str, str]  # third -> question


def make_probes(count: int = 30, length: int = 45, seed: int = 7) -> list[Probe]:
    rng = random.Random(seed)
    probes = []
    for number in range(count):
        topic = rng.choice(list(TOPICS))
        a, b = rng.sample(["Maya", "Leo", "Ana", "Omar", "Priya", "Jonas"], 2)
        third = length // 3
        positions = [rng.randrange(i * third + 1, (i + 1) * third - 1) for i in range(3)]
        texts = []
        for index in range(length):
            if index in positions:
                fact = TOPICS[topic][positions.index(index)]
                texts.append(f"{a}: About {topic}: I {fact}.")
            else:
                texts.append(f"{(a, b)[index % 2]}: {rng.choice(FILLER)}")
        ids = tuple(f"p{number}:{i}" for i in range(length))
        queries = {which: rng.choice(QUESTIONS[which]).format(a=a, topic=topic) for which in THIRDS}
        probes.append(Probe(Group(f"probe-{number}", ids, tuple(texts)), queries))
    return probes


def run_probe(
    encoder, systems: tuple[str, ...] = ("evomem", "static", "bm25"), count: int = 30, show_progress: bool = False
) -> dict:
    """Share of queries whose top hit lies in the asked third, per system and per third."""
    rankers = build_rankers(systems, encoder)
    probes = make_probes(count)
    results = {name: {which: 0.0 for which in THIRDS} for name in rankers}
    for probe in tqdm(probes, desc="probe", unit="conversation", disable=not show_progress):
        length = len(probe.group.segment_ids)
        for name, ranker in rankers.items():
            rankings = ranker.rank(probe.group, [probe.queries[which] for which in THIRDS])
            for which, ranking in zip(THIRDS, rankings, strict=True):
                top = probe.group.segment_ids.index(ranking[0])
                results[name][which] += (min(2, top * 3 // length) == THIRDS.index(which)) / len(probes)
    return {name: {which: 100 * value for which, value in row.items()} for name, row in results.items()}


def probe_table(results: dict) -> str:
    lines = ["| system | first | middle | last | mean |", "|---|---|---|---|---|"]
    for name, row in results.items():
        mean = sum(row.values()) / len(row)
        lines.append(f"| {name} | {row['first']:.1f} | {row['middle']:.1f} | {row['last']:.1f} | {mean:.1f} |")
    return "\n".join(lines)
