"""Multi-Session Chat (MSC): real dialogue turns for filler, and inverse-cloze samples over whole dialogues."""

from __future__ import annotations

import json
import random
from pathlib import Path

from .documents import shares_content
from .synth import Sample, draw
from .vocab import NAMES

MSC_SPLITS = ("session_2/valid.txt", "session_2/test.txt", "session_3/valid.txt", "session_3/test.txt")

Dialogue = list[list[tuple[int, str]]]  # sessions of (speaker 0|1, text)


def load_msc_dialogues(msc_dir: Path | None) -> list[Dialogue]:
    """Every episode of the MSC copy as its sessions in order (earlier sessions first); [] without a copy."""
    if msc_dir is None or not msc_dir.is_dir():
        return []
    dialogues = []
    for split in MSC_SPLITS:
        path = msc_dir / split
        if not path.exists():
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                episode = json.loads(line)
                sessions = [d.get("dialog", []) for d in episode.get("previous_dialogs", [])]
                sessions.append(episode.get("dialog", []))
                dialogues.append([_session(turns) for turns in sessions])
    return dialogues


def _session(turns: list[dict]) -> list[tuple[int, str]]:
    """(speaker, text) pairs; turns without a speaker id alternate, starting with Speaker 1."""
    pairs = []
    for position, turn in enumerate(turns):
        text = " ".join(str(turn.get("text", "")).split())
        if text:
            speaker = turn.get("id", "Speaker 2" if position % 2 else "Speaker 1")
            pairs.append((0 if speaker == "Speaker 1" else 1, text))
    return pairs


def msc_filler(dialogues: list[Dialogue]) -> list[str]:
    """Short real turns (3-30 words) to use as chatter between synthetic episodes."""
    return [text for d in dialogues for session in d for _, text in session if 3 <= len(text.split()) <= 30]


def dialogue_sample(rng: random.Random, dialogue: Dialogue, max_segments: int = 48) -> Sample | None:
    """Take one turn out of a real dialogue; the query is that turn, the evidence its two neighbours.

    The stream is the dialogue's last ``max_segments`` turns with speaker names; a turn is a candidate when it
    has 8-40 words and a neighbour on each side in the same session that repeats one of its content words.
    """
    a, b = rng.sample(NAMES, 2)
    turns = [(s, (a, b)[speaker], text) for s, session in enumerate(dialogue) for speaker, text in session]
    turns = turns[-max_segments:]
    candidates = [
        i
        for i in range(1, len(turns) - 1)
        if turns[i - 1][0] == turns[i][0] == turns[i + 1][0] and 8 <= len(turns[i][2].split()) <= 40
    ]
    rng.shuffle(candidates)
    for taken in candidates[:5]:
        segments = [f"{name}: {text}" for i, (_, name, text) in enumerate(turns) if i != taken]
        evidence = [taken - 1, taken]  # the turns just before and just after the removed one
        if shares_content(turns[taken][2], [segments[i] for i in evidence]):
            return Sample(segments, turns[taken][2], segments[taken], evidence, "msc/inverse_cloze", "msc")
    return None


def dialogue_samples(dialogues: list[Dialogue], count: int, seed: int) -> list[Sample]:
    """``count`` inverse-cloze samples over real MSC dialogues."""
    if not dialogues:
        raise ValueError("no MSC dialogues to build samples from (pass --msc-dir)")
    rng = random.Random(seed)
    return draw(lambda: dialogue_sample(rng, rng.choice(dialogues)), count, "MSC inverse-cloze")
