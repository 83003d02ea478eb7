"""Training arms run on the same batches (same data, seed and batch size), compared step by step: the mean
difference of each loss term against a control arm, over the steps both logged.

    python scripts/paired_loss.py CONTROL_RUN ARM_RUN ...

A batch's loss varies far more from batch to batch (3.6 to 10.6 for the contrastive term in one run) than
between two arms on the same batch, so the paired difference separates arms after a few steps where the raw
curves cannot.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

TERMS = ("con", "mem", "reg")


def steps(run: Path) -> dict[int, dict]:
    """The run's logged training steps by step number."""
    with open(run / "log.jsonl", encoding="utf-8") as lines:
        return {row["step"]: row for row in map(json.loads, lines) if "con" in row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("control", type=Path)
    parser.add_argument("arms", type=Path, nargs="+")
    args = parser.parse_args()
    control = steps(args.control)
    print("| arm | steps | " + " | ".join(f"{term} (relative)" for term in TERMS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in TERMS) + " |")
    for arm in args.arms:
        logged = steps(arm)
        shared = sorted(set(control) & set(logged))
        if not shared:
            raise SystemExit(f"{arm} and {args.control} logged no step in common")
        cells = []
        for term in TERMS:
            differences = [logged[s][term] - control[s][term] for s in shared]
            relative = statistics.mean(d / control[s][term] for d, s in zip(differences, shared, strict=True))
            cells.append(f"{statistics.mean(differences):+.4f} ({100 * relative:+.2f}%)")
        print(f"| {arm.name} | {len(shared)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
