"""The demo: read a real multi-session conversation session by session and ask the same questions as it grows."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from .datasets import Conversation, Question, load_locomo
from .memory import EvoMemory

LOCOMO_DEV = Path("shared") / "data" / "locomo-dev" / "locomo_dev.json"
HEADLINE_CATEGORIES = {1, 2, 3, 4}


def find_demo_data(explicit: str | Path | None = None) -> Path:
    """``explicit``, else $EVOMEM_DEMO_DATA, else LoCoMo dev in a ``shared/`` beside or above the working
    directory, else the sample conversation shipped with evomem."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get("EVOMEM_DEMO_DATA"):
        return Path(os.environ["EVOMEM_DEMO_DATA"])
    for base in (Path.cwd(), *Path.cwd().parents):
        if (base / LOCOMO_DEV).is_file():
            return base / LOCOMO_DEV
    return Path(str(files("evomem") / "data" / "sample_conversation.json"))


def _tracked_questions(conversation: Conversation, count: int) -> list[Question]:
    """Questions whose evidence lies in different sessions, latest evidence first."""
    session_of = {turn.dia_id: turn.session for turn in conversation.turns}
    chosen: dict[int, Question] = {}
    for question in conversation.questions:
        sessions = {session_of[e] for e in question.evidence if e in session_of}
        if question.category in HEADLINE_CATEGORIES and sessions:
            chosen.setdefault(max(sessions), question)
    return [chosen[s] for s in sorted(chosen, reverse=True)][:count]


def _checkpoints(sessions: list[int]) -> list[int]:
    n = len(sessions)
    return sorted({sessions[max(0, i * n // 3 - 1)] for i in (1, 2, 3)})


def run_demo(memory: EvoMemory, data: Path, echo: Callable[[str], None] = print, k: int = 3) -> dict[str, float]:
    """Ingest the first conversation of ``data`` session by session; returns the final evidence recall@k."""
    conversation = load_locomo(data)[0]
    namespace = re.sub(r"[^A-Za-z0-9_.@-]", "-", conversation.sample_id)
    sessions = sorted({turn.session for turn in conversation.turns})
    tracked = _tracked_questions(conversation, 3)
    size = f"{len(conversation.turns)} turns in {len(sessions)} sessions"
    echo(f"Conversation {conversation.sample_id} from {data}: {size}")
    ingested = 0
    for checkpoint in _checkpoints(sessions):
        turns = [t for t in conversation.turns if ingested < t.session <= checkpoint]
        memory.add_messages([t.as_message() for t in turns], namespace=namespace)
        ingested = checkpoint
        echo(f"\n=== after session {checkpoint} ({memory.stats(namespace)['segments']} turns in memory) ===")
        for question in tracked:
            echo(f"Q: {question.question}   (gold: {', '.join(question.evidence)})")
            for hit in memory.search(question.question, namespace=namespace, k=k):
                mark = "*" if hit.id in question.evidence else " "
                echo(f"  {mark} {hit.score:.3f} [{hit.id}] {hit.text[:100]}")
    questions = [q for q in conversation.questions if q.category in HEADLINE_CATEGORIES and q.evidence]
    found = 0.0
    for question in questions:
        hits = {hit.id for hit in memory.search(question.question, namespace=namespace, k=k)}
        found += len(hits & set(question.evidence)) / len(set(question.evidence))
    recall = found / max(1, len(questions))
    echo(f"\nEvidence recall@{k} over {len(questions)} questions of this conversation: {100 * recall:.1f}%")
    echo(f"Model fingerprint {memory.fingerprint}; '*' marks a gold evidence turn.")
    return {f"recall@{k}": recall, "questions": float(len(questions))}
