"""Facts about a speaker: attribute lookups, pet names, likes and dislikes, negation.

They test that the answer is found when it sits in a short reply whose subject is only in the context
("Pepper. She's already sleeping on my bed."), and that a liked thing is told apart from a hedged dislike
or from something the speaker no longer does. Families: ``pet_name/*``, ``attribute/*``, ``preference/*``,
``negation/*``.
"""

from __future__ import annotations

from ..episode import Episode, an, cap, pick, say
from ..vocab import FOODS, HABITS, HOBBIES, JOBS, PET_NAMES, PETS, TASTES, WHEN


def pet_name(rng, a, b):
    pet, name, when = pick(rng, PETS), pick(rng, PET_NAMES), pick(rng, WHEN)
    variant = rng.randrange(3)
    if variant == 0:
        told = say(
            rng,
            a,
            f"I adopted {an(pet)} {when}! Her name is {name}.",
            f"Meet {name}, the {pet} I adopted {when}!",
            f"I brought home {an(pet)} {when}, we call her {name}.",
        )
        turns, evidence = [told], [0]
    elif variant == 1:  # the name comes in a short reply: only the context says what it names
        turns = [
            say(rng, a, f"Guess what, I finally adopted {an(pet)}!", f"We have {an(pet)} now, I'm so happy!"),
            say(rng, b, "No way! What's the name?", "Aww, what did you call it?", "What's its name?"),
            say(rng, a, f"{name}. She's already sleeping on my bed.", f"{name}! It just suited her."),
        ]
        evidence = [2, 0]
    else:
        turns = [
            say(rng, a, f"We got {an(pet)} from the shelter {when}.", f"A {pet} joined the family {when}."),
            say(rng, a, f"We called it {name}, after my grandmother's first pet.", f"The kids named it {name}."),
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
    hobby = pick(rng, HOBBIES)
    turns = [
        say(rng, b, "What do you do to relax these days?", "How do you unwind after work?"),
        say(rng, a, f"Mostly {hobby}. It clears my head.", f"{cap(hobby)}, every chance I get."),
    ]
    questions = [f"What does {a} do to relax?", f"What hobby helps {a} unwind?", f"What is {a}'s hobby?"]
    return Episode(turns, questions, hobby, [1, 0], "attribute/hobby")


def answer_in_reply(rng, a, b):
    job = pick(rng, JOBS)
    turns = [
        say(rng, b, "I never asked, what do you do for a living?", "So what's your job, actually?"),
        say(rng, a, f"I'm {an(job)}, for six years now.", f"{cap(an(job))}. Long hours, but I love it."),
    ]
    questions = [f"What is {a}'s profession?", f"What does {a} do for a living?", f"What is {a}'s job?"]
    return Episode(turns, questions, job, [1, 0], "attribute/job_reply")


def food_preference(rng, a, b):
    food = pick(rng, FOODS)
    questions = [
        f"What is {a}'s favourite food?",
        f"What food does {a} love most?",
        f"Which dish would {a} eat forever?",
    ]
    if rng.random() < 0.5:
        told = say(
            rng,
            a,
            f"If I could eat one thing forever it would be {food}.",
            f"Nothing beats {food}, honestly.",
            f"I'd cross town for good {food}.",
        )
        return Episode([told], questions, food, [0], "preference/food")
    turns = [
        say(rng, b, "What's your ultimate comfort food?", "Okay, last meal on earth: what is it?"),
        say(rng, a, f"{cap(food)}, no contest.", f"Easy. {cap(food)}.", f"Probably {food}, extra spicy."),
    ]
    return Episode(turns, questions, food, [1, 0], "preference/food_reply")


def hedged_taste(rng, a, b):
    kind = pick(rng, TASTES)
    liked, disliked = pick(rng, TASTES[kind], 2)
    turns = [
        say(
            rng,
            a,
            f"I guess {disliked} is fine, but it's not really my thing.",
            f"I've tried to get into {disliked}, I really have. Nope.",
            f"{cap(disliked)}? Eh, I can take it or leave it.",
        ),
        say(
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


# --- negation: the turn that says what the speaker does not (or no longer) do


def negation(rng, a, b):
    liked, disliked = pick(rng, FOODS, 2)
    turns = [
        say(rng, a, f"I can't stand {disliked}, never again.", f"{cap(disliked)} makes me gag, sorry."),
        say(rng, a, f"But {liked} I could eat every day.", f"Give me {liked} any day though."),
    ]
    questions = [
        f"What food does {a} dislike?",
        f"Which dish will {a} never eat again?",
        f"What can't {a} stand eating?",
    ]
    return Episode(turns, questions, disliked, [0], "negation/food", spread=True)


def no_longer(rng, a, b):
    habit, kept = pick(rng, HABITS, 2)
    turns = [
        say(
            rng,
            a,
            f"I don't {habit} anymore, haven't for months.",
            f"Believe it or not, I no longer {habit}.",
            f"I gave it up: I don't {habit} these days.",
        ),
        say(rng, a, f"I still {kept} though, let's not go crazy.", f"But I do still {kept}, every day."),
    ]
    questions = [f"What has {a} stopped doing?", f"What does {a} no longer do?", f"Which habit did {a} give up?"]
    return Episode(turns, questions, habit, [0], "negation/no_longer", spread=True)
