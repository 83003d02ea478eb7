"""FriendsQA: the scenes of a Friends episode read as one stream, each question asked at the end of its scene.

A record is a run of consecutive scenes of one episode (``sSS_eEE``, the group) with up to ``max_questions``
of their questions, least-used first. Evidence is the turns the answers point at (``utterance_id``): the
parts of the turn that hold the answer text, or the whole turn when the answer is its speaker
(``is_speaker``). Stage directions (``#NOTE#``) stay in the stream as ``Note:`` turns, since about a quarter
of the answers are in them. A ``_Paraphrased`` question is a unit with its original: one of the two is asked.
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
from .turns import StreamText, TurnSplitter, default_splitter, detokenize

FILES = ("friendsqa_dev.json", "friendsqa_tst.json")
PARAPHRASED = "_Paraphrased"


@dataclass(frozen=True)
class Answer:
    text: str
    turn: int  # the utterance's uid within its scene
    is_speaker: bool

    @property
    def clean(self) -> str:
        """The text without the final full stop the annotators often took in."""
        return self.text.rstrip(" .")


@dataclass(frozen=True)
class SceneQuestion:
    id: str
    query: str
    answers: tuple[Answer, ...]

    @property
    def unit(self) -> str:
        """The id shared by a question and its paraphrase."""
        return self.id.removesuffix(PARAPHRASED)

    @property
    def kind(self) -> str:
        """``what``, ``who``, ``when``, ``where``, ``why`` or ``how`` (the id's last part)."""
        return self.unit.rsplit("_", 1)[-1].lower()


@dataclass(frozen=True)
class Scene:
    title: str  # sSS_eEE_cCC
    turns: tuple[Turn, ...]
    questions: tuple[SceneQuestion, ...]

    @property
    def episode(self) -> str:
        return self.title.rsplit("_", 1)[0]


def load_episodes(directory: Path) -> dict[str, list[Scene]]:
    """Scenes of each episode in order, from the FriendsQA files under ``directory``."""
    require_dir(directory, "FriendsQA")
    paths = [directory / name for name in FILES if (directory / name).is_file()]
    if not paths:
        raise FileNotFoundError(f"no FriendsQA file ({', '.join(FILES)}) in {directory}")
    episodes: dict[str, list[Scene]] = {}
    for path in paths:
        for scene in _scenes(path):
            episodes.setdefault(scene.episode, []).append(scene)
    for scenes in episodes.values():
        scenes.sort(key=lambda scene: int(scene.title.rsplit("_c", 1)[-1]))
    return episodes


def _scenes(path: Path) -> list[Scene]:
    data = read_json(path)
    try:
        return [_scene(entry) for entry in data["data"]]
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise InvalidInputError(f"{path}: not in the FriendsQA shape ({error!r})") from None


def _scene(entry: dict) -> Scene:
    paragraph = entry["paragraphs"][0]
    turns = tuple(Turn(_speaker(u["speakers"]), detokenize(u["utterance"])) for u in paragraph["utterances:"])
    questions = tuple(
        SceneQuestion(
            q["id"],
            detokenize(q["question"]),
            tuple(
                Answer(detokenize(a["answer_text"]), int(a["utterance_id"]), bool(a["is_speaker"]))
                for a in q["answers"]
            ),
        )
        for q in paragraph["qas"]
    )
    return Scene(entry["title"], turns, questions)


def _speaker(speakers: list[str]) -> str:
    if "#NOTE#" in speakers:
        return "Note"
    return " and ".join(speakers) or "Someone"


def _answer_evidence(answer: Answer, scene: Scene, parts: list[list[int]], segments: list[str]) -> list[int]:
    """The segments of the answer's turn that hold it; [] when the answer is not there."""
    text = answer.clean.lower()
    if not text or not 0 <= answer.turn < len(parts):
        return []
    if answer.is_speaker:
        names = scene.turns[answer.turn].speaker.lower()
        return parts[answer.turn] if text in names or names.split()[0] in text else []
    return [i for i in parts[answer.turn] if text in segments[i].lower()]


def scene_question(
    question: SceneQuestion, scene: Scene, parts: list[list[int]], segments: list[str], at: int
) -> Question | None:
    """The question with the verified answers' segments as evidence; None when no answer is verified.

    An answer is verified when its text occurs in its turn (or is that turn's speaker) and not in the question.
    """
    evidence: set[int] = set()
    kept: list[Answer] = []
    for answer in question.answers:
        held = _answer_evidence(answer, scene, parts, segments)
        if held and answer.clean.lower() not in question.query.lower():
            evidence.update(held)
            kept.append(answer)
    if not kept:
        return None
    template = "friendsqa/speaker" if kept[0].is_speaker else f"friendsqa/{question.kind}"
    return Question(question.query, kept[0].clean, sorted(evidence), at, template)


def episode_stream(
    rng: random.Random,
    name: str,
    scenes: list[Scene],
    usage: LeastUsed,
    splitter: TurnSplitter,
    max_questions: int = 8,
) -> Stream | None:
    """A run of consecutive scenes of one episode with up to ``max_questions`` verified questions."""
    first = rng.randrange(len(scenes))
    run = scenes[first : rng.randint(first + 1, len(scenes))]
    text = StreamText(splitter)
    candidates: dict[str, list[Question]] = {}
    for scene in run:
        parts = [text.add(turn.speaker, turn.text) for turn in scene.turns]
        for question in scene.questions:
            verified = scene_question(question, scene, parts, text.segments, len(text.segments))
            if verified is not None:
                candidates.setdefault(question.unit, []).append(verified)
    if not candidates:
        return None
    questions = [rng.choice(candidates[unit]) for unit in usage.take(sorted(candidates), max_questions)]
    questions.sort(key=lambda question: question.at)
    end = questions[-1].at
    return Stream(text.segments[:end], questions, "friendsqa", f"friendsqa:{name}").check(f"friendsqa {name}")


def friendsqa_streams(
    directory: Path, count: int, seed: int, split: str = "all", show_progress: bool = False
) -> list[Stream]:
    """``count`` FriendsQA records from the episodes of ``split``."""
    episodes = {
        name: scenes for name, scenes in load_episodes(directory).items() if in_split(f"friendsqa:{name}", split)
    }
    if not episodes:
        raise InvalidInputError(f"no FriendsQA episode in {directory} belongs to the {split} split")
    rng = random.Random(seed)
    usage = LeastUsed(rng)
    splitter = default_splitter()
    names = sorted(episodes)

    def make() -> Stream | None:
        name = rng.choice(names)
        return episode_stream(rng, name, episodes[name], usage, splitter)

    return draw(make, count, "FriendsQA", show_progress)
