"""Choose the search defaults: R@k of EvoMemory.search per mode, lexical weight and query stop-word list.

Each group of a task is ingested once through the product (``evomem.evaluation.systems.ProductSearch``'s way:
message by message, up to each question's point), and every configuration searches the same store, so the
figures differ by configuration only. Stop words apply to queries alone (the index is unchanged).

Usage: python scripts/hybrid_sweep.py KIND PATH [--limit N] [--output FILE.json]
  e.g. python scripts/hybrid_sweep.py records runs/data5/dev.jsonl --limit 120
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from evomem import EvoMemory
from evomem.evaluation import load_task, score_ranking
from evomem.evaluation.systems import SEARCH_DEPTH, as_message
from evomem.storage import lexical

STOP_LISTS = {"lucene": lexical.LUCENE_STOP_WORDS, "function-words": lexical.LUCENE_STOP_WORDS | lexical.FUNCTION_WORDS}
CONFIGS = [("evolvable", 0.0, "lucene")] + [
    (mode, weight, stops)
    for stops in STOP_LISTS
    for mode, weight in [("lexical", 1.0)] + [("hybrid", w) for w in (0.1, 0.2, 0.3, 0.5, 0.7)]
]


def name(mode: str, weight: float, stops: str) -> str:
    return mode if mode == "evolvable" else f"{mode}/{stops}" + (f"/w{weight}" if mode == "hybrid" else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("path", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    task = load_task(args.kind, args.path)
    task = task.first(args.limit) if args.limit else task
    by_group = defaultdict(list)
    for query in task.queries:
        by_group[query.group].append(query)
    rows: dict[str, list[dict]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        memory = EvoMemory(scratch)
        for number, group in enumerate(tqdm(task.groups, desc="sweep", unit="group")):
            namespace, read = f"g{number}", 0
            queries = sorted(by_group[group.id], key=lambda q: q.at or len(group.texts))
            for query in queries:
                at = query.at or len(group.texts)
                if at > read:
                    pairs = zip(group.segment_ids[read:at], group.texts[read:at], strict=True)
                    memory.add_messages([as_message(i, t) for i, t in pairs], namespace=namespace)
                    read = at
                for mode, weight, stops in CONFIGS:
                    lexical.STOP_WORDS = STOP_LISTS[stops]
                    hits = memory.search(
                        query.text, namespace, k=min(at, SEARCH_DEPTH), mode=mode, lexical_weight=weight
                    )
                    scores = score_ranking([h.id for h in hits], set(query.relevant))
                    rows[name(mode, weight, stops)].append({"category": query.category, **scores})
            memory.delete_namespace(namespace)
    lexical.STOP_WORDS = STOP_LISTS["function-words"]  # the shipped list
    report = {}
    for config, found in rows.items():
        categories = defaultdict(list)
        for row in found:
            if row["category"] not in task.headline_excludes:
                categories["all"].append(row)
            categories[row["category"]].append(row)
        report[config] = {
            category: {m: round(100 * sum(r[m] for r in items) / len(items), 1) for m in ("recall@1", "recall@10")}
            | {"n": len(items)}
            for category, items in sorted(categories.items())
        }
    categories = sorted({c for figures in report.values() for c in figures})
    print(f"R@10 (R@1) on {task.name}, {len(task.groups)} groups")
    print("| config | " + " | ".join(categories) + " |")
    print("|---|" + "---|" * len(categories))
    for config, figures in report.items():
        cells = [f"{figures[c]['recall@10']} ({figures[c]['recall@1']})" if c in figures else "-" for c in categories]
        print(f"| {config} | " + " | ".join(cells) + " |")
    if args.output:
        args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
