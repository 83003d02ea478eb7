"""MSC persona facts: questions about what a speaker told of themselves, asked along a long stream of episodes.

MSC lists, for each speaker, summary sentences of what the earlier sessions revealed ("I have two jobs.").
Turned into the third person with the speaker's name ("Ruth has two jobs."), a sentence becomes a question whose
evidence is the turn where that speaker said it: the one turn of theirs that repeats at least half of the
sentence's content words (at least two), strictly more than any other turn of theirs. Unlike the inverse cloze,
the question is not the turn's own words, and it names who said it, so the other speaker's turn about the same
thing ("Do you have kids?" before "My son is in junior high.") is a wrong answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..datasets.records import Question, Stream
from ..errors import InvalidInputError
from .msc import ChatTurn, MscEpisode, msc_group, named_turns
from .synth import draw
from .turns import STOPWORDS, StreamText, default_splitter
from .vocab import NAMES

TEMPLATE = "msc/persona_fact"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
TOKEN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|[^\sA-Za-z]+")
FACT_WORD = re.compile(r"[a-z0-9]{3,}")
SHORT_STOPWORD_TEXT = (
    "the and are was has had but not for all can her his him she our out who why how its too any one two get got "
    "did yes lot day lol now way see"
)
SHORT_STOPWORDS = frozenset(SHORT_STOPWORD_TEXT.split())
STEM_LENGTH = 5  # "volunteering" and "volunteer" share "volun"
# verbs that take no -s after "I" -> a name: modals and past forms
UNCHANGED_TEXT = (
    "can could will would should might must may shall used was had did got went grew made took came became began "
    "felt left lost met moved ran saw sold spent told thought bought brought found gave kept knew taught wrote "
    "won can't couldn't won't wouldn't shouldn't wasn't didn't"
)
UNCHANGED = frozenset(UNCHANGED_TEXT.split())
ADVERB_TEXT = "also really just still usually often never always recently currently sometimes only even"
ADVERBS = frozenset(ADVERB_TEXT.split())
IRREGULAR = {"am": "is", "'m": "is", "have": "has", "'ve": "has", "do": "does", "don't": "doesn't", "haven't": "hasn't"}
IRREGULAR |= {"'d": "would", "'ll": "will", "go": "goes"}
# later first-person words, once the name is said
LATER = {"i": "they", "my": "their", "me": "them", "mine": "theirs", "myself": "themselves"}
LATER_VERBS = {"am": "are", "'m": "'re", "was": "were", "'ve": "'ve", "'d": "'d", "'ll": "'ll"}
SECOND_PERSON = frozenset({"you", "your", "you're", "yours", "yourself", "we", "our", "we're", "us"})


def third_person(sentence: str, name: str) -> str | None:
    """``sentence`` (first person) about ``name``: the first I/my/me becomes the name, later ones they/their/them,
    and a verb after the name agrees with it. None when the sentence is not about the speaker alone (no
    first-person word, or a you/we in it)."""
    words = TOKEN.findall(" ".join(sentence.split()))
    lower = [w.lower() for w in words]
    if SECOND_PERSON & set(lower) or not set(LATER) & {w.split("'")[0] for w in lower}:
        return None
    out: list[str] = []
    named = False
    i = 0
    while i < len(words):
        base, _, clitic = lower[i].partition("'")
        clitic = f"'{clitic}" if clitic else ""
        if base not in LATER or (base != "i" and clitic):
            out.append(words[i])
            i += 1
            continue
        if named:
            out.append(LATER[base] + LATER_VERBS.get(clitic, clitic))
            if base == "i" and not clitic and i + 1 < len(words):
                out.append(LATER_VERBS.get(lower[i + 1], words[i + 1]))
                i += 1
        elif base == "i":
            out.append(name)
            following = words[i + 1 :]
            if clitic:
                out.append(IRREGULAR.get(clitic, clitic))
            elif following:
                adverbs = 0
                while adverbs < len(following) - 1 and following[adverbs].lower() in ADVERBS:
                    adverbs += 1
                out += following[:adverbs] + [_agree(following[adverbs])]
                i += adverbs + 1
        else:
            out.append(f"{name}'s" if base == "my" else name)
        named = True
        i += 1
    text = " ".join(out)
    text = re.sub(r" ([.,!?;:])", r"\1", text)
    return text[0].upper() + text[1:]


def _agree(verb: str) -> str:
    """A present-tense verb after a singular name (like -> likes); other words unchanged."""
    lower = verb.lower()
    if lower in IRREGULAR:
        return IRREGULAR[lower]
    if lower in UNCHANGED or lower.endswith("ed") or not lower.isalpha() or lower in ADVERBS:
        return verb
    if lower.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def fact_stems(text: str) -> set[str]:
    """Content words of three or more letters, cut to their first five letters."""
    words = FACT_WORD.findall(text.lower())
    return {w[:STEM_LENGTH] for w in words if w not in STOPWORDS and w not in SHORT_STOPWORDS}


def fact_sentences(personas: list[str]) -> list[str]:
    """A speaker's persona summary as single sentences, each once."""
    sentences = [s.strip() for entry in personas for s in SENTENCE_END.split(entry) if s.strip()]
    return list(dict.fromkeys(sentences))


def evidence_turn(
    sentence: str, turns: list[ChatTurn], speaker: str, turn_stems: list[set[str]] | None = None
) -> int | None:
    """The index (in ``turns``) of the one turn of ``speaker`` that states ``sentence``, or None when no turn
    repeats half of its content words (two at least) or two turns repeat as many. ``turn_stems``: the turns'
    ``fact_stems``, when a caller asks for several sentences over the same turns."""
    stems = fact_stems(sentence)
    if len(stems) < 2:
        return None
    turn_stems = turn_stems or [fact_stems(turn.text) for turn in turns]
    shared = sorted((len(stems & turn_stems[i]), i) for i, t in enumerate(turns) if t.speaker == speaker)
    if not shared:
        return None
    best, index = shared[-1]
    runner_up = shared[-2][0] if len(shared) > 1 else 0
    return index if best >= max(2, len(stems) / 2) and best > runner_up else None


@dataclass(frozen=True)
class Fact:
    turn: int  # index of the evidence turn in the stream's turns
    query: str


def episode_facts(episode: MscEpisode, turns: list[ChatTurn], names: tuple[str, str]) -> list[Fact]:
    """The facts of both speakers of one episode whose evidence turn is among ``turns``."""
    facts = []
    turn_stems = [fact_stems(turn.text) for turn in turns]
    for name, personas in zip(names, episode.personas, strict=True):
        for sentence in fact_sentences(personas):
            query = third_person(sentence, name)
            turn = evidence_turn(sentence, turns, name, turn_stems) if query else None
            if query and turn is not None:
                facts.append(Fact(turn, query))
    return facts


def fact_stream(
    rng: random.Random,
    episodes: list[MscEpisode],
    min_segments: int = 100,
    max_segments: int = 600,
    max_questions: int = 8,
    max_delay: int = 40,
) -> Stream | None:
    """Several episodes (distinct persona pairs, every speaker a name of their own) read one after another, with
    3..``max_questions`` persona facts asked ``0..max_delay`` segments after their evidence turn; the stream
    ends at its last question."""
    target = rng.randint(min_segments, max_segments)
    names = rng.sample(NAMES, len(NAMES))
    turns: list[ChatTurn] = []
    facts: list[Fact] = []
    groups: list[str] = []
    for episode in rng.sample(episodes, len(episodes)):
        if len(turns) >= target or len(names) < 2:
            break
        group = msc_group(episode.dialogue)
        if group in groups:
            continue
        pair = (names.pop(), names.pop())
        episode_turns = named_turns(episode.dialogue, len(groups), pair)
        facts += [Fact(f.turn + len(turns), f.query) for f in episode_facts(episode, episode_turns, pair)]
        turns += episode_turns
        groups.append(group)
    turns = turns[:target]
    facts = [f for f in facts if f.turn < len(turns)]
    if not facts:
        return None
    chosen = rng.sample(facts, min(len(facts), rng.randint(3, max_questions)))
    text = StreamText(default_splitter())
    parts = [text.add(turn.speaker, turn.text) for turn in turns]
    segments = text.segments
    questions = []
    for fact in sorted(chosen, key=lambda f: f.turn):
        evidence = parts[fact.turn]
        at = min(len(segments), evidence[-1] + 1 + rng.randint(0, max_delay))
        questions.append(Question(fact.query, segments[evidence[0]], evidence, at, TEMPLATE))
    questions.sort(key=lambda question: question.at)
    end = max(question.at for question in questions)
    read = [i for i, held_in in enumerate(parts) if held_in[0] < end]
    groups = groups[: turns[read[-1]].episode + 1]  # the episodes read before the last question
    return Stream(segments[:end], questions, "msc", ";".join(groups)).check("msc persona-fact stream")


def fact_streams(episodes: list[MscEpisode], count: int, seed: int, show_progress: bool = False) -> list[Stream]:
    """``count`` streams of MSC episodes (100-600 segments) with persona-fact questions along each."""
    if not episodes:
        raise InvalidInputError("no MSC episodes to build persona-fact streams from (pass --msc-dir)")
    rng = random.Random(seed)
    return draw(lambda: fact_stream(rng, episodes), count, "MSC persona facts", show_progress)
