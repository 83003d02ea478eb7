"""Multi-Session Chat (MSC): real dialogue turns for filler, and inverse-cloze samples over whole dialogues
(one question at the end of an episode's last turns, or several along a long stream of several episodes)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..datasets.records import Question, Stream
from ..errors import InvalidInputError
from .documents import shares_content
from .synth import Sample, draw
from .turns import StreamText, default_splitter
from .vocab import NAMES

MSC_SPLITS = ("session_2/valid.txt", "session_2/test.txt", "session_3/valid.txt", "session_3/test.txt")

Dialogue = list[list[tuple[int, str]]]  # sessions of (speaker 0|1, text)


@dataclass(frozen=True)
class MscEpisode:
    """One line of an MSC file: its sessions in order, and each speaker's persona summary of the earlier ones."""

    dialogue: Dialogue
    personas: tuple[list[str], list[str]]  # Speaker 1's and Speaker 2's summary sentences


def load_msc_episodes(msc_dir: Path | None) -> list[MscEpisode]:
    """Every episode of the MSC copy (earlier sessions first); [] without a copy."""
    if msc_dir is None or not msc_dir.is_dir():
        return []
    episodes = []
    for split in MSC_SPLITS:
        path = msc_dir / split
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                episode = json.loads(line)
                sessions = [d.get("dialog", []) for d in episode.get("previous_dialogs", [])]
                sessions.append(episode.get("dialog", []))
                personas = [[str(s) for s in p] for p in episode.get("personas", [])] + [[], []]
                episodes.append(MscEpisode([_session(turns) for turns in sessions], (personas[0], personas[1])))
    return episodes


def load_msc_dialogues(msc_dir: Path | None) -> list[Dialogue]:
    """Every episode of the MSC copy as its sessions in order (earlier sessions first); [] without a copy."""
    return [episode.dialogue for episode in load_msc_episodes(msc_dir)]


def _session(turns: list[dict]) -> list[tuple[int, str]]:
    """(speaker, text) pairs; turns without a speaker id alternate, starting with Speaker 1."""
    pairs = []
    for position, turn in enumerate(turns):
        text = " ".join(str(turn.get("text", "")).split())
        if text:
            speaker = turn.get("id", "Speaker 2" if position % 2 else "Speaker 1")
            pairs.append((0 if speaker == "Speaker 1" else 1, text))
    return pairs


def msc_group(dialogue: Dialogue) -> str:
    """The persona pair's id: its first session, which the session-2 and session-3 files share."""
    first = " ".join(text for _, text in dialogue[0]) if dialogue else ""
    return "msc:" + hashlib.sha256(first.encode("utf-8")).hexdigest()[:12]


def msc_filler(dialogues: list[Dialogue]) -> list[str]:
    """Short real turns (3-30 words) to use as chatter between synthetic episodes."""
    return [text for d in dialogues for session in d for _, text in session if 3 <= len(text.split()) <= 30]


def dialogue_sample(rng: random.Random, dialogue: Dialogue, max_segments: int = 48) -> Sample | None:
    """Take one turn out of a real dialogue; the query is that turn, the evidence its two neighbours.

    The stream is the dialogue's last ``max_segments`` turns with speaker names; a turn is a candidate when it
    has 8-40 words and a neighbour on each side in the same session that repeats one of its content words.
    """
    turns = named_turns(dialogue, 0, rng.sample(NAMES, 2))[-max_segments:]
    candidates = _cloze_candidates(turns)
    rng.shuffle(candidates)
    for taken in candidates[:5]:
        segments = [turn.segment for i, turn in enumerate(turns) if i != taken]
        evidence = [taken - 1, taken]  # the turns just before and just after the removed one
        query = turns[taken].text
        if shares_content(query, [segments[i] for i in evidence]):
            template = "msc/inverse_cloze"
            return Sample(segments, query, segments[taken], evidence, template, "msc", msc_group(dialogue))
    return None


@dataclass(frozen=True)
class ChatTurn:
    episode: int  # which of the stream's episodes
    session: int
    speaker: str
    text: str

    @property
    def segment(self) -> str:
        return f"{self.speaker}: {self.text}"


def named_turns(dialogue: Dialogue, episode: int, names: Sequence[str]) -> list[ChatTurn]:
    """The dialogue's turns as ``episode`` of a stream, Speaker 1 and 2 called ``names[0]`` and ``names[1]``."""
    return [
        ChatTurn(episode, s, names[speaker], text) for s, session in enumerate(dialogue) for speaker, text in session
    ]


def _cloze_candidates(turns: list[ChatTurn]) -> list[int]:
    """Turns of 8-40 words with a neighbour on each side in the same session."""

    def place(turn: ChatTurn) -> tuple[int, int]:
        return turn.episode, turn.session

    return [
        i
        for i in range(1, len(turns) - 1)
        if place(turns[i - 1]) == place(turns[i]) == place(turns[i + 1]) and 8 <= len(turns[i].text.split()) <= 40
    ]


def long_stream(
    rng: random.Random,
    dialogues: list[Dialogue],
    min_segments: int = 100,
    max_segments: int = 600,
    max_questions: int = 8,
    max_delay: int = 40,
) -> Stream | None:
    """Several episodes (distinct persona pairs) read one after another, with 3..``max_questions`` of their
    turns taken out and asked ``0..max_delay`` segments after their place, their neighbours as evidence.
    Long turns are cut under the segment limit; the stream ends at its last question."""
    target = rng.randint(min_segments, max_segments)
    turns: list[ChatTurn] = []
    groups: list[str] = []
    for dialogue in rng.sample(dialogues, len(dialogues)):
        if len(turns) >= target:
            break
        group = msc_group(dialogue)
        if group not in groups:
            turns += named_turns(dialogue, len(groups), rng.sample(NAMES, 2))
            groups.append(group)
    turns = turns[:target]
    taken: list[int] = []
    wanted = rng.randint(3, max_questions)
    candidates = _cloze_candidates(turns)
    for candidate in rng.sample(candidates, len(candidates)):
        if len(taken) == wanted:
            break
        if all(abs(candidate - other) > 2 for other in taken):
            taken.append(candidate)
    text = StreamText(default_splitter())
    parts = {i: text.add(turn.speaker, turn.text) for i, turn in enumerate(turns) if i not in taken}
    segments = text.segments
    questions = []
    for turn in sorted(taken):
        query = turns[turn].text
        evidence = [parts[turn - 1][-1], parts[turn + 1][0]]  # the segments just before and after its place
        held = [segments[i] for i in evidence]
        if shares_content(query, held) and not any(query in segment for segment in segments):
            at = min(len(segments), evidence[1] + 1 + rng.randint(0, max_delay))
            questions.append(Question(query, held[0], evidence, at, "msc/long_inverse_cloze"))
    if not questions:
        return None
    end = max(question.at for question in questions)
    last_read = max(i for i, held_in in parts.items() if held_in[0] < end)
    groups = groups[: turns[last_read].episode + 1]  # the episodes read before the last question
    return Stream(segments[:end], questions, "msc", ";".join(groups)).check("msc long stream")


def dialogue_samples(dialogues: list[Dialogue], count: int, seed: int) -> list[Sample]:
    """``count`` inverse-cloze samples over real MSC dialogues."""
    if not dialogues:
        raise InvalidInputError("no MSC dialogues to build samples from (pass --msc-dir)")
    rng = random.Random(seed)
    return draw(lambda: dialogue_sample(rng, rng.choice(dialogues)), count, "MSC inverse-cloze")


def long_streams(dialogues: list[Dialogue], count: int, seed: int, show_progress: bool = False) -> list[Stream]:
    """``count`` long MSC streams (100-600 segments, several questions along each)."""
    if not dialogues:
        raise InvalidInputError("no MSC dialogues to build long streams from (pass --msc-dir)")
    rng = random.Random(seed)
    return draw(lambda: long_stream(rng, dialogues), count, "MSC long streams", show_progress)
