"""Schema-Guided Dialogue: knowledge updates ("...in Castro Valley instead") across a chain of dialogues.

An update is a USER turn that gives a slot a value (a slot span in the turn) disjoint from the value it
already had in the dialogue state; only a slot's last change counts. It is the evidence for a question about
the slot (worded from the schema's slot description), and the turn that set the old value is the hard
negative. A record chains ``3..max_dialogues`` dialogues, one per domain so no question is ambiguous, around
a least-used update; each question is asked at the end of the dialogue ``1..3`` dialogues later (or of the
chain). A dialogue's family is its set of domains (``Restaurants_1`` and ``Restaurants_2`` are one domain);
families are split whole, and the record's group lists the families of its dialogues (``;``-separated).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ..datasets.records import Question, Stream
from ..datasets.split import in_split
from ..errors import InvalidInputError
from .episode import Turn
from .sampling import LeastUsed
from .sourcefiles import read_json, require_dir
from .synth import draw
from .turns import StreamText, TurnSplitter, default_splitter

SPEAKERS = {"USER": "User", "SYSTEM": "Assistant"}
PHRASINGS = (
    "What is the latest {slot} the user gave?",
    "The user changed the {slot}: what is it now?",
    "Which {slot} did the user finally settle on?",
    "After changing their mind, what {slot} did the user want?",
    "What {slot} does the user want in the end?",
)


@dataclass(frozen=True)
class Update:
    slot: str  # the slot's description, lower-cased first letter
    old: str
    new: str
    old_turn: int
    new_turn: int


@dataclass
class HeldValue:
    """A slot's value in the dialogue state: its spellings, the turn that set it, and what that turn said."""

    values: set[str]
    turn: int
    said: str


@dataclass(frozen=True)
class Dialogue:
    id: str
    turns: tuple[Turn, ...]
    updates: tuple[Update, ...]
    domains: frozenset[str]

    @property
    def family(self) -> str:
        return "sgd:" + "+".join(sorted(self.domains))


def load_dialogues(directory: Path) -> list[Dialogue]:
    """Every dialogue of the split folders (``dev``, ``test``, ...) under ``directory`` with its updates."""
    folders = sorted(p.parent for p in require_dir(directory, "SGD").glob("*/schema.json"))
    if not folders:
        raise FileNotFoundError(f"no SGD split folder (*/schema.json with dialogues_*.json) in {directory}")
    dialogues: list[Dialogue] = []
    for folder in folders:
        descriptions = _slot_descriptions(folder / "schema.json")
        for path in sorted(folder.glob("dialogues_*.json")):
            entries = read_json(path)
            try:
                dialogues.extend(_dialogue(entry, descriptions) for entry in entries)
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidInputError(f"{path}: not in the SGD shape ({error!r})") from None
    return dialogues


def _slot_descriptions(path: Path) -> dict[tuple[str, str], str]:
    schema = read_json(path)
    try:
        return {
            (service["service_name"], slot["name"]): slot["description"]
            for service in schema
            for slot in service["slots"]
        }
    except (KeyError, TypeError) as error:
        raise InvalidInputError(f"{path}: not an SGD schema ({error!r})") from None


def _domain(service: str) -> str:
    return service.rsplit("_", 1)[0]


def _dialogue(entry: dict, descriptions: dict[tuple[str, str], str]) -> Dialogue:
    turns = tuple(Turn(SPEAKERS[t["speaker"]], " ".join(t["utterance"].split())) for t in entry["turns"])
    return Dialogue(
        entry["dialogue_id"], turns, _updates(entry["turns"], descriptions), frozenset(map(_domain, entry["services"]))
    )


def _updates(turns: list[dict], descriptions: dict[tuple[str, str], str]) -> tuple[Update, ...]:
    """The last change of each slot the user changed, with the turns that set the old and the new value."""
    held: dict[tuple[str, str], HeldValue] = {}  # (service, slot) -> its current value
    changes: dict[tuple[str, str], Update] = {}
    for index, turn in enumerate(turns):
        if turn["speaker"] != "USER":
            continue
        for frame in turn["frames"]:
            said = {s["slot"]: turn["utterance"][s["start"] : s["exclusive_end"]] for s in frame["slots"]}
            for slot, values in frame["state"]["slot_values"].items():
                key = (frame["service"], slot)
                if key in held and held[key].values & set(values):  # the same value, perhaps in other words
                    held[key].values.update(values)
                    continue
                if key in held and slot in said and key in descriptions:
                    old = held[key]
                    changes[key] = Update(_slot_name(descriptions[key]), old.said, said[slot], old.turn, index)
                held[key] = HeldValue(set(values), index, said.get(slot, values[0] if values else ""))
    return tuple(changes.values())


def _slot_name(description: str) -> str:
    """'The date to return the car' -> 'date to return the car', to follow "the latest" or "which"."""
    words = description.split()
    if words and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    return " ".join(words)[:1].lower() + " ".join(words)[1:]


def verified(update: Update, turns: tuple[Turn, ...], query: str) -> bool:
    """The new value is in the evidence turn, the old one in the hard negative, and neither is in the query
    (or in the other turn, where it would blur which turn holds the answer)."""
    new, old = update.new.lower(), update.old.lower()
    said_new, said_old = turns[update.new_turn].text.lower(), turns[update.old_turn].text.lower()
    return bool(
        new
        and old
        and new != old
        and new in said_new
        and old in said_old
        and new not in said_old
        and new not in query.lower()
    )


def _holding(value: str, parts: list[int], segments: list[str]) -> list[int]:
    return [i for i in parts if value.lower() in segments[i].lower()]


def chain_stream(
    rng: random.Random,
    anchor: Dialogue,
    pool: list[Dialogue],
    usage: LeastUsed,
    splitter: TurnSplitter,
    max_dialogues: int = 8,
    max_questions: int = 8,
) -> Stream | None:
    """``anchor`` and other dialogues of ``pool`` (no two sharing a domain), with their verified updates."""
    chain, domains = [anchor], set(anchor.domains)
    wanted = rng.randint(3, max_dialogues)
    for dialogue in rng.sample(pool, min(len(pool), 20 * max_dialogues)):
        if len(chain) == wanted:
            break
        if domains.isdisjoint(dialogue.domains):
            chain.append(dialogue)
            domains |= dialogue.domains
    rng.shuffle(chain)
    text = StreamText(splitter)
    turn_parts, ends = [], []
    for dialogue in chain:
        turn_parts.append([text.add(turn.speaker, turn.text) for turn in dialogue.turns])
        ends.append(len(text.segments))
    candidates: dict[tuple[str, str], Question] = {}
    for position, dialogue in enumerate(chain):
        asked_after = min(len(chain) - 1, position + rng.randint(1, 3))
        for update in dialogue.updates:
            query = rng.choice(PHRASINGS).format(slot=update.slot)
            parts = turn_parts[position]
            evidence = _holding(update.new, parts[update.new_turn], text.segments)
            negatives = _holding(update.old, parts[update.old_turn], text.segments)
            if verified(update, dialogue.turns, query) and evidence and negatives:
                at = ends[asked_after]
                candidates[(dialogue.id, update.slot)] = Question(
                    query, update.new, evidence, at, "sgd/slot_update", negatives
                )
    if not candidates:
        return None
    questions = sorted((candidates[key] for key in usage.take(list(candidates), max_questions)), key=lambda q: q.at)
    group = ";".join(dialogue.family for dialogue in chain)
    return Stream(text.segments[: questions[-1].at], questions, "sgd", group).check(f"sgd {anchor.id}")


def sgd_streams(
    directory: Path, count: int, seed: int, split: str = "all", show_progress: bool = False
) -> list[Stream]:
    """``count`` SGD records from the dialogue families of ``split``."""
    pool = [d for d in load_dialogues(directory) if in_split(d.family, split)]
    by_id = {d.id: d for d in pool}
    keys = [(d.id, update.slot) for d in pool for update in d.updates]
    if not keys:
        raise InvalidInputError(f"no SGD dialogue with a slot update in {directory} belongs to the {split} split")
    rng = random.Random(seed)
    usage = LeastUsed(rng)
    splitter = default_splitter()

    def make() -> Stream | None:
        anchor = by_id[usage.order(keys)[0][0]]
        return chain_stream(rng, anchor, pool, usage, splitter)

    return draw(make, count, "SGD", show_progress)
