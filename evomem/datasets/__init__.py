"""Loaders for conversation benchmarks and sample data."""

from .locomo import Conversation, Question, Turn, load_locomo, load_realtalk

__all__ = ["Conversation", "Question", "Turn", "load_locomo", "load_realtalk"]
