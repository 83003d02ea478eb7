"""Who said it, and which of two told things: the other speaker's or the other item's similar turn is the
hard negative. Families: ``speaker_attribution/*`` (the answer is a speaker's name) and ``comparison/*``
(trips, price, age).
"""

from __future__ import annotations

from ..episode import Episode, an, bystander, either, pick, say
from ..vocab import CITIES, INSTRUMENTS, PETS, SIBLINGS, STREETS

# --- who said it: the other speaker says something similar


def speaker_attribution(rng, a, b):
    instrument, other = pick(rng, INSTRUMENTS, 2)
    turns = [
        say(
            rng,
            a,
            f"I've been taking {instrument} lessons every Tuesday.",
            f"My {instrument} teacher says I'm improving!",
            f"Learning the {instrument} is harder than I thought.",
        ),
        say(rng, b, f"Cool! I gave up the {other} years ago.", f"Nice, I used to play the {other} as a kid."),
    ]
    questions = [
        f"Who is learning to play the {instrument}?",
        f"Which of them takes {instrument} lessons?",
        f"Who mentioned {instrument} lessons?",
        f"Who is learning the {instrument}, {either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/instrument")


def pet_owner(rng, a, b):
    pet, other = pick(rng, PETS, 2)
    turns = [
        say(
            rng,
            a,
            f"My {pet} woke me up at 5am again.",
            f"My {pet} knocked a glass off the table today.",
            f"I had to take my {pet} to the vet this morning.",
        ),
        say(rng, b, f"Ha, my {other} just sleeps all day.", f"Mine's no better, my {other} chewed a cable."),
    ]
    questions = [
        f"Who has {an(pet)}?",
        f"Which of them owns the {pet}?",
        f"Whose {pet} was mentioned?",
        f"Who has the {pet}, {either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/pet")


def hometown(rng, a, b):
    city, other = pick(rng, CITIES, 2)
    turns = [
        say(
            rng,
            a,
            f"I grew up in {city}, right by the water.",
            f"Being from {city}, I'm used to the rain.",
            f"Back home in {city} we ate dinner really late.",
        ),
        say(rng, b, f"No way, I grew up in {other}!", f"I'm from {other}, so I get that."),
    ]
    questions = [
        f"Who grew up in {city}?",
        f"Which of them is from {city}?",
        f"Whose hometown is {city}?",
        f"Who is from {city}, {either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/hometown")


# --- comparison: two similar turns, the question picks one


def comparison(rng, a, b):
    city_a, city_b = pick(rng, CITIES, 2)
    turns = [
        say(rng, a, f"I'm flying to {city_a} for the conference.", f"The conference sends me to {city_a}."),
        say(rng, b, f"Lucky! I'm only going to {city_b}.", f"I'm stuck with a work trip to {city_b}."),
    ]
    questions = [
        f"Where is {b} going while {a} is at the conference?",
        f"Which city is {b} travelling to?",
        f"What is {b}'s destination, as opposed to {a}'s?",
    ]
    return Episode(turns, questions, city_b, [1], "comparison/trips")


def cheaper_flat(rng, a, b):
    streets = pick(rng, STREETS, 2)
    rents = rng.sample(range(700, 2000, 50), 2)
    turns = [
        say(
            rng,
            a,
            f"Flat hunting: the one on {streets[0]} is {rents[0]} a month.",
            f"Viewed a flat on {streets[0]}, {rents[0]} a month.",
        ),
        say(
            rng,
            a,
            f"The other flat, on {streets[1]}, is {rents[1]}.",
            f"Then there's {streets[1]}: {rents[1]} a month.",
        ),
    ]
    cheap = rents.index(min(rents))
    if rng.random() < 0.5:
        questions = [
            f"Which of the flats {a} viewed is cheaper?",
            f"On which street is the cheaper flat {a} is considering?",
            f"Where is the more affordable flat {a} looked at?",
        ]
        index = cheap
    else:
        questions = [
            f"Which of the flats {a} viewed is more expensive?",
            f"On which street is the pricier flat {a} is considering?",
            f"Where is the flat with the higher rent that {a} looked at?",
        ]
        index = 1 - cheap
    return Episode(turns, questions, streets[index], [index, 1 - index], "comparison/price", spread=True)


def older_relative(rng, a, b):
    relatives, names, ages = pick(rng, SIBLINGS, 2), bystander(rng, a, b, 2), rng.sample(range(8, 40), 2)
    turns = [
        say(rng, a, f"My {relative} {name} is {age}.", f"{name}, my {relative}, just turned {age}.")
        for relative, name, age in zip(relatives, names, ages, strict=True)
    ]
    older = ages.index(max(ages))
    if rng.random() < 0.5:
        questions = [
            f"Who is older, {a}'s {relatives[0]} or {relatives[1]}?",
            f"Which of the two relatives {a} mentioned is older?",
            f"Between {a}'s {relatives[1]} and {relatives[0]}, who is the older one?",
        ]
        index = older
    else:
        questions = [
            f"Who is younger, {a}'s {relatives[0]} or {relatives[1]}?",
            f"Which of the two relatives {a} mentioned is younger?",
            f"Between {a}'s {relatives[1]} and {relatives[0]}, who is the younger one?",
        ]
        index = 1 - older
    return Episode(turns, questions, names[index], [index, 1 - index], "comparison/age", spread=True)
