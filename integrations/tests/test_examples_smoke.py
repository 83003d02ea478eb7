"""Smoke tests: each example runs offline end to end on its short input, as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "OMP_NUM_THREADS": "1",  # a 135M model decodes faster on one thread when the 2 cores are shared
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--short", "--path", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def answers(output: str) -> list[str]:
    return [line[3:] for line in output.splitlines() if line.startswith("A: ")]


@pytest.mark.parametrize(
    "name, header",
    [
        ("naive_rag.py", r"ingested 36 turns"),
        ("langchain_chat_memory.py", r"remembered 36 turns in 3 sessions"),
        ("llamaindex_chroma.py", r"indexed 3 sessions as \d+ nodes in Chroma"),
    ],
)
def test_example_runs_on_short_input(name, header, tmp_path):
    output = run_example(name, tmp_path)
    assert re.search(header, output), output
    assert output.count("\nQ: ") == 2 and output.count("\ngold: ") == 2
    found = answers(output)
    assert len(found) == 2 and all(answer.strip() for answer in found), output
    # the retrieved turns are printed between each question and its answer
    block = output.split("\nQ: ")[1].split("\nA: ")[0].splitlines()
    assert len(block) >= 2, output
