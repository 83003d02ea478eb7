"""Plans, reasons, feelings, gifts, health, advice and recommendations, mostly told in a reply to the other
speaker (the reason after a bare "I quit", an injury and then its recovery update). Families: ``plan/*``,
``reason/*``, ``emotion/*``, ``gift/*``, ``health/*``, ``advice/*``, ``recommendation/*``.
"""

from __future__ import annotations

import random

from ..episode import Episode, Turn, an, bystander, cap, pick, say
from ..vocab import (
    BODY_PARTS,
    EVENTS,
    FEELINGS,
    GIFTS,
    INJURY_CAUSES,
    INJURY_STATES,
    PLAN_PERIODS,
    PLANS,
    PROBLEMS,
    QUIT_REASONS,
    QUIT_THINGS,
    RECOVERY_STATES,
    RELATIVES,
    TITLES,
    WHEN,
)


def plan_intention(rng, a, b):
    plan, other = pick(rng, PLANS, 2)
    period = pick(rng, PLAN_PERIODS)
    turns = [
        say(rng, b, f"Any big plans {period}?", f"So what's next for you {period}?"),
        say(rng, a, f"I'm going to {plan}, finally.", f"I want to {plan}. It's been on my list forever."),
        say(rng, b, f"Love that. I'm hoping to {other} myself.", f"Nice! I might {other}."),
    ]
    questions = [
        f"What is {a} planning to do {period}?",
        f"What does {a} intend to do {period}?",
        f"What are {a}'s plans {period}?",
    ]
    return Episode(turns, questions, plan, [1, 0], "plan/intention")


def quit_reason(rng, a, b):
    thing, reason = pick(rng, QUIT_THINGS), pick(rng, QUIT_REASONS)
    turns = [
        say(rng, a, f"I quit {thing}.", f"So... I quit {thing} yesterday.", f"I'm done with {thing}. I quit."),
        say(rng, b, "Wait, why?", "What happened?", "No way, how come?"),
        say(rng, a, f"Because {reason}.", f"Honestly? Because {reason}.", f"Mostly because {reason}."),
    ]
    questions = [
        f"Why did {a} quit {thing}?",
        f"What made {a} leave {thing}?",
        f"What was {a}'s reason for quitting {thing}?",
    ]
    return Episode(turns, questions, reason, [2, 0], "reason/quit")


def event_feeling(rng, a, b):
    event, feeling, when = pick(rng, EVENTS), pick(rng, FEELINGS), pick(rng, WHEN)
    turns = [
        say(rng, a, f"I {event} {when}.", f"So I {event}, finally."),
        say(rng, b, "How did it feel?", "And? How was it for you?", "How did you feel about it?"),
        say(rng, a, f"Honestly, {feeling} the whole time.", f"Mostly {feeling}, if I'm honest.", f"{cap(feeling)}!"),
    ]
    questions = [
        f"How did {a} feel after they {event}?",
        f"What was {a}'s feeling about the time they {event}?",
        f"How did {a} say it felt when they {event}?",
    ]
    return Episode(turns, questions, feeling, [2, 0], "emotion/event")


def gift_received(rng, a, b):
    relative = pick(rng, RELATIVES)
    gift, other = pick(rng, GIFTS, 2)
    turns = [
        say(
            rng,
            b,
            f"What did your {relative} get you for your birthday?",
            f"Did your {relative} spoil you on your birthday?",
        ),
        say(
            rng,
            a,
            f"{cap(an(gift))}! I've wanted one forever.",
            f"Oh, {an(gift)}. Totally spoiled me.",
            f"{cap(an(gift))}, can you believe it?",
        ),
        say(rng, a, f"My parents got me {an(other)}, too.", f"And my coworkers chipped in for {an(other)}!"),
    ]
    questions = [
        f"What did {a}'s {relative} give them for their birthday?",
        f"What birthday present did {a} get from their {relative}?",
        f"What was the gift from {a}'s {relative}?",
    ]
    return Episode(turns, questions, gift, [1, 0], "gift/received")


def gift_giver(rng, a, b):
    gift, name = pick(rng, GIFTS), bystander(rng, a, b)
    turns = [
        say(rng, b, f"I love your {gift}, where's it from?", f"Is that a new {gift}? So nice."),
        say(
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
    return say(rng, speaker, f"I {verb} my {part} {cause}.", f"Ugh, I {verb} my {part} {cause}.")


def injury_cause(rng, a, b):
    part, other_part = pick(rng, BODY_PARTS, 2)
    cause, other_cause = pick(rng, INJURY_CAUSES, 2)
    turns = [_injury_turn(rng, a, part, cause), Turn(b, f"Ouch. I did my {other_part} {other_cause} last year.")]
    questions = [
        f"How did {a} hurt their {part}?",
        f"What was {a} doing when they injured their {part}?",
        f"How did {a}'s {part} injury happen?",
    ]
    return Episode(turns, questions, cause, [0], "health/injury")


def injury_recovery(rng, a, b):
    part, cause = pick(rng, BODY_PARTS), pick(rng, INJURY_CAUSES)
    state, recovery = pick(rng, INJURY_STATES), pick(rng, RECOVERY_STATES)
    turns = [
        _injury_turn(rng, a, part, cause),
        say(rng, a, f"It's {state} for now.", f"The doctor says it's {state}, ugh."),
        say(
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
    complaint, topic, tips = pick(rng, PROBLEMS)
    tip = pick(rng, tips)
    turns = [
        Turn(a, complaint),
        say(rng, b, f"You should {tip}.", f"My tip: {tip}. It worked for me.", f"Why don't you {tip}?"),
        say(rng, a, "Huh, I'll give that a go.", "Good idea, I'll try it.", "Worth a shot, thanks!"),
    ]
    questions = [
        f"What did {b} advise {a} to do about {topic}?",
        f"What tip did {a} get for {topic}?",
        f"What was suggested to {a} for {topic}?",
    ]
    return Episode(turns, questions, tip, [1, 0], "advice/given")


def recommendation(rng, a, b):
    kind = pick(rng, TITLES)
    title = pick(rng, TITLES[kind])
    turns = [
        say(rng, b, f"I need a new {kind}, I've run out.", f"Got any {kind} recommendations?"),
        say(rng, a, f"{title}! You'll love it.", f"Try {title}, trust me.", f"Oh, {title}, no question."),
        say(rng, b, "Adding it to my list.", "Never heard of it. Will check it out!"),
    ]
    questions = [
        f"Which {kind} did {a} recommend to {b}?",
        f"What {kind} did {a} tell {b} to try?",
        f"What was {a}'s {kind} recommendation?",
    ]
    return Episode(turns, questions, title, [1, 0], "recommendation/title")
