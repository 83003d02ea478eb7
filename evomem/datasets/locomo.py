"""LoCoMo format (``locomo10.json``): conversations in sessions, with questions and evidence turn ids.

REALTALK uses the same schema, one conversation per ``Chat_*.json`` file with ``qa`` at the top level and
``clean_text`` beside ``text``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

EVIDENCE_ID = re.compile(r"D\d+:\d+")
SESSION_KEY = re.compile(r"^session_(\d+)$")
DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%d.%m.%Y, %H:%M:%S")
# question categories as numbered in the released locomo10.json (as in docs/model-card.md)
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    timestamp: float | None
    caption: str | None = None

    @property
    def content(self) -> str:
        """The turn's text, with the shared image's caption when there is one."""
        return f"{self.text} [shares a photo: {self.caption}]" if self.caption else self.text

    def as_message(self) -> dict:
        message: dict[str, Any] = {"role": "user", "name": self.speaker, "content": self.content, "id": self.dia_id}
        if self.timestamp is not None:
            message["timestamp"] = self.timestamp
        return message


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]


def parse_session_date(text: str | None) -> float | None:
    """``"1:56 pm on 8 May, 2023"`` -> epoch seconds (UTC); None when absent or in another form."""
    if not text:
        return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def _turns(conversation: dict) -> list[Turn]:
    sessions = sorted(
        (int(match.group(1)), key) for key in conversation if (match := SESSION_KEY.match(key)) is not None
    )
    turns = []
    for number, key in sessions:
        timestamp = parse_session_date(conversation.get(f"{key}_date_time"))
        for turn in conversation[key] or []:
            text = turn.get("clean_text") or turn.get("text") or ""
            if not text.strip():
                continue
            turns.append(Turn(turn["dia_id"], turn["speaker"], text, number, timestamp, turn.get("blip_caption")))
    return turns


def _conversation(sample_id: str, conversation: dict, qa: list[dict]) -> Conversation:
    questions = tuple(
        Question(
            item["question"],
            str(item.get("answer", item.get("adversarial_answer", ""))),
            tuple(EVIDENCE_ID.findall(" ".join(map(str, item.get("evidence", []))))),
            int(item.get("category", 0)),
        )
        for item in qa
    )
    return Conversation(sample_id, tuple(_turns(conversation)), questions)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path} is not valid JSON: {error}") from None


def load_locomo(path: str | Path) -> list[Conversation]:
    """Read a LoCoMo-style JSON file (a list of samples with ``conversation`` and ``qa``)."""
    path = Path(path)
    samples = _read_json(path)
    if not isinstance(samples, list):
        raise InvalidInputError(f"{path}: expected a list of conversations")
    conversations = []
    for index, sample in enumerate(samples):
        if "conversation" not in sample:
            raise InvalidInputError(f"{path}: sample {index} has no 'conversation'")
        sample_id = str(sample.get("sample_id", f"conv-{index}"))
        conversations.append(_conversation(sample_id, sample["conversation"], sample.get("qa", [])))
    return conversations


def load_realtalk(directory: str | Path) -> list[Conversation]:
    """Read a REALTALK folder: one ``Chat_*.json`` conversation per file, ``qa`` beside the sessions."""
    directory = Path(directory)
    files = sorted(directory.glob("Chat_*.json"))
    if not files:
        raise InvalidInputError(f"{directory} holds no Chat_*.json files")
    conversations = []
    for file in files:
        data = _read_json(file)
        if not isinstance(data, dict) or not any(SESSION_KEY.match(key) for key in data):
            raise InvalidInputError(f"{file}: expected a conversation with session_N keys")
        conversations.append(_conversation(file.stem, data, data.get("qa", [])))
    return conversations
