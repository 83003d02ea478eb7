"""Knowledge updates and changes of mind: the latest value wins, the earlier one is a hard negative.

Families: ``knowledge_update/*`` (job, city, relationship, phone, team, hair, diet, address) and
``changed_mind/*`` (vehicle, trip, restaurant, date).
"""

from __future__ import annotations

from ..episode import Episode, an, cap, pick, say
from ..vocab import (
    CARS,
    CITIES,
    COMPANIES,
    DATES,
    DIETS,
    HAIR_COLOURS,
    JOBS,
    OCCASIONS,
    PHONES,
    RELATIONSHIP_STATUSES,
    RESTAURANTS,
    STREETS,
    TEAMS,
)

# --- knowledge updates: a value that was true and has changed


def job_update(rng, a, b):
    old, new = pick(rng, COMPANIES, 2)
    role = pick(rng, JOBS)
    questions = [
        f"Where does {a} work now?",
        f"What is {a}'s current employer?",
        f"Which company did {a} move to?",
        f"Where is {a} working these days?",
    ]
    if rng.random() < 0.5:
        turns = [
            say(rng, a, f"I've been working as {an(role)} at {old} for three years now.", f"Still at {old}."),
            say(rng, a, f"Big news: I quit {old}. I just started at {new}!", f"I've joined {new}, finally."),
        ]
        return Episode(turns, questions, new, [1], "knowledge_update/job", spread=True)
    turns = [  # the new employer comes in a short reply
        say(rng, a, f"So... I handed in my notice at {old}.", f"Today was my last day at {old}."),
        say(rng, b, "Whoa! Where are you going?", "Wait, where to?", "Good for you! Who hired you?"),
        say(rng, a, f"{cap(new)}. I start next week.", f"{cap(new)}! Still can't believe it."),
    ]
    return Episode(turns, questions, new, [2, 0], "knowledge_update/job_reply")


def move_city(rng, a, b):
    old, new = pick(rng, CITIES, 2)
    turns = [
        say(rng, a, f"I love living in {old}, the food scene is great.", f"{old} has been home for six years."),
        say(
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
    old, new = pick(rng, RELATIONSHIP_STATUSES, 2)
    turns = [
        say(rng, a, f"I'm {old} at the moment, and that's fine.", f"Relationship status: {old}."),
        say(
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
    old, new = pick(rng, PHONES, 2)
    turns = [
        say(rng, a, f"My {old} is falling apart.", f"The battery of my {old} dies by noon now."),
        say(
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
    old, new = pick(rng, TEAMS, 2)
    turns = [
        say(rng, a, f"I've supported the {old} my whole life.", f"Watching the {old} lose again, as usual."),
        say(
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
    old, new = pick(rng, HAIR_COLOURS, 2)
    turns = [
        say(rng, a, f"I've had {old} hair since college.", f"Still rocking the {old} hair."),
        say(
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
    old, new = pick(rng, DIETS, 2)
    turns = [
        say(rng, a, f"I've been {old} for years now.", f"I eat {old}, mostly."),
        say(
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
    old, new = pick(rng, STREETS, 2)
    turns = [
        say(rng, a, f"Our flat on {old} is tiny but cosy.", f"The neighbours on {old} are so loud."),
        say(
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


# --- changes of mind: a plan replaced before it happened


def changed_mind(rng, a, b):
    first, final = pick(rng, CARS, 2)
    turns = [
        say(rng, a, f"I'm thinking of buying {first}.", f"I've got my eye on {first}."),
        say(rng, b, "Oh, that sounds practical.", "Nice, good choice."),
        say(
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
    first, final = pick(rng, CITIES, 2)
    turns = [
        say(rng, a, f"We're planning a holiday in {first} this autumn.", f"I just booked a week in {first}!"),
        say(
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
    first, final = pick(rng, RESTAURANTS, 2)
    turns = [
        say(rng, a, f"We're doing {first} for our anniversary dinner.", f"I booked {first} for our anniversary."),
        say(rng, b, "Ooh, fancy.", "Great choice!", "I've heard good things."),
        say(
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
    occasion = pick(rng, OCCASIONS)
    first, final = pick(rng, DATES, 2)
    turns = [
        say(rng, a, f"My {occasion} is on {first}, save the date!", f"We set the {occasion} for {first}."),
        say(
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
