"""Episodes of the synthetic dialogues (``Turn``, ``Episode``) and the helpers the families share to pick
vocabulary and phrase turns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .vocab import FEMININE_RELATIVES, MASCULINE_RELATIVES, NAMES


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


def pick(rng: random.Random, items, k: int = 1):
    """One item, or ``k`` distinct items (a list) when ``k`` > 1."""
    return rng.sample(list(items), k) if k > 1 else rng.choice(list(items))


def an(noun: str) -> str:
    """The noun with its indefinite article: "an apple", "a pear"."""
    return f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"


def cap(text: str) -> str:
    """The text with its first letter upper-cased, the rest untouched."""
    return text[:1].upper() + text[1:]


def bystander(rng: random.Random, a: str, b: str, k: int = 1):
    """Name(s) of people talked about: never a speaker, nor a part of a speaker's name (Lena in Elena)."""
    speakers = f"{a} {b}".lower()
    return pick(rng, [name for name in NAMES if name.lower() not in speakers], k)


def pronouns(rng: random.Random, relative: str) -> tuple[str, str]:
    """Subject and object pronoun for a relative ("sister": she, her); a random pair when it has no gender."""
    if relative in FEMININE_RELATIVES:
        return "she", "her"
    if relative in MASCULINE_RELATIVES:
        return "he", "him"
    return rng.choice((("she", "her"), ("he", "him")))


def say(rng: random.Random, speaker: str, *options: str) -> Turn:
    """A turn by ``speaker`` saying one of the ``options``."""
    return Turn(speaker, rng.choice(options))


def either(rng: random.Random, a: str, b: str) -> str:
    """The two names joined by "or", in random order, for questions that name both speakers."""
    first, second = rng.sample((a, b), 2)
    return f"{first} or {second}"
