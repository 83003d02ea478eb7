"""R@10 by how far back the evidence lies (issue 12): questions binned by the segments between the question and
its latest evidence segment, per source, for every system of one or more `evomem eval records` outputs of the
same records file.

usage: python scripts/by_distance.py RECORDS.jsonl EVAL.json [EVAL.json ...] [--bins 0,10,32,64,128]
(a system found in several files is taken from the first)."""

import argparse
import json
from collections import defaultdict
from pathlib import Path

from evomem.evaluation.tasks import load_records

parser = argparse.ArgumentParser()
parser.add_argument("records", type=Path)
parser.add_argument("evaluations", type=Path, nargs="+")
parser.add_argument("--bins", default="0,10,32,64,128")
args = parser.parse_args()
edges = [int(edge) for edge in args.bins.split(",")]

task = load_records(args.records)
distance = {query.id: query.at - 1 - max(int(i) for i in query.relevant) for query in task.queries}
systems: dict[str, dict[str, dict]] = {}
for path in args.evaluations:
    for system, rows in json.loads(path.read_text())["per_query"].items():
        systems.setdefault(system, {row["query"]: row for row in rows})


def bin_of(value: int) -> str:
    lower = max(edge for edge in edges if edge <= value)
    upper = next((edge for edge in edges if edge > value), None)
    return f"{lower}-{upper - 1}" if upper else f"{lower}+"


labels = [bin_of(edge) for edge in edges]
for source in ["all", *sorted({query.category for query in task.queries})]:
    queries = [query for query in task.queries if source in ("all", query.category)]
    print(f"\n{source}: R@10 by distance (questions)")
    counts = defaultdict(int)
    for query in queries:
        counts[bin_of(distance[query.id])] += 1
    print(f"{'system':<12}" + "".join(f"{label:>14}" for label in labels))
    for system, rows in systems.items():
        recalls = defaultdict(list)
        for query in queries:
            recalls[bin_of(distance[query.id])].append(rows[query.id]["recall@10"])
        cells = [f"{100 * sum(recalls[b]) / len(recalls[b]):.1f} ({counts[b]})" if recalls[b] else "-" for b in labels]
        print(f"{system:<12}" + "".join(f"{cell:>14}" for cell in cells))
