"""Coreference: a pronoun, "there", "it", "the same thing", "that one" or "the former" points to an earlier
turn, so the answer turn alone does not say what it is about. Families: ``coreference/*``.
"""

from __future__ import annotations

from ..episode import Episode, an, bystander, cap, pick, pronouns, say
from ..vocab import (
    BOOKS,
    CHOICES,
    CITIES,
    FOODS,
    GATHERINGS,
    JOBS,
    PLACES,
    READING_TIMES,
    RELATIVES,
    RESTAURANTS,
    SHOP_ITEMS,
    SHOPS,
    WHEN,
)


def relative_coreference(rng, a, b):
    relative, name, city, job = pick(rng, RELATIVES), bystander(rng, a, b), pick(rng, CITIES), pick(rng, JOBS)
    subject = pronouns(rng, relative)[0]
    turns = [
        say(rng, a, f"My {relative} {name} just moved to {city}.", f"{name}, my {relative}, moved to {city}."),
        say(rng, b, "That's a big change! How are they finding it?", "Oh wow, are they settling in?"),
        say(
            rng,
            a,
            f"{cap(subject)} loves it. {cap(subject)} started working as {an(job)} there.",
            f"Really well, {subject} got a job as {an(job)} right away.",
        ),
    ]
    questions = [
        f"What job did {a}'s {relative} start?",
        f"What does {name} work as now?",
        f"What is {a}'s {relative} doing for work in {city}?",
    ]
    return Episode(turns, questions, job, [2, 0], "coreference/pronoun")


def object_pronoun(rng, a, b):
    relative, name, place = pick(rng, RELATIVES), bystander(rng, a, b), pick(rng, PLACES)
    subject, obj = pronouns(rng, relative)
    turns = [
        say(rng, a, f"My {relative} {name} is visiting next week.", f"{name}, my {relative}, is staying over."),
        say(rng, b, "Fun! Any plans?", "Oh nice, what will you do?", "Where will you go?"),
        say(
            rng,
            a,
            f"I'm taking {obj} to {place} on Saturday.",
            f"I'll bring {obj} to {place}, obviously.",
            f"First stop: {place}, whether {subject} likes it or not.",
        ),
    ]
    questions = [
        f"Where is {a} taking {name}?",
        f"Where will {a} bring their visiting {relative}?",
        f"What place does {a} plan to show {name}?",
    ]
    return Episode(turns, questions, place, [2, 0], "coreference/object_pronoun")


def place_coreference(rng, a, b):
    place, food = pick(rng, PLACES), pick(rng, FOODS)
    turns = [
        say(rng, a, f"We went to {place} {pick(rng, WHEN)}.", f"Finally tried {place}."),
        say(rng, b, "Is that the place with the big terrace?", "Oh, how was it?"),
        say(rng, a, f"Yes! The {food} there was the best I've ever had.", f"Loved it, they do amazing {food} there."),
    ]
    questions = [
        f"What did {a} eat at {place}?",
        f"Which dish did {a} love at {place}?",
        f"What food did {a} have when visiting {place}?",
    ]
    return Episode(turns, questions, food, [2, 0], "coreference/place")


def there_event(rng, a, b):
    gathering, name, when = pick(rng, GATHERINGS), bystander(rng, a, b), pick(rng, WHEN)
    turns = [
        say(rng, a, f"I went to {gathering} {when}.", f"{cap(when)} I finally made it to {gathering}."),
        say(rng, b, "Fun! Anything exciting happen?", "How was it?", "Did you know anyone?"),
        say(
            rng,
            a,
            f"I ran into {name} there, haven't seen them in years.",
            f"Guess who was there? {name}!",
            f"I bumped into {name} there, of all people.",
        ),
    ]
    questions = [
        f"Who did {a} run into at {gathering}?",
        f"Who did {a} meet at {gathering}?",
        f"Which old acquaintance did {a} see at {gathering}?",
    ]
    return Episode(turns, questions, name, [2, 0], "coreference/there_event")


def thing_coreference(rng, a, b):
    book, duration = pick(rng, BOOKS), pick(rng, READING_TIMES)
    turns = [
        say(rng, a, f"I started reading {book}.", f"A friend lent me {book}."),
        say(rng, b, "How is it so far?", "Any good?"),
        say(
            rng,
            a,
            f"Honestly it's so gripping that I finished it in {duration}.",
            f"I couldn't put it down, finished it in {duration}.",
            f"Done already! It took me {duration}.",
        ),
    ]
    questions = [
        f"How quickly did {a} finish {book}?",
        f"How long did it take {a} to read {book}?",
        f"In how much time did {a} get through {book}?",
    ]
    return Episode(turns, questions, duration, [2, 0], "coreference/thing")


def same_thing(rng, a, b):
    food, restaurant = pick(rng, FOODS), pick(rng, RESTAURANTS)
    turns = [
        say(
            rng,
            b,
            f"I had the {food} at {restaurant}, it was unreal.",
            f"Whatever you do, order the {food} at {restaurant}.",
            f"We ate at {restaurant} and I got the {food}.",
        ),
        say(
            rng,
            a,
            "Ha, I ordered the same thing there last month!",
            "No way, I had the exact same thing there on my birthday.",
            "Same! That's what I always get there.",
        ),
    ]
    questions = [
        f"What did {a} order at {restaurant}?",
        f"What does {a} eat at {restaurant}?",
        f"Which dish has {a} had at {restaurant}?",
    ]
    return Episode(turns, questions, food, [0, 1], "coreference/same_thing")


def that_one(rng, a, b):
    item, shop = pick(rng, SHOP_ITEMS), pick(rng, SHOPS)
    turns = [
        say(
            rng,
            b,
            f"Have you seen {item} in the window at {shop}? Gorgeous.",
            f"{cap(shop)} has {item} I keep thinking about.",
        ),
        say(
            rng,
            a,
            "Oh, I bought that one last week!",
            "Ha, that one? I picked it up last week.",
            "I actually got that one last week, I love it.",
        ),
    ]
    questions = [
        f"What did {a} buy last week?",
        f"What did {a} pick up at {shop}?",
        f"Which item from {shop} does {a} own?",
    ]
    return Episode(turns, questions, item, [0, 1], "coreference/that_one")


def former_latter(rng, a, b):
    said, asked, options = pick(rng, CHOICES)
    first, second = pick(rng, options, 2)
    which = rng.randrange(2)
    reference = rng.choice((("the former", "the first one"), ("the latter", "the second one"))[which])
    turns = [
        say(rng, a, f"I can't decide between {first} and {second} for {said}.", f"For {said}: {first} or {second}?"),
        say(rng, b, "Tough call, both sound great.", "Ooh, hard choice.", "Which way are you leaning?"),
        say(rng, a, f"I'm going with {reference}, decision made.", f"Okay, {reference} it is."),
    ]
    questions = [
        f"What did {a} choose for {asked}?",
        f"Which option did {a} settle on for {asked}?",
        f"What did {a} finally pick for {asked}?",
    ]
    return Episode(turns, questions, (first, second)[which], [0, 2], "coreference/former_latter")
