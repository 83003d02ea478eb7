"""Paired difference of two systems on the same questions, per category, with its standard error.

Each side is an ``evomem eval`` JSON and a system in it (``FILE:SYSTEM``; the system defaults to ``evomem``), so
two candidates of the selection set (two files) or two systems of one file can be compared question by question.
The standard error is that of the mean per-question difference (questions taken as independent; the questions
of one stream are not, so it is a lower bound).

usage: python scripts/paired_difference.py A.json[:SYSTEM] B.json[:SYSTEM] [--metric recall@10]
  e.g. python scripts/paired_difference.py results/training/minilm-v8/selection/v8-75-eval-dev.json \\
       results/training/minilm-v8/selection/v8-75-eval-dev.json:static
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def per_query(side: str) -> dict[str, dict]:
    path, _, system = side.partition(":")
    report = json.loads(Path(path).read_text(encoding="utf-8"))
    return {row["query"]: row for row in report["per_query"][system or "evomem"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--metric", default="recall@10")
    args = parser.parse_args()
    a, b = per_query(args.a), per_query(args.b)
    if a.keys() != b.keys():
        raise SystemExit("the two sides were scored on different questions")
    by_category: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for query, row in a.items():
        pair = (row[args.metric], b[query][args.metric])
        by_category[row["category"]].append(pair)
        by_category["all"].append(pair)
    print(f"| category | questions | A {args.metric} | B {args.metric} | A - B | standard error |")
    print("| --- | --- | --- | --- | --- | --- |")
    for category, pairs in sorted(by_category.items(), key=lambda item: item[0] == "all"):
        diffs = [x - y for x, y in pairs]
        mean = sum(diffs) / len(diffs)
        spread = math.sqrt(sum((d - mean) ** 2 for d in diffs) / max(1, len(diffs) - 1))
        mean_a = 100 * sum(x for x, _ in pairs) / len(pairs)
        mean_b = 100 * sum(y for _, y in pairs) / len(pairs)
        error = 100 * spread / math.sqrt(len(diffs))
        print(f"| {category} | {len(pairs)} | {mean_a:.1f} | {mean_b:.1f} | {100 * mean:+.1f} | {error:.1f} |")


if __name__ == "__main__":
    main()
