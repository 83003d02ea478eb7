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

from .vocab import (
    BODY_PARTS,
    BOOKS,
    CARS,
    CHOICES,
    CITIES,
    COMPANIES,
    DATES,
    DIETS,
    EVENTS,
    FEELINGS,
    FEMININE_RELATIVES,
    FOODS,
    FRIENDS,
    GATHERINGS,
    GENERIC_FILLER,
    GIFTS,
    HABITS,
    HAIR_COLOURS,
    HOBBIES,
    INJURY_CAUSES,
    INJURY_STATES,
    INSTRUMENTS,
    JOBS,
    MASCULINE_RELATIVES,
    MILESTONES,
    NAMES,
    OCCASIONS,
    PET_NAMES,
    PETS,
    PHONES,
    PLACES,
    PLAN_PERIODS,
    PLANS,
    PROBLEMS,
    QUIT_REASONS,
    QUIT_THINGS,
    READING_TIMES,
    RECOVERY_STATES,
    RELATIONSHIP_STATUSES,
    RELATIVES,
    RESTAURANTS,
    SHOP_ITEMS,
    SHOPS,
    SIBLINGS,
    STREETS,
    TASTES,
    TEAMS,
    TIME_ANCHORS,
    TITLES,
    WEEKDAYS,
    WHEN,
)

# Families whose answer is a speaker's name: their questions may name both speakers ("Maya or Leo?").
SPEAKER_ANSWER_FAMILIES = ("speaker_attribution/",)


@dataclass
class Turn:
    speaker: str
    text: str


@dataclass
class Episode:
    """Turns that tell a fact; ``evidence`` indexes into ``turns``; ``spread`` allows filler between turns."""

    turns: list[Turn]
    questions: list[str]
    answer: str
    evidence: list[int]
    family: str
    spread: bool = False  # may filler turns come between the episode's turns


def _pick(rng: random.Random, items, k: int = 1):
    return rng.sample(list(items), k) if k > 1 else rng.choice(list(items))


def _a(noun: str) -> str:
    return f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _bystander(rng: random.Random, a: str, b: str, k: int = 1):
    """Name(s) of people talked about: never a speaker, nor a part of a speaker's name (Lena in Elena)."""
    speakers = f"{a} {b}".lower()
    return _pick(rng, [name for name in NAMES if name.lower() not in speakers], k)


def _pronouns(rng: random.Random, relative: str) -> tuple[str, str]:
    if relative in FEMININE_RELATIVES:
        return "she", "her"
    if relative in MASCULINE_RELATIVES:
        return "he", "him"
    return rng.choice((("she", "her"), ("he", "him")))


def _say(rng: random.Random, speaker: str, *options: str) -> Turn:
    return Turn(speaker, rng.choice(options))


def _either(rng: random.Random, a: str, b: str) -> str:
    first, second = rng.sample((a, b), 2)
    return f"{first} or {second}"


# ----- families ----------------------------------------------------------------------------------------------
# Each takes (rng, a, b) with a the speaker the fact is about and b the other speaker.

# --- attributes, some told in a short reply whose subject is only in the context


def pet_name(rng, a, b):
    pet, name, when = _pick(rng, PETS), _pick(rng, PET_NAMES), _pick(rng, WHEN)
    variant = rng.randrange(3)
    if variant == 0:
        told = _say(
            rng,
            a,
            f"I adopted {_a(pet)} {when}! Her name is {name}.",
            f"Meet {name}, the {pet} I adopted {when}!",
            f"I brought home {_a(pet)} {when}, we call her {name}.",
        )
        turns, evidence = [told], [0]
    elif variant == 1:  # the name comes in a short reply: only the context says what it names
        turns = [
            _say(rng, a, f"Guess what, I finally adopted {_a(pet)}!", f"We have {_a(pet)} now, I'm so happy!"),
            _say(rng, b, "No way! What's the name?", "Aww, what did you call it?", "What's its name?"),
            _say(rng, a, f"{name}. She's already sleeping on my bed.", f"{name}! It just suited her."),
        ]
        evidence = [2, 0]
    else:
        turns = [
            _say(rng, a, f"We got {_a(pet)} from the shelter {when}.", f"A {pet} joined the family {when}."),
            _say(rng, a, f"We called it {name}, after my grandmother's first pet.", f"The kids named it {name}."),
        ]
        evidence = [1, 0]
    questions = [
        f"What is the name of {a}'s {pet}?",
        f"What did {a} name the {pet}?",
        f"What's {a}'s new pet called?",
        f"How is {a}'s {pet} named?",
    ]
    return Episode(turns, questions, name, evidence, f"pet_name/{variant}", spread=variant == 2)


def hobby_lookup(rng, a, b):
    hobby = _pick(rng, HOBBIES)
    turns = [
        _say(rng, b, "What do you do to relax these days?", "How do you unwind after work?"),
        _say(rng, a, f"Mostly {hobby}. It clears my head.", f"{_cap(hobby)}, every chance I get."),
    ]
    questions = [f"What does {a} do to relax?", f"What hobby helps {a} unwind?", f"What is {a}'s hobby?"]
    return Episode(turns, questions, hobby, [1, 0], "attribute/hobby")


def answer_in_reply(rng, a, b):
    job = _pick(rng, JOBS)
    turns = [
        _say(rng, b, "I never asked, what do you do for a living?", "So what's your job, actually?"),
        _say(rng, a, f"I'm {_a(job)}, for six years now.", f"{_cap(_a(job))}. Long hours, but I love it."),
    ]
    questions = [f"What is {a}'s profession?", f"What does {a} do for a living?", f"What is {a}'s job?"]
    return Episode(turns, questions, job, [1, 0], "attribute/job_reply")


def food_preference(rng, a, b):
    food = _pick(rng, FOODS)
    questions = [
        f"What is {a}'s favourite food?",
        f"What food does {a} love most?",
        f"Which dish would {a} eat forever?",
    ]
    if rng.random() < 0.5:
        told = _say(
            rng,
            a,
            f"If I could eat one thing forever it would be {food}.",
            f"Nothing beats {food}, honestly.",
            f"I'd cross town for good {food}.",
        )
        return Episode([told], questions, food, [0], "preference/food")
    turns = [
        _say(rng, b, "What's your ultimate comfort food?", "Okay, last meal on earth: what is it?"),
        _say(rng, a, f"{_cap(food)}, no contest.", f"Easy. {_cap(food)}.", f"Probably {food}, extra spicy."),
    ]
    return Episode(turns, questions, food, [1, 0], "preference/food_reply")


def hedged_taste(rng, a, b):
    kind = _pick(rng, TASTES)
    liked, disliked = _pick(rng, TASTES[kind], 2)
    turns = [
        _say(
            rng,
            a,
            f"I guess {disliked} is fine, but it's not really my thing.",
            f"I've tried to get into {disliked}, I really have. Nope.",
            f"{_cap(disliked)}? Eh, I can take it or leave it.",
        ),
        _say(
            rng,
            a,
            f"I've been really into {liked} lately, I can't get enough.",
            f"Honestly, {liked} is kind of my guilty pleasure.",
            f"I could happily spend a whole weekend on {liked}.",
        ),
    ]
    if rng.random() < 0.5:
        questions = [f"What {kind} does {a} enjoy?", f"Which {kind} is {a} really into?", f"What {kind} does {a} like?"]
        return Episode(turns, questions, liked, [1], "preference/likes", spread=True)
    questions = [
        f"What {kind} is {a} not keen on?",
        f"Which {kind} doesn't {a} enjoy?",
        f"What {kind} does {a} dislike?",
    ]
    return Episode(turns, questions, disliked, [0], "preference/dislikes", spread=True)


# --- knowledge updates and changes of mind: the latest value wins, the earlier one is a hard negative


def job_update(rng, a, b):
    old, new = _pick(rng, COMPANIES, 2)
    role = _pick(rng, JOBS)
    questions = [
        f"Where does {a} work now?",
        f"What is {a}'s current employer?",
        f"Which company did {a} move to?",
        f"Where is {a} working these days?",
    ]
    if rng.random() < 0.5:
        turns = [
            _say(rng, a, f"I've been working as {_a(role)} at {old} for three years now.", f"Still at {old}."),
            _say(rng, a, f"Big news: I quit {old}. I just started at {new}!", f"I've joined {new}, finally."),
        ]
        return Episode(turns, questions, new, [1], "knowledge_update/job", spread=True)
    turns = [  # the new employer comes in a short reply
        _say(rng, a, f"So... I handed in my notice at {old}.", f"Today was my last day at {old}."),
        _say(rng, b, "Whoa! Where are you going?", "Wait, where to?", "Good for you! Who hired you?"),
        _say(rng, a, f"{_cap(new)}. I start next week.", f"{_cap(new)}! Still can't believe it."),
    ]
    return Episode(turns, questions, new, [2, 0], "knowledge_update/job_reply")


def move_city(rng, a, b):
    old, new = _pick(rng, CITIES, 2)
    turns = [
        _say(rng, a, f"I love living in {old}, the food scene is great.", f"{old} has been home for six years."),
        _say(
            rng,
            a,
            f"So, I'm moving to {new} next month for a fresh start.",
            f"I got the job, so I'm relocating to {new}!",
            f"We're packing up for {new}, it's really happening.",
        ),
    ]
    questions = [f"Which city is {a} moving to?", f"Where will {a} live after the move?", f"What is {a}'s new city?"]
    return Episode(turns, questions, new, [1], "knowledge_update/city", spread=True)


def relationship_update(rng, a, b):
    old, new = _pick(rng, RELATIONSHIP_STATUSES, 2)
    turns = [
        _say(rng, a, f"I'm {old} at the moment, and that's fine.", f"Relationship status: {old}."),
        _say(
            rng,
            a,
            f"Update on the love front: I'm {new} now!",
            f"Plot twist, I'm {new}.",
            f"Things changed, I'm {new} these days.",
        ),
    ]
    questions = [
        f"What is {a}'s relationship status now?",
        f"What is {a}'s love life like at the moment?",
        f"How would {a} describe their relationship status today?",
    ]
    return Episode(turns, questions, new, [1], "knowledge_update/relationship", spread=True)


def phone_update(rng, a, b):
    old, new = _pick(rng, PHONES, 2)
    turns = [
        _say(rng, a, f"My {old} is falling apart.", f"The battery of my {old} dies by noon now."),
        _say(
            rng,
            a,
            f"I finally got a new phone, the {new}!",
            f"Switched to the {new}, no regrets.",
            f"Said goodbye to the {old}, hello {new}.",
        ),
    ]
    questions = [f"What phone does {a} use now?", f"Which phone did {a} switch to?", f"What is {a}'s current phone?"]
    return Episode(turns, questions, new, [1], "knowledge_update/phone", spread=True)


def team_update(rng, a, b):
    old, new = _pick(rng, TEAMS, 2)
    turns = [
        _say(rng, a, f"I've supported the {old} my whole life.", f"Watching the {old} lose again, as usual."),
        _say(
            rng,
            a,
            f"Don't judge me, but I support the {new} now.",
            f"I've switched allegiance to the {new}.",
            f"My new favourite team? The {new}.",
        ),
    ]
    questions = [
        f"Which team does {a} support now?",
        f"What is {a}'s favourite team these days?",
        f"Who does {a} cheer for nowadays?",
    ]
    return Episode(turns, questions, new, [1], "knowledge_update/team", spread=True)


def hair_update(rng, a, b):
    old, new = _pick(rng, HAIR_COLOURS, 2)
    turns = [
        _say(rng, a, f"I've had {old} hair since college.", f"Still rocking the {old} hair."),
        _say(
            rng,
            a,
            f"I dyed my hair {new} last night!",
            f"New look: my hair is {new} now.",
            f"Went full {new} at the salon today.",
        ),
    ]
    questions = [
        f"What colour is {a}'s hair now?",
        f"What is {a}'s current hair colour?",
        f"What did {a} dye their hair?",
    ]
    return Episode(turns, questions, new, [1], "knowledge_update/hair", spread=True)


def diet_update(rng, a, b):
    old, new = _pick(rng, DIETS, 2)
    turns = [
        _say(rng, a, f"I've been {old} for years now.", f"I eat {old}, mostly."),
        _say(
            rng,
            a,
            f"Update: I've gone {new}!",
            f"I switched to a {new} diet last month.",
            f"Doctor's orders, I'm {new} now.",
        ),
    ]
    questions = [f"What diet is {a} following now?", f"How does {a} eat these days?", f"What is {a}'s current diet?"]
    return Episode(turns, questions, new, [1], "knowledge_update/diet", spread=True)


def address_update(rng, a, b):
    old, new = _pick(rng, STREETS, 2)
    turns = [
        _say(rng, a, f"Our flat on {old} is tiny but cosy.", f"The neighbours on {old} are so loud."),
        _say(
            rng,
            a,
            f"We just moved to a house on {new}!",
            f"New address: we're on {new} now.",
            f"Finally out of {old}, we live on {new} now.",
        ),
    ]
    questions = [
        f"Which street does {a} live on now?",
        f"What is {a}'s new street?",
        f"Where in town has {a} moved to?",
    ]
    return Episode(turns, questions, new, [1], "knowledge_update/address", spread=True)


def changed_mind(rng, a, b):
    first, final = _pick(rng, CARS, 2)
    turns = [
        _say(rng, a, f"I'm thinking of buying {first}.", f"I've got my eye on {first}."),
        _say(rng, b, "Oh, that sounds practical.", "Nice, good choice."),
        _say(
            rng,
            a,
            f"Actually I changed my mind, I'm getting {final} instead.",
            f"On second thought, {final} makes more sense.",
            f"Forget that, I ordered {final} this morning.",
        ),
    ]
    questions = [
        f"What did {a} finally decide to buy?",
        f"What will {a} get in the end?",
        f"What did {a} choose after changing their mind?",
    ]
    return Episode(turns, questions, final, [2], "changed_mind/vehicle")


def trip_changed(rng, a, b):
    first, final = _pick(rng, CITIES, 2)
    turns = [
        _say(rng, a, f"We're planning a holiday in {first} this autumn.", f"I just booked a week in {first}!"),
        _say(
            rng,
            a,
            f"Change of plans: we're going to {final} instead.",
            f"Scrap {first}, we're doing {final} now.",
            f"Flights were silly, so it's {final} after all.",
        ),
    ]
    questions = [
        f"Where is {a} going on holiday in the end?",
        f"What is {a}'s final holiday destination?",
        f"Which city did {a} pick for the holiday after changing plans?",
    ]
    return Episode(turns, questions, final, [1], "changed_mind/trip", spread=True)


def restaurant_changed(rng, a, b):
    first, final = _pick(rng, RESTAURANTS, 2)
    turns = [
        _say(rng, a, f"We're doing {first} for our anniversary dinner.", f"I booked {first} for our anniversary."),
        _say(rng, b, "Ooh, fancy.", "Great choice!", "I've heard good things."),
        _say(
            rng,
            a,
            f"Scratch that, they were full, so we're going to {final}.",
            f"Actually, we switched to {final}.",
            f"Update: it's {final} now, my partner insisted.",
        ),
    ]
    questions = [
        f"Where is {a} having the anniversary dinner?",
        f"Which restaurant did {a} end up choosing for the anniversary?",
        f"Where will {a} celebrate the anniversary?",
    ]
    return Episode(turns, questions, final, [2], "changed_mind/restaurant")


def date_rescheduled(rng, a, b):
    occasion = _pick(rng, OCCASIONS)
    first, final = _pick(rng, DATES, 2)
    turns = [
        _say(rng, a, f"My {occasion} is on {first}, save the date!", f"We set the {occasion} for {first}."),
        _say(
            rng,
            a,
            f"The venue double-booked, so the {occasion} moved to {final}.",
            f"Heads up: we pushed it to {final}.",
            f"New date: {final}. Sorry for the chaos!",
        ),
    ]
    questions = [
        f"When is {a}'s {occasion} now?",
        f"What is the new date of {a}'s {occasion}?",
        f"On what date will {a}'s {occasion} take place?",
    ]
    return Episode(turns, questions, final, [1], "changed_mind/date", spread=True)


# --- coreference: a pronoun, "there", "the same thing", "that one", "the former" point to an earlier turn


def relative_coreference(rng, a, b):
    relative, name, city, job = _pick(rng, RELATIVES), _bystander(rng, a, b), _pick(rng, CITIES), _pick(rng, JOBS)
    subject = _pronouns(rng, relative)[0]
    turns = [
        _say(rng, a, f"My {relative} {name} just moved to {city}.", f"{name}, my {relative}, moved to {city}."),
        _say(rng, b, "That's a big change! How are they finding it?", "Oh wow, are they settling in?"),
        _say(
            rng,
            a,
            f"{_cap(subject)} loves it. {_cap(subject)} started working as {_a(job)} there.",
            f"Really well, {subject} got a job as {_a(job)} right away.",
        ),
    ]
    questions = [
        f"What job did {a}'s {relative} start?",
        f"What does {name} work as now?",
        f"What is {a}'s {relative} doing for work in {city}?",
    ]
    return Episode(turns, questions, job, [2, 0], "coreference/pronoun")


def object_pronoun(rng, a, b):
    relative, name, place = _pick(rng, RELATIVES), _bystander(rng, a, b), _pick(rng, PLACES)
    subject, obj = _pronouns(rng, relative)
    turns = [
        _say(rng, a, f"My {relative} {name} is visiting next week.", f"{name}, my {relative}, is staying over."),
        _say(rng, b, "Fun! Any plans?", "Oh nice, what will you do?", "Where will you go?"),
        _say(
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
    place, food = _pick(rng, PLACES), _pick(rng, FOODS)
    turns = [
        _say(rng, a, f"We went to {place} {_pick(rng, WHEN)}.", f"Finally tried {place}."),
        _say(rng, b, "Is that the place with the big terrace?", "Oh, how was it?"),
        _say(rng, a, f"Yes! The {food} there was the best I've ever had.", f"Loved it, they do amazing {food} there."),
    ]
    questions = [
        f"What did {a} eat at {place}?",
        f"Which dish did {a} love at {place}?",
        f"What food did {a} have when visiting {place}?",
    ]
    return Episode(turns, questions, food, [2, 0], "coreference/place")


def there_event(rng, a, b):
    gathering, name, when = _pick(rng, GATHERINGS), _bystander(rng, a, b), _pick(rng, WHEN)
    turns = [
        _say(rng, a, f"I went to {gathering} {when}.", f"{_cap(when)} I finally made it to {gathering}."),
        _say(rng, b, "Fun! Anything exciting happen?", "How was it?", "Did you know anyone?"),
        _say(
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
    book, duration = _pick(rng, BOOKS), _pick(rng, READING_TIMES)
    turns = [
        _say(rng, a, f"I started reading {book}.", f"A friend lent me {book}."),
        _say(rng, b, "How is it so far?", "Any good?"),
        _say(
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
    food, restaurant = _pick(rng, FOODS), _pick(rng, RESTAURANTS)
    turns = [
        _say(
            rng,
            b,
            f"I had the {food} at {restaurant}, it was unreal.",
            f"Whatever you do, order the {food} at {restaurant}.",
            f"We ate at {restaurant} and I got the {food}.",
        ),
        _say(
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
    item, shop = _pick(rng, SHOP_ITEMS), _pick(rng, SHOPS)
    turns = [
        _say(
            rng,
            b,
            f"Have you seen {item} in the window at {shop}? Gorgeous.",
            f"{_cap(shop)} has {item} I keep thinking about.",
        ),
        _say(
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
    said, asked, options = _pick(rng, CHOICES)
    first, second = _pick(rng, options, 2)
    which = rng.randrange(2)
    reference = rng.choice((("the former", "the first one"), ("the latter", "the second one"))[which])
    turns = [
        _say(rng, a, f"I can't decide between {first} and {second} for {said}.", f"For {said}: {first} or {second}?"),
        _say(rng, b, "Tough call, both sound great.", "Ooh, hard choice.", "Which way are you leaning?"),
        _say(rng, a, f"I'm going with {reference}, decision made.", f"Okay, {reference} it is."),
    ]
    questions = [
        f"What did {a} choose for {asked}?",
        f"Which option did {a} settle on for {asked}?",
        f"What did {a} finally pick for {asked}?",
    ]
    return Episode(turns, questions, (first, second)[which], [0, 2], "coreference/former_latter")


# --- who said it: the other speaker says something similar


def speaker_attribution(rng, a, b):
    instrument, other = _pick(rng, INSTRUMENTS, 2)
    turns = [
        _say(
            rng,
            a,
            f"I've been taking {instrument} lessons every Tuesday.",
            f"My {instrument} teacher says I'm improving!",
            f"Learning the {instrument} is harder than I thought.",
        ),
        _say(rng, b, f"Cool! I gave up the {other} years ago.", f"Nice, I used to play the {other} as a kid."),
    ]
    questions = [
        f"Who is learning to play the {instrument}?",
        f"Which of them takes {instrument} lessons?",
        f"Who mentioned {instrument} lessons?",
        f"Who is learning the {instrument}, {_either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/instrument")


def pet_owner(rng, a, b):
    pet, other = _pick(rng, PETS, 2)
    turns = [
        _say(
            rng,
            a,
            f"My {pet} woke me up at 5am again.",
            f"My {pet} knocked a glass off the table today.",
            f"I had to take my {pet} to the vet this morning.",
        ),
        _say(rng, b, f"Ha, my {other} just sleeps all day.", f"Mine's no better, my {other} chewed a cable."),
    ]
    questions = [
        f"Who has {_a(pet)}?",
        f"Which of them owns the {pet}?",
        f"Whose {pet} was mentioned?",
        f"Who has the {pet}, {_either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/pet")


def hometown(rng, a, b):
    city, other = _pick(rng, CITIES, 2)
    turns = [
        _say(
            rng,
            a,
            f"I grew up in {city}, right by the water.",
            f"Being from {city}, I'm used to the rain.",
            f"Back home in {city} we ate dinner really late.",
        ),
        _say(rng, b, f"No way, I grew up in {other}!", f"I'm from {other}, so I get that."),
    ]
    questions = [
        f"Who grew up in {city}?",
        f"Which of them is from {city}?",
        f"Whose hometown is {city}?",
        f"Who is from {city}, {_either(rng, a, b)}?",
    ]
    return Episode(turns, questions, a, [0], "speaker_attribution/hometown")


def comparison(rng, a, b):
    city_a, city_b = _pick(rng, CITIES, 2)
    turns = [
        _say(rng, a, f"I'm flying to {city_a} for the conference.", f"The conference sends me to {city_a}."),
        _say(rng, b, f"Lucky! I'm only going to {city_b}.", f"I'm stuck with a work trip to {city_b}."),
    ]
    questions = [
        f"Where is {b} going while {a} is at the conference?",
        f"Which city is {b} travelling to?",
        f"What is {b}'s destination, as opposed to {a}'s?",
    ]
    return Episode(turns, questions, city_b, [1], "comparison/trips")


# --- order: first / middle / last / before / after among similar turns


ORDER_QUESTIONS = {
    ("milestones", "first"): (
        "What was the first thing {a} did this year?",
        "What did {a} do first this year?",
        "Which of this year's milestones came first for {a}?",
    ),
    ("milestones", "middle"): (
        "What did {a} do in between, this year?",
        "What was the second thing {a} did this year?",
        "Which milestone came in the middle of {a}'s year?",
    ),
    ("milestones", "last"): (
        "What did {a} do most recently?",
        "What was the latest thing {a} did this year?",
        "What is {a}'s most recent milestone?",
    ),
    ("milestones", "before"): (
        "What did {a} do right before they {x}?",
        "What came just before {a} {x}?",
        "Which milestone preceded the one where {a} {x}?",
    ),
    ("milestones", "after"): (
        "What did {a} do right after they {x}?",
        "What came next after {a} {x}?",
        "What was {a}'s next milestone after they {x}?",
    ),
    ("trip", "first"): (
        "Where did {a}'s road trip start?",
        "What was the first stop of {a}'s trip?",
        "Which city did {a} visit first on the road trip?",
    ),
    ("trip", "middle"): (
        "Where did {a} stop in between on the road trip?",
        "What was the second stop of {a}'s trip?",
        "Which city came in the middle of {a}'s road trip?",
    ),
    ("trip", "last"): (
        "Where did {a}'s road trip end?",
        "What was the last stop of {a}'s trip?",
        "Which city did {a} visit last on the road trip?",
    ),
    ("trip", "before"): (
        "Which city did {a} visit right before {x}?",
        "Where was {a} just before reaching {x}?",
        "What stop came before {x} on {a}'s road trip?",
    ),
    ("trip", "after"): (
        "Where did {a} go right after {x}?",
        "Which stop came after {x} on {a}'s trip?",
        "What city did {a} head to after {x}?",
    ),
}


def _sequence(rng: random.Random, a: str) -> tuple[str, list[str], list[Turn]]:
    """Three similar turns by ``a`` in told order: milestones of the year or the stops of a road trip."""
    if rng.random() < 0.5:
        items = _pick(rng, MILESTONES, 3)
        turns = [
            _say(rng, a, f"Early this year I {items[0]}.", f"Back in January I {items[0]}."),
            _say(rng, a, f"Then I {items[1]}.", f"After that I {items[1]}.", f"A few months later I {items[1]}."),
            _say(rng, a, f"And most recently I {items[2]}.", f"Latest news: I {items[2]}."),
        ]
        return "milestones", items, turns
    items = _pick(rng, CITIES, 3)
    turns = [
        _say(rng, a, f"Our road trip started in {items[0]}.", f"First stop of the trip was {items[0]}."),
        _say(rng, a, f"Then we took the train to {items[1]}.", f"Next we drove on to {items[1]}."),
        _say(rng, a, f"We ended the trip in {items[2]}.", f"The last stop was {items[2]}, exhausted."),
    ]
    return "trip", items, turns


def _position_episode(rng: random.Random, a: str, position: str) -> Episode:
    theme, items, turns = _sequence(rng, a)
    index = ("first", "middle", "last").index(position)
    questions = [q.format(a=a) for q in ORDER_QUESTIONS[theme, position]]
    return Episode(turns, questions, items[index], [index], f"order/{position}", spread=True)


def first_last(rng, a, b):
    return _position_episode(rng, a, rng.choice(("first", "last")))


def middle_mention(rng, a, b):
    return _position_episode(rng, a, "middle")


def before_after(rng, a, b):
    theme, items, turns = _sequence(rng, a)
    anchor = rng.randrange(2)
    questions = [q.format(a=a, x=items[anchor]) for q in ORDER_QUESTIONS[theme, "after"]]
    return Episode(turns, questions, items[anchor + 1], [anchor + 1, anchor], "order/after", spread=True)


def right_before(rng, a, b):
    theme, items, turns = _sequence(rng, a)
    anchor = rng.randrange(1, 3)
    questions = [q.format(a=a, x=items[anchor]) for q in ORDER_QUESTIONS[theme, "before"]]
    return Episode(turns, questions, items[anchor - 1], [anchor - 1, anchor], "order/before", spread=True)


# --- time


def event_when(rng, a, b):
    event, when = _pick(rng, EVENTS), _pick(rng, WHEN)
    turns = [_say(rng, a, f"I {event} {when}, it was amazing.", f"{_cap(when)} I {event}. Best day in ages.")]
    questions = [f"What did {a} do {when}?", f"What was {a} up to {when}?", f"What did {a} say they did {when}?"]
    return Episode(turns, questions, event, [0], "temporal/event")


def time_anchor(rng, a, b):
    event, other = _pick(rng, EVENTS, 2)
    when, other_when = _pick(rng, TIME_ANCHORS, 2)
    asked = _say(rng, a, f"I {event} {when}.", f"{_cap(when)} I {event}.", f"{_cap(when)}? I {event}, believe it.")
    distractor = _say(rng, a, f"I {other} {other_when}.", f"{_cap(other_when)} I {other}.")
    turns, index = ([asked, distractor], 0) if rng.random() < 0.5 else ([distractor, asked], 1)
    questions = [f"What did {a} do {when}?", f"What was {a} up to {when}?", f"What did {a} get up to {when}?"]
    return Episode(turns, questions, event, [index], "temporal/anchor", spread=True)


def event_time(rng, a, b):
    event, when = _pick(rng, EVENTS), _pick(rng, TIME_ANCHORS)
    turns = [
        _say(rng, a, f"I {event}, finally!", f"Did I tell you I {event}?", f"So I {event}. Still buzzing."),
        _say(rng, b, "Wait, when was that?", "When?!", "Oh nice, when did that happen?"),
        _say(rng, a, f"{_cap(when)}.", f"{_cap(when)}, I thought I'd told you.", f"It was {when}."),
    ]
    questions = [
        f"When did {a} say they {event}?",
        f"When was it that {a} {event}?",
        f"How long ago was it that {a} {event}?",
    ]
    return Episode(turns, questions, when, [2, 0], "temporal/when")


# --- several evidence turns: aggregation and multi-hop


def counting(rng, a, b):
    cities = _pick(rng, CITIES, 3)
    turns = [
        _say(rng, a, f"I visited {cities[0]} for work.", f"Work sent me to {cities[0]} in March."),
        _say(rng, a, f"Then a weekend in {cities[1]}.", f"I also squeezed in a weekend in {cities[1]}."),
        _say(rng, a, f"And I just got back from {cities[2]}!", f"Now I'm back from {cities[2]}, jet-lagged."),
    ]
    questions = [
        f"Which cities has {a} travelled to?",
        f"How many trips did {a} mention?",
        f"Where has {a} been travelling?",
    ]
    return Episode(turns, questions, ", ".join(cities), [0, 1, 2], "aggregation/trips", spread=True)


def gym_visits(rng, a, b):
    days = sorted(_pick(rng, WEEKDAYS, rng.randint(2, 4)), key=WEEKDAYS.index)
    turns = [
        _say(
            rng,
            a,
            f"Gym on {day}, my legs are dead.",
            f"Went to the gym again on {day}.",
            f"{day} gym session: done.",
            f"Dragged myself to the gym on {day}.",
        )
        for day in days
    ]
    turns.append(_say(rng, b, "I haven't been to the gym since January, ha.", "The gym and I are not friends."))
    questions = [
        f"How many times did {a} mention going to the gym?",
        f"On which days did {a} go to the gym?",
        f"When did {a} work out at the gym?",
    ]
    return Episode(turns, questions, ", ".join(days), list(range(len(days))), "aggregation/gym", spread=True)


def multi_hop(rng, a, b):
    pet, name, city = _pick(rng, PETS), _pick(rng, PET_NAMES), _pick(rng, CITIES)
    turns = [
        _say(rng, a, f"My {pet} {name} hates car rides.", f"{name}, my {pet}, refuses to get in the car."),
        _say(rng, a, f"I live in {city}, so we walk everywhere.", f"Luckily {city} is great for walking."),
    ]
    questions = [
        f"In which city does the owner of {name} live?",
        f"Where does {name}'s owner live?",
        f"In what city does {name} live with their owner?",
    ]
    return Episode(turns, questions, city, [1, 0], "multi_hop/pet_city", spread=True)


def friend_city(rng, a, b):
    friend, name, city = _pick(rng, FRIENDS), _bystander(rng, a, b), _pick(rng, CITIES)
    turns = [
        _say(rng, a, f"My {friend} {name} called today, we talked for hours.", f"I miss {name}, my {friend}."),
        _say(
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
    item, shop, city = _pick(rng, SHOP_ITEMS), _pick(rng, SHOPS), _pick(rng, CITIES)
    turns = [
        _say(rng, a, f"I bought {item} at {shop}, I'm obsessed.", f"Found {item} at {shop} yesterday."),
        _say(
            rng,
            rng.choice((a, b)),
            f"{_cap(shop)} is that little shop in {city}.",
            f"{_cap(shop)} is worth the trip to {city}.",
            f"I love {shop}, best thing about {city}.",
        ),
    ]
    questions = [
        f"In which city is the shop where {a} bought {item}?",
        f"What city is the store where {a} got {item} in?",
        f"Where did {a} have to go to buy {item}?",
    ]
    return Episode(turns, questions, city, [1, 0], "multi_hop/shop_city", spread=True)


# --- negation and comparison


def negation(rng, a, b):
    liked, disliked = _pick(rng, FOODS, 2)
    turns = [
        _say(rng, a, f"I can't stand {disliked}, never again.", f"{_cap(disliked)} makes me gag, sorry."),
        _say(rng, a, f"But {liked} I could eat every day.", f"Give me {liked} any day though."),
    ]
    questions = [
        f"What food does {a} dislike?",
        f"Which dish will {a} never eat again?",
        f"What can't {a} stand eating?",
    ]
    return Episode(turns, questions, disliked, [0], "negation/food", spread=True)


def no_longer(rng, a, b):
    habit, kept = _pick(rng, HABITS, 2)
    turns = [
        _say(
            rng,
            a,
            f"I don't {habit} anymore, haven't for months.",
            f"Believe it or not, I no longer {habit}.",
            f"I gave it up: I don't {habit} these days.",
        ),
        _say(rng, a, f"I still {kept} though, let's not go crazy.", f"But I do still {kept}, every day."),
    ]
    questions = [f"What has {a} stopped doing?", f"What does {a} no longer do?", f"Which habit did {a} give up?"]
    return Episode(turns, questions, habit, [0], "negation/no_longer", spread=True)


def cheaper_flat(rng, a, b):
    streets = _pick(rng, STREETS, 2)
    rents = rng.sample(range(700, 2000, 50), 2)
    turns = [
        _say(
            rng,
            a,
            f"Flat hunting: the one on {streets[0]} is {rents[0]} a month.",
            f"Viewed a flat on {streets[0]}, {rents[0]} a month.",
        ),
        _say(
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
    relatives, names, ages = _pick(rng, SIBLINGS, 2), _bystander(rng, a, b, 2), rng.sample(range(8, 40), 2)
    turns = [
        _say(rng, a, f"My {relative} {name} is {age}.", f"{name}, my {relative}, just turned {age}.")
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


# --- plans, reasons, feelings, gifts, health, advice, recommendations


def plan_intention(rng, a, b):
    plan, other = _pick(rng, PLANS, 2)
    period = _pick(rng, PLAN_PERIODS)
    turns = [
        _say(rng, b, f"Any big plans {period}?", f"So what's next for you {period}?"),
        _say(rng, a, f"I'm going to {plan}, finally.", f"I want to {plan}. It's been on my list forever."),
        _say(rng, b, f"Love that. I'm hoping to {other} myself.", f"Nice! I might {other}."),
    ]
    questions = [
        f"What is {a} planning to do {period}?",
        f"What does {a} intend to do {period}?",
        f"What are {a}'s plans {period}?",
    ]
    return Episode(turns, questions, plan, [1, 0], "plan/intention")


def quit_reason(rng, a, b):
    thing, reason = _pick(rng, QUIT_THINGS), _pick(rng, QUIT_REASONS)
    turns = [
        _say(rng, a, f"I quit {thing}.", f"So... I quit {thing} yesterday.", f"I'm done with {thing}. I quit."),
        _say(rng, b, "Wait, why?", "What happened?", "No way, how come?"),
        _say(rng, a, f"Because {reason}.", f"Honestly? Because {reason}.", f"Mostly because {reason}."),
    ]
    questions = [
        f"Why did {a} quit {thing}?",
        f"What made {a} leave {thing}?",
        f"What was {a}'s reason for quitting {thing}?",
    ]
    return Episode(turns, questions, reason, [2, 0], "reason/quit")


def event_feeling(rng, a, b):
    event, feeling, when = _pick(rng, EVENTS), _pick(rng, FEELINGS), _pick(rng, WHEN)
    turns = [
        _say(rng, a, f"I {event} {when}.", f"So I {event}, finally."),
        _say(rng, b, "How did it feel?", "And? How was it for you?", "How did you feel about it?"),
        _say(rng, a, f"Honestly, {feeling} the whole time.", f"Mostly {feeling}, if I'm honest.", f"{_cap(feeling)}!"),
    ]
    questions = [
        f"How did {a} feel after they {event}?",
        f"What was {a}'s feeling about the time they {event}?",
        f"How did {a} say it felt when they {event}?",
    ]
    return Episode(turns, questions, feeling, [2, 0], "emotion/event")


def gift_received(rng, a, b):
    relative = _pick(rng, RELATIVES)
    gift, other = _pick(rng, GIFTS, 2)
    turns = [
        _say(
            rng,
            b,
            f"What did your {relative} get you for your birthday?",
            f"Did your {relative} spoil you on your birthday?",
        ),
        _say(
            rng,
            a,
            f"{_cap(_a(gift))}! I've wanted one forever.",
            f"Oh, {_a(gift)}. Totally spoiled me.",
            f"{_cap(_a(gift))}, can you believe it?",
        ),
        _say(rng, a, f"My parents got me {_a(other)}, too.", f"And my coworkers chipped in for {_a(other)}!"),
    ]
    questions = [
        f"What did {a}'s {relative} give them for their birthday?",
        f"What birthday present did {a} get from their {relative}?",
        f"What was the gift from {a}'s {relative}?",
    ]
    return Episode(turns, questions, gift, [1, 0], "gift/received")


def gift_giver(rng, a, b):
    gift, name = _pick(rng, GIFTS), _bystander(rng, a, b)
    turns = [
        _say(rng, b, f"I love your {gift}, where's it from?", f"Is that a new {gift}? So nice."),
        _say(
            rng,
            a,
            f"{name} gave it to me for my birthday.",
            f"It was a present from {name}!",
            f"{name} got it for me, isn't that sweet?",
        ),
    ]
    questions = [f"Who gave {a} the {gift}?", f"Who is {a}'s {gift} from?", f"From whom did {a} get the {gift}?"]
    return Episode(turns, questions, name, [1, 0], "gift/giver")


def _injury_turn(rng: random.Random, speaker: str, part: str, cause: str) -> Turn:
    verb = rng.choice(("sprained", "twisted", "hurt"))
    return _say(rng, speaker, f"I {verb} my {part} {cause}.", f"Ugh, I {verb} my {part} {cause}.")


def injury_cause(rng, a, b):
    part, other_part = _pick(rng, BODY_PARTS, 2)
    cause, other_cause = _pick(rng, INJURY_CAUSES, 2)
    turns = [_injury_turn(rng, a, part, cause), Turn(b, f"Ouch. I did my {other_part} {other_cause} last year.")]
    questions = [
        f"How did {a} hurt their {part}?",
        f"What was {a} doing when they injured their {part}?",
        f"How did {a}'s {part} injury happen?",
    ]
    return Episode(turns, questions, cause, [0], "health/injury")


def injury_recovery(rng, a, b):
    part, cause = _pick(rng, BODY_PARTS), _pick(rng, INJURY_CAUSES)
    state, recovery = _pick(rng, INJURY_STATES), _pick(rng, RECOVERY_STATES)
    turns = [
        _injury_turn(rng, a, part, cause),
        _say(rng, a, f"It's {state} for now.", f"The doctor says it's {state}, ugh."),
        _say(
            rng,
            a,
            f"Good news, the doctor says it's {recovery}.",
            f"Quick update: it's {recovery} now.",
            f"Physio update: {recovery}!",
        ),
    ]
    questions = [
        f"How is {a}'s {part} doing now?",
        f"What is the latest on {a}'s {part}?",
        f"How is {a} recovering from the {part} injury?",
    ]
    return Episode(turns, questions, recovery, [2, 0], "health/recovery", spread=True)


def advice_given(rng, a, b):
    complaint, topic, tips = _pick(rng, PROBLEMS)
    tip = _pick(rng, tips)
    turns = [
        Turn(a, complaint),
        _say(rng, b, f"You should {tip}.", f"My tip: {tip}. It worked for me.", f"Why don't you {tip}?"),
        _say(rng, a, "Huh, I'll give that a go.", "Good idea, I'll try it.", "Worth a shot, thanks!"),
    ]
    questions = [
        f"What did {b} advise {a} to do about {topic}?",
        f"What tip did {a} get for {topic}?",
        f"What was suggested to {a} for {topic}?",
    ]
    return Episode(turns, questions, tip, [1, 0], "advice/given")


def recommendation(rng, a, b):
    kind = _pick(rng, TITLES)
    title = _pick(rng, TITLES[kind])
    turns = [
        _say(rng, b, f"I need a new {kind}, I've run out.", f"Got any {kind} recommendations?"),
        _say(rng, a, f"{title}! You'll love it.", f"Try {title}, trust me.", f"Oh, {title}, no question."),
        _say(rng, b, "Adding it to my list.", "Never heard of it. Will check it out!"),
    ]
    questions = [
        f"Which {kind} did {a} recommend to {b}?",
        f"What {kind} did {a} tell {b} to try?",
        f"What was {a}'s {kind} recommendation?",
    ]
    return Episode(turns, questions, title, [1, 0], "recommendation/title")


FAMILIES: tuple[Callable, ...] = (
    pet_name,
    hobby_lookup,
    answer_in_reply,
    food_preference,
    hedged_taste,
    job_update,
    move_city,
    relationship_update,
    phone_update,
    team_update,
    hair_update,
    diet_update,
    address_update,
    changed_mind,
    trip_changed,
    restaurant_changed,
    date_rescheduled,
    relative_coreference,
    object_pronoun,
    place_coreference,
    there_event,
    thing_coreference,
    same_thing,
    that_one,
    former_latter,
    speaker_attribution,
    pet_owner,
    hometown,
    comparison,
    first_last,
    middle_mention,
    before_after,
    right_before,
    event_when,
    time_anchor,
    event_time,
    counting,
    gym_visits,
    multi_hop,
    friend_city,
    shop_city,
    negation,
    no_longer,
    cheaper_flat,
    older_relative,
    plan_intention,
    quit_reason,
    event_feeling,
    gift_received,
    gift_giver,
    injury_cause,
    injury_recovery,
    advice_given,
    recommendation,
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
