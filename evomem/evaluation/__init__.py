"""Retrieval evaluation on long-conversation benchmarks, with baselines in the same run."""

from .metrics import score_ranking
from .runner import evaluate
from .tasks import Group, Query, Task, load_task

__all__ = ["Group", "Query", "Task", "evaluate", "load_task", "score_ranking"]
