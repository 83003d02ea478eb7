"""Average the evomem weights of snapshots of one run (a uniform "model soup") into a new model directory.

    python scripts/average_weights.py OUTPUT SNAPSHOT_DIR SNAPSHOT_DIR ...

Every snapshot must have the same config (backbone, adapters, memory shape). Each LoRA factor (A and B), the query
tokens and the projections are averaged separately, which is how snapshots of one trajectory are averaged: they
share their starting point, so the factors stay aligned. The output is an ordinary model directory
(``evomem --model OUTPUT ...``) and prints its fingerprint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from evomem.model.encoder import EvoEncoder


def average(directories: list[Path]) -> EvoEncoder:
    """The first snapshot's encoder holding the mean of every snapshot's evomem weights."""
    encoders = [EvoEncoder.from_pretrained(directory) for directory in directories]
    first = encoders[0]
    for directory, encoder in zip(directories[1:], encoders[1:], strict=True):
        if encoder.config.to_dict() != first.config.to_dict():
            raise SystemExit(f"{directory} has another config than {directories[0]}: only one run's snapshots average")
    states = [encoder.evo_state_dict() for encoder in encoders]
    first.load_evo_state_dict({name: torch.stack([s[name] for s in states]).mean(dim=0) for name in states[0]})
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("snapshots", type=Path, nargs="+")
    args = parser.parse_args()
    if len(args.snapshots) < 2:
        parser.error("give at least two snapshots")
    encoder = average(args.snapshots)
    encoder.save_pretrained(args.output)
    print(f"{args.output}: mean of {len(args.snapshots)} snapshots, fingerprint {encoder.fingerprint()}")


if __name__ == "__main__":
    main()
