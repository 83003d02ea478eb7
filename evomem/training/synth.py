"""EvoTrain-lite: synthetic multi-session dialogues with labelled queries, built offline from templates.

A sample is one conversation between two speakers: a few *episodes* (facts told over several turns, some
only resolvable in context: pronouns, short replies, updates, changes of mind) interleaved with filler
chatter (real MSC turns when available). One query is asked at the end; its evidence turns are known by
construction. Every family has several question phrasings so the model learns the task, not the template.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

NAMES = [
    "Maya",
    "Leo",
    "Ana",
    "Omar",
    "Priya",
    "Jonas",
    "Chloe",
    "Mateo",
    "Aisha",
    "Lukas",
    "Nora",
    "Felix",
    "Sofia",
    "Ravi",
    "Emma",
    "Hugo",
    "Zara",
    "Theo",
    "Lena",
    "Kai",
    "Grace",
    "Ivan",
    "Mira",
    "Noah",
    "Elena",
    "Samir",
    "Julia",
    "Tomas",
    "Ines",
    "Daniel",
    "Yara",
    "Oscar",
    "Clara",
    "Malik",
    "Freya",
    "Diego",
    "Hana",
    "Victor",
    "Alice",
    "Bruno",
    "Carmen",
    "David",
    "Eva",
    "Farid",
    "Gina",
    "Henry",
    "Irene",
    "Jack",
    "Kira",
    "Liam",
    "Mona",
    "Nils",
    "Olga",
    "Pablo",
    "Rosa",
    "Sven",
    "Tara",
]
RELATIVES = ("sister", "brother", "cousin", "best friend", "neighbour", "coworker", "aunt", "roommate")
PETS = ("dog", "cat", "rabbit", "parrot", "hamster", "tortoise", "puppy", "kitten")
PET_NAMES = [
    "Pepper",
    "Biscuit",
    "Luna",
    "Max",
    "Olive",
    "Mochi",
    "Rocky",
    "Daisy",
    "Ziggy",
    "Nala",
    "Pumpkin",
    "Shadow",
    "Coco",
    "Finn",
    "Ruby",
]
CITIES = [
    "Lisbon",
    "Denver",
    "Osaka",
    "Nairobi",
    "Glasgow",
    "Porto",
    "Austin",
    "Krakow",
    "Seattle",
    "Lyon",
    "Dublin",
    "Boston",
    "Sydney",
    "Toronto",
    "Bergen",
    "Valencia",
    "Hamburg",
    "Quito",
    "Tucson",
    "Hanoi",
]
JOBS = (
    "nurse",
    "teacher",
    "software engineer",
    "baker",
    "architect",
    "accountant",
    "chef",
    "pharmacist",
    "graphic designer",
    "firefighter",
    "librarian",
    "electrician",
    "journalist",
    "vet",
    "photographer",
)
COMPANIES = [
    "Crumb & Co",
    "Northwind",
    "Bluepeak Labs",
    "the city hospital",
    "Greenleaf School",
    "Atlas Logistics",
    "Riverside Cafe",
]
HOBBIES = (
    "pottery",
    "rock climbing",
    "painting",
    "chess",
    "salsa dancing",
    "birdwatching",
    "knitting",
    "surfing",
    "gardening",
    "archery",
    "baking bread",
    "photography",
    "woodworking",
    "kayaking",
    "yoga",
)
INSTRUMENTS = ("piano", "violin", "guitar", "cello", "drums", "ukulele", "saxophone", "flute")
FOODS = ("sushi", "lasagna", "tacos", "ramen", "paella", "dumplings", "curry", "falafel", "pho", "risotto")
PLACES = ("the river cafe", "Luigi's", "the night market", "the botanical garden", "the old harbour", "the art museum")
EVENTS = (
    "ran a half marathon",
    "went to a jazz concert",
    "visited a pottery workshop",
    "attended a wedding",
    "went camping by the lake",
    "volunteered at an animal shelter",
    "joined a book club",
    "went to a career fair",
    "took a cooking class",
    "went to a music festival",
    "gave a talk at a conference",
    "hiked up a volcano",
)
CARS = ("a hybrid hatchback", "an old pickup truck", "an electric scooter", "a red convertible", "a minivan", "a bike")
BOOKS = ("a mystery novel", "a book about octopuses", "a biography of Marie Curie", "a fantasy trilogy", "a cookbook")
WHEN = ("last weekend", "yesterday", "on Saturday", "last month", "two weeks ago", "on Friday night", "last summer")
GENERIC_FILLER = (
    "Haha, that's so true.",
    "How has your week been?",
    "I've been so busy lately.",
    "That sounds fun!",
    "Oh nice, tell me more.",
    "I know what you mean.",
    "The weather has been crazy here.",
    "Same here, honestly.",
    "I need a vacation soon.",
    "Did you watch the game last night?",
    "I'm trying to sleep more these days.",
    "That's wonderful to hear!",
    "Work has been a lot this month.",
    "I totally agree with you.",
)


@dataclass
class Turn:
    speaker: str
    text: str


@dataclass
class Episode:
    """Turns that tell a fact; ``evidence`` indexes into ``turns``; ``gap`` allows filler between turns."""

    turns: list[Turn]
    questions: list[str]
    answer: str
    evidence: list[int]
    family: str
    spread: bool = False  # may filler turns come between the episode's turns


def _pick(rng: random.Random, items, k: int = 1):
    return rng.sample(list(items), k) if k > 1 else rng.choice(list(items))


# ----- families ----------------------------------------------------------------------------------------------
# Each takes (rng, a, b) with a the speaker the fact is about and b the other speaker.


def pet_name(rng, a, b):
    pet, name = _pick(rng, PETS), _pick(rng, PET_NAMES)
    variant = rng.randrange(3)
    if variant == 0:
        turns = [Turn(a, f"I adopted a {pet} {_pick(rng, WHEN)}! Her name is {name}.")]
        evidence = [0]
    elif variant == 1:  # the name comes in a short reply: only the context says what it names
        turns = [
            Turn(a, f"Guess what, I finally adopted a {pet}!"),
            Turn(b, "No way! What's the name?"),
            Turn(a, f"{name}. She's already sleeping on my bed."),
        ]
        evidence = [2, 0]
    else:
        turns = [
            Turn(a, f"We got a {pet} from the shelter {_pick(rng, WHEN)}."),
            Turn(a, f"We called it {name}, after my grandmother's first pet."),
        ]
        evidence = [1, 0]
    questions = [
        f"What is the name of {a}'s {pet}?",
        f"What did {a} name the {pet}?",
        f"What's {a}'s new pet called?",
        f"How is {a}'s {pet} named?",
    ]
    return Episode(turns, questions, name, evidence, f"pet_name/{variant}", spread=variant == 2)


def job_update(rng, a, b):
    old, new = _pick(rng, COMPANIES, 2)
    role = _pick(rng, JOBS)
    turns = [
        Turn(a, f"I've been working as a {role} at {old} for three years now."),
        Turn(a, f"Big news: I quit {old}. I just started at {new}!"),
    ]
    questions = [
        f"Where does {a} work now?",
        f"What is {a}'s current employer?",
        f"Which company did {a} move to?",
        f"Where is {a} working these days?",
    ]
    return Episode(turns, questions, new, [1], "knowledge_update/job", spread=True)


def move_city(rng, a, b):
    old, new = _pick(rng, CITIES, 2)
    turns = [
        Turn(a, f"I love living in {old}, the food scene is great."),
        Turn(a, f"So, I'm moving to {new} next month for a fresh start."),
    ]
    questions = [f"Which city is {a} moving to?", f"Where will {a} live after the move?", f"What is {a}'s new city?"]
    return Episode(turns, questions, new, [1], "knowledge_update/city", spread=True)


def changed_mind(rng, a, b):
    first, final = _pick(rng, CARS, 2)
    turns = [
        Turn(a, f"I'm thinking of buying {first}."),
        Turn(b, "Oh, that sounds practical."),
        Turn(a, f"Actually I changed my mind, I'm getting {final} instead."),
    ]
    questions = [
        f"What did {a} finally decide to buy?",
        f"What will {a} get in the end?",
        f"What did {a} choose after changing their mind?",
    ]
    return Episode(turns, questions, final, [2], "changed_mind/vehicle")


def relative_coreference(rng, a, b):
    relative, name, city, job = _pick(rng, RELATIVES), _pick(rng, NAMES), _pick(rng, CITIES), _pick(rng, JOBS)
    pronoun = rng.choice(("she", "he"))
    turns = [
        Turn(a, f"My {relative} {name} just moved to {city}."),
        Turn(b, "That's a big change! How are they finding it?"),
        Turn(a, f"{pronoun.capitalize()} loves it. {pronoun.capitalize()} started working as a {job} there."),
    ]
    questions = [
        f"What job did {a}'s {relative} start?",
        f"What does {name} work as now?",
        f"What is {a}'s {relative} doing for work in {city}?",
    ]
    return Episode(turns, questions, job, [2, 0], "coreference/pronoun")


def place_coreference(rng, a, b):
    place, food = _pick(rng, PLACES), _pick(rng, FOODS)
    turns = [
        Turn(a, f"We went to {place} {_pick(rng, WHEN)}."),
        Turn(b, "Is that the place with the big terrace?"),
        Turn(a, f"Yes! The {food} there was the best I've ever had."),
    ]
    questions = [
        f"What did {a} eat at {place}?",
        f"Which dish did {a} love at {place}?",
        f"What food did {a} have when visiting {place}?",
    ]
    return Episode(turns, questions, food, [2, 0], "coreference/place")


def thing_coreference(rng, a, b):
    book = _pick(rng, BOOKS)
    turns = [
        Turn(a, f"I started reading {book}."),
        Turn(b, "How is it so far?"),
        Turn(a, "Honestly it's so gripping that I finished it in two nights."),
    ]
    questions = [f"How quickly did {a} finish {book}?", f"How long did it take {a} to read {book}?"]
    return Episode(turns, questions, "two nights", [2, 0], "coreference/thing")


def speaker_attribution(rng, a, b):
    instrument = _pick(rng, INSTRUMENTS)
    turns = [Turn(a, f"I've been taking {instrument} lessons every Tuesday."), Turn(b, "That's so cool!")]
    questions = [
        f"Who is learning to play the {instrument}?",
        f"Which of them takes {instrument} lessons?",
        f"Who mentioned {instrument} lessons?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/instrument")


def hobby_lookup(rng, a, b):
    hobby = _pick(rng, HOBBIES)
    turns = [Turn(b, "What do you do to relax these days?"), Turn(a, f"Mostly {hobby}. It clears my head after work.")]
    questions = [f"What does {a} do to relax?", f"What hobby helps {a} unwind?", f"What is {a}'s hobby?"]
    return Episode(turns, questions, hobby, [1, 0], "attribute/hobby")


def food_preference(rng, a, b):
    food = _pick(rng, FOODS)
    turns = [Turn(a, f"If I could eat one thing forever it would be {food}.")]
    questions = [
        f"What is {a}'s favourite food?",
        f"What food does {a} love most?",
        f"Which dish would {a} eat forever?",
    ]
    return Episode(turns, questions, food, [0], "preference/food")


def event_when(rng, a, b):
    event, when = _pick(rng, EVENTS), _pick(rng, WHEN)
    turns = [Turn(a, f"I {event} {when}, it was amazing.")]
    questions = [
        f"When did {a} mention that they {event}?",
        f"What did {a} do {when}?",
        f"What event did {a} talk about going to?",
    ]
    return Episode(turns, questions, event, [0], "temporal/event")


def first_last(rng, a, b):
    events = _pick(rng, EVENTS, 3)
    turns = [
        Turn(a, f"This year I {events[0]}."),
        Turn(a, f"Then I {events[1]}."),
        Turn(a, f"And most recently I {events[2]}."),
    ]
    which = rng.randrange(2)
    if which == 0:
        questions = [f"What was the first thing {a} did this year?", f"What did {a} do first this year?"]
        return Episode(turns, questions, events[0], [0], "order/first", spread=True)
    questions = [f"What did {a} do most recently?", f"What was the latest thing {a} did?"]
    return Episode(turns, questions, events[2], [2], "order/last", spread=True)


def before_after(rng, a, b):
    first, second = _pick(rng, EVENTS, 2)
    turns = [Turn(a, f"I {first} in spring."), Turn(a, f"Right after that, I {second}.")]
    questions = [f"What did {a} do right after they {first}?", f"What came after {a} {first}?"]
    return Episode(turns, questions, second, [1, 0], "order/after")


def multi_hop(rng, a, b):
    pet, name, city = _pick(rng, PETS), _pick(rng, PET_NAMES), _pick(rng, CITIES)
    turns = [Turn(a, f"My {pet} {name} hates car rides."), Turn(a, f"I live in {city}, so we walk everywhere.")]
    questions = [f"In which city does the owner of {name} live?", f"Where does {name}'s owner live?"]
    return Episode(turns, questions, city, [1, 0], "multi_hop/pet_city", spread=True)


def counting(rng, a, b):
    cities = _pick(rng, CITIES, 3)
    turns = [
        Turn(a, f"I visited {cities[0]} for work."),
        Turn(a, f"Then a weekend in {cities[1]}."),
        Turn(a, f"And I just got back from {cities[2]}!"),
    ]
    questions = [
        f"Which cities has {a} travelled to?",
        f"How many trips did {a} mention?",
        f"Where has {a} been travelling?",
    ]
    return Episode(turns, questions, ", ".join(cities), [0, 1, 2], "aggregation/trips", spread=True)


def negation(rng, a, b):
    liked, disliked = _pick(rng, FOODS, 2)
    turns = [Turn(a, f"I can't stand {disliked}, never again."), Turn(a, f"But {liked} I could eat every day.")]
    questions = [f"What food does {a} dislike?", f"Which dish will {a} never eat again?"]
    return Episode(turns, questions, disliked, [0], "negation/food", spread=True)


def comparison(rng, a, b):
    city_a, city_b = _pick(rng, CITIES, 2)
    turns = [Turn(a, f"I'm flying to {city_a} for the conference."), Turn(b, f"Lucky! I'm only going to {city_b}.")]
    questions = [f"Where is {b} going?", f"Which city is {b} travelling to?"]
    return Episode(turns, questions, city_b, [1], "comparison/trips")


def answer_in_reply(rng, a, b):
    job = _pick(rng, JOBS)
    turns = [Turn(b, "I never asked, what do you do for a living?"), Turn(a, f"I'm a {job}, for six years now.")]
    questions = [f"What is {a}'s profession?", f"What does {a} do for a living?", f"What is {a}'s job?"]
    return Episode(turns, questions, job, [1, 0], "attribute/job_reply")


FAMILIES: tuple[Callable, ...] = (
    pet_name,
    job_update,
    move_city,
    changed_mind,
    relative_coreference,
    place_coreference,
    thing_coreference,
    speaker_attribution,
    hobby_lookup,
    food_preference,
    event_when,
    first_last,
    before_after,
    multi_hop,
    counting,
    negation,
    comparison,
    answer_in_reply,
)


@dataclass
class Sample:
    segments: list[str]
    query: str
    answer: str
    evidence: list[int]
    template: str
    source: str = "synthetic"

    def to_json(self) -> dict:
        return {
            "segments": self.segments,
            "query": self.query,
            "answer": self.answer,
            "evidence": self.evidence,
            "template": self.template,
            "source": self.source,
        }


def make_sample(rng: random.Random, filler: list[str], min_segments: int = 14, max_segments: int = 32) -> Sample:
    """A conversation with 2-4 episodes among filler turns, asking one episode's question at the end."""
    a, b = _pick(rng, NAMES, 2)
    episodes = []
    for family in rng.sample(FAMILIES, rng.randint(2, 4)):
        about, other = (a, b) if rng.random() < 0.6 else (b, a)
        episodes.append(family(rng, about, other))
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
    if answer in sample.query.lower() and not sample.template.startswith("speaker_attribution"):
        return False
    evidence_text = " ".join(sample.segments[i].lower() for i in sample.evidence)
    parts = [p.strip() for p in answer.split(",")]
    return all(part in evidence_text for part in parts)
