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


def _two_turn_update(name, family, values, before, after, questions):
    """A family in which ``a`` says one value of ``values`` and, later, the value that replaced it.

    ``before`` and ``after`` are phrasings of the two turns, with ``{old}`` and ``{new}``; ``questions`` ask for the
    new value, with ``{a}``. The answer is the new value; its turn is the evidence.
    """

    def episode(rng, a, b):
        old, new = pick(rng, values, 2)
        turns = [
            say(rng, a, *(text.format(old=old, new=new) for text in before)),
            say(rng, a, *(text.format(old=old, new=new) for text in after)),
        ]
        return Episode(turns, [q.format(a=a) for q in questions], new, [1], family, spread=True)

    episode.__name__ = name
    return episode


move_city = _two_turn_update(
    "move_city",
    "knowledge_update/city",
    CITIES,
    before=(
        "I love living in {old}, the food scene is great.",
        "{old} has been home for six years.",
    ),
    after=(
        "So, I'm moving to {new} next month for a fresh start.",
        "I got the job, so I'm relocating to {new}!",
        "We're packing up for {new}, it's really happening.",
    ),
    questions=(
        "Which city is {a} moving to?",
        "Where will {a} live after the move?",
        "What is {a}'s new city?",
    ),
)


relationship_update = _two_turn_update(
    "relationship_update",
    "knowledge_update/relationship",
    RELATIONSHIP_STATUSES,
    before=(
        "I'm {old} at the moment, and that's fine.",
        "Relationship status: {old}.",
    ),
    after=(
        "Update on the love front: I'm {new} now!",
        "Plot twist, I'm {new}.",
        "Things changed, I'm {new} these days.",
    ),
    questions=(
        "What is {a}'s relationship status now?",
        "What is {a}'s love life like at the moment?",
        "How would {a} describe their relationship status today?",
    ),
)


phone_update = _two_turn_update(
    "phone_update",
    "knowledge_update/phone",
    PHONES,
    before=(
        "My {old} is falling apart.",
        "The battery of my {old} dies by noon now.",
    ),
    after=(
        "I finally got a new phone, the {new}!",
        "Switched to the {new}, no regrets.",
        "Said goodbye to the {old}, hello {new}.",
    ),
    questions=(
        "What phone does {a} use now?",
        "Which phone did {a} switch to?",
        "What is {a}'s current phone?",
    ),
)


team_update = _two_turn_update(
    "team_update",
    "knowledge_update/team",
    TEAMS,
    before=(
        "I've supported the {old} my whole life.",
        "Watching the {old} lose again, as usual.",
    ),
    after=(
        "Don't judge me, but I support the {new} now.",
        "I've switched allegiance to the {new}.",
        "My new favourite team? The {new}.",
    ),
    questions=(
        "Which team does {a} support now?",
        "What is {a}'s favourite team these days?",
        "Who does {a} cheer for nowadays?",
    ),
)


hair_update = _two_turn_update(
    "hair_update",
    "knowledge_update/hair",
    HAIR_COLOURS,
    before=(
        "I've had {old} hair since college.",
        "Still rocking the {old} hair.",
    ),
    after=(
        "I dyed my hair {new} last night!",
        "New look: my hair is {new} now.",
        "Went full {new} at the salon today.",
    ),
    questions=(
        "What colour is {a}'s hair now?",
        "What is {a}'s current hair colour?",
        "What did {a} dye their hair?",
    ),
)


diet_update = _two_turn_update(
    "diet_update",
    "knowledge_update/diet",
    DIETS,
    before=(
        "I've been {old} for years now.",
        "I eat {old}, mostly.",
    ),
    after=(
        "Update: I've gone {new}!",
        "I switched to a {new} diet last month.",
        "Doctor's orders, I'm {new} now.",
    ),
    questions=(
        "What diet is {a} following now?",
        "How does {a} eat these days?",
        "What is {a}'s current diet?",
    ),
)


address_update = _two_turn_update(
    "address_update",
    "knowledge_update/address",
    STREETS,
    before=(
        "Our flat on {old} is tiny but cosy.",
        "The neighbours on {old} are so loud.",
    ),
    after=(
        "We just moved to a house on {new}!",
        "New address: we're on {new} now.",
        "Finally out of {old}, we live on {new} now.",
    ),
    questions=(
        "Which street does {a} live on now?",
        "What is {a}'s new street?",
        "Where in town has {a} moved to?",
    ),
)


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


trip_changed = _two_turn_update(
    "trip_changed",
    "changed_mind/trip",
    CITIES,
    before=(
        "We're planning a holiday in {old} this autumn.",
        "I just booked a week in {old}!",
    ),
    after=(
        "Change of plans: we're going to {new} instead.",
        "Scrap {old}, we're doing {new} now.",
        "Flights were silly, so it's {new} after all.",
    ),
    questions=(
        "Where is {a} going on holiday in the end?",
        "What is {a}'s final holiday destination?",
        "Which city did {a} pick for the holiday after changing plans?",
    ),
)


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
