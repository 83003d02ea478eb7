"""Several evidence turns: aggregation (every trip, every gym visit) and multi-hop (a name, then where it
lives). Families: ``aggregation/*`` and ``multi_hop/*``.
"""

from __future__ import annotations

from ..episode import Episode, bystander, cap, pick, say
from ..vocab import CITIES, FRIENDS, PET_NAMES, PETS, SHOP_ITEMS, SHOPS, WEEKDAYS

# --- aggregation: every mention counts


def counting(rng, a, b):
    cities = pick(rng, CITIES, 3)
    turns = [
        say(rng, a, f"I visited {cities[0]} for work.", f"Work sent me to {cities[0]} in March."),
        say(rng, a, f"Then a weekend in {cities[1]}.", f"I also squeezed in a weekend in {cities[1]}."),
        say(rng, a, f"And I just got back from {cities[2]}!", f"Now I'm back from {cities[2]}, jet-lagged."),
    ]
    questions = [
        f"Which cities has {a} travelled to?",
        f"How many trips did {a} mention?",
        f"Where has {a} been travelling?",
    ]
    return Episode(turns, questions, ", ".join(cities), [0, 1, 2], "aggregation/trips", spread=True)


def gym_visits(rng, a, b):
    days = sorted(pick(rng, WEEKDAYS, rng.randint(2, 4)), key=WEEKDAYS.index)
    turns = [
        say(
            rng,
            a,
            f"Gym on {day}, my legs are dead.",
            f"Went to the gym again on {day}.",
            f"{day} gym session: done.",
            f"Dragged myself to the gym on {day}.",
        )
        for day in days
    ]
    turns.append(say(rng, b, "I haven't been to the gym since January, ha.", "The gym and I are not friends."))
    questions = [
        f"How many times did {a} mention going to the gym?",
        f"On which days did {a} go to the gym?",
        f"When did {a} work out at the gym?",
    ]
    return Episode(turns, questions, ", ".join(days), list(range(len(days))), "aggregation/gym", spread=True)


# --- multi-hop: one turn names a thing, another tells the answer about it


def multi_hop(rng, a, b):
    pet, name, city = pick(rng, PETS), pick(rng, PET_NAMES), pick(rng, CITIES)
    turns = [
        say(rng, a, f"My {pet} {name} hates car rides.", f"{name}, my {pet}, refuses to get in the car."),
        say(rng, a, f"I live in {city}, so we walk everywhere.", f"Luckily {city} is great for walking."),
    ]
    questions = [
        f"In which city does the owner of {name} live?",
        f"Where does {name}'s owner live?",
        f"In what city does {name} live with their owner?",
    ]
    return Episode(turns, questions, city, [1, 0], "multi_hop/pet_city", spread=True)


def friend_city(rng, a, b):
    friend, name, city = pick(rng, FRIENDS), bystander(rng, a, b), pick(rng, CITIES)
    turns = [
        say(rng, a, f"My {friend} {name} called today, we talked for hours.", f"I miss {name}, my {friend}."),
        say(
            rng,
            a,
            f"{name} just moved to {city} for work.",
            f"{name} lives in {city} now, so I'll visit in spring.",
            f"I'm flying to {city} to see {name} next month.",
        ),
    ]
    questions = [
        f"Which city does {a}'s {friend} live in?",
        f"Where does {a}'s {friend} live now?",
        f"In what city would {a} visit their {friend}?",
    ]
    return Episode(turns, questions, city, [1, 0], "multi_hop/friend_city", spread=True)


def shop_city(rng, a, b):
    item, shop, city = pick(rng, SHOP_ITEMS), pick(rng, SHOPS), pick(rng, CITIES)
    turns = [
        say(rng, a, f"I bought {item} at {shop}, I'm obsessed.", f"Found {item} at {shop} yesterday."),
        say(
            rng,
            rng.choice((a, b)),
            f"{cap(shop)} is that little shop in {city}.",
            f"{cap(shop)} is worth the trip to {city}.",
            f"I love {shop}, best thing about {city}.",
        ),
    ]
    questions = [
        f"In which city is the shop where {a} bought {item}?",
        f"What city is the store where {a} got {item} in?",
        f"Where did {a} have to go to buy {item}?",
    ]
    return Episode(turns, questions, city, [1, 0], "multi_hop/shop_city", spread=True)
