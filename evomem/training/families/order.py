"""Order and time: first / middle / last / before / after among three similar turns, and what happened when.

Families: ``order/*`` (a year's milestones or a road trip's stops) and ``temporal/*`` (an event at a time,
two events that differ only by their time, when it was told in a reply).
"""

from __future__ import annotations

import random

from ..episode import Episode, Turn, cap, pick, say
from ..vocab import CITIES, EVENTS, MILESTONES, TIME_ANCHORS, WHEN

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
        items = pick(rng, MILESTONES, 3)
        turns = [
            say(rng, a, f"Early this year I {items[0]}.", f"Back in January I {items[0]}."),
            say(rng, a, f"Then I {items[1]}.", f"After that I {items[1]}.", f"A few months later I {items[1]}."),
            say(rng, a, f"And most recently I {items[2]}.", f"Latest news: I {items[2]}."),
        ]
        return "milestones", items, turns
    items = pick(rng, CITIES, 3)
    turns = [
        say(rng, a, f"Our road trip started in {items[0]}.", f"First stop of the trip was {items[0]}."),
        say(rng, a, f"Then we took the train to {items[1]}.", f"Next we drove on to {items[1]}."),
        say(rng, a, f"We ended the trip in {items[2]}.", f"The last stop was {items[2]}, exhausted."),
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


# --- time: what happened at a time, and when something happened


def event_when(rng, a, b):
    event, when = pick(rng, EVENTS), pick(rng, WHEN)
    turns = [say(rng, a, f"I {event} {when}, it was amazing.", f"{cap(when)} I {event}. Best day in ages.")]
    questions = [f"What did {a} do {when}?", f"What was {a} up to {when}?", f"What did {a} say they did {when}?"]
    return Episode(turns, questions, event, [0], "temporal/event")


def time_anchor(rng, a, b):
    event, other = pick(rng, EVENTS, 2)
    when, other_when = pick(rng, TIME_ANCHORS, 2)
    asked = say(rng, a, f"I {event} {when}.", f"{cap(when)} I {event}.", f"{cap(when)}? I {event}, believe it.")
    distractor = say(rng, a, f"I {other} {other_when}.", f"{cap(other_when)} I {other}.")
    turns, index = ([asked, distractor], 0) if rng.random() < 0.5 else ([distractor, asked], 1)
    questions = [f"What did {a} do {when}?", f"What was {a} up to {when}?", f"What did {a} get up to {when}?"]
    return Episode(turns, questions, event, [index], "temporal/anchor", spread=True)


def event_time(rng, a, b):
    event, when = pick(rng, EVENTS), pick(rng, TIME_ANCHORS)
    turns = [
        say(rng, a, f"I {event}, finally!", f"Did I tell you I {event}?", f"So I {event}. Still buzzing."),
        say(rng, b, "Wait, when was that?", "When?!", "Oh nice, when did that happen?"),
        say(rng, a, f"{cap(when)}.", f"{cap(when)}, I thought I'd told you.", f"It was {when}."),
    ]
    questions = [
        f"When did {a} say they {event}?",
        f"When was it that {a} {event}?",
        f"How long ago was it that {a} {event}?",
    ]
    return Episode(turns, questions, when, [2, 0], "temporal/when")
