"""A run's per-group scores, appended as each group finishes, so a stopped evaluation resumes where it left off.

The log's name carries a digest of what the scores depend on (task, groups, queries, model, systems, reading
mode), so a log is only ever resumed by the run that would have written the same rows; a line cut off by a
crash is dropped (and cut from the file) and its group scored again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from .tasks import Task

GroupRows = dict[str, list[dict]]  # system -> one score row per query of the group


def run_digest(task: Task, fingerprint: str, systems: Sequence[str], segment_batching: bool) -> str:
    """What a group's rows depend on, as a short hex digest."""
    identity = {
        "task": task.name,
        "groups": [[group.id, len(group.texts)] for group in task.groups],
        "queries": [[query.id, query.group, query.at] for query in task.queries],
        "fingerprint": fingerprint,
        "systems": list(systems),
        "segment_batching": segment_batching,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


class GroupLog:
    """An append-only JSON-lines file of ``{"group": id, "rows": {system: [row, ...]}}``."""

    def __init__(self, directory: Path, task_name: str, digest: str):
        self.path = directory / f"eval-{task_name}.{digest}.partial.jsonl"

    def read(self) -> dict[str, GroupRows]:
        """The groups finished by an earlier run of the same digest (none if there was no such run)."""
        if not self.path.exists():
            return {}
        text = self.path.read_text(encoding="utf-8")
        if not text.endswith("\n"):  # the last line of a run that was killed while writing it
            text = text[: text.rfind("\n") + 1]
            self.path.write_text(text, encoding="utf-8")
        entries = (json.loads(line) for line in text.splitlines())
        return {entry["group"]: entry["rows"] for entry in entries}

    def append(self, group_id: str, rows: GroupRows) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"group": group_id, "rows": rows}) + "\n")
            file.flush()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
