"""Hybrid search with its lexical half in a thread beside the query encode and vector search (the product) against
both halves one after the other, timed query by query in turns on the same namespace at each size (as `evomem
bench` grows it), with the evolvable and lexical modes alone for reference. Issue 14.

Usage: python scripts/bench_hybrid_overlap.py LOCOMO.json OUT.json [--sizes 300,10000,100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import Future
from pathlib import Path

import evomem.search.searcher
from evomem.bench import grown_namespace, locomo_texts
from evomem.model.loading import load_encoder


class Inline:
    """An executor that runs what it is handed at once, in the caller's thread: the search before the overlap."""

    def submit(self, function, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(function(*args, **kwargs))
        return future


def percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


parser = argparse.ArgumentParser()
parser.add_argument("locomo", type=Path)
parser.add_argument("output", type=Path)
parser.add_argument("--sizes", default="300,10000,100000")
parser.add_argument("--queries", type=int, default=50)
args = parser.parse_args()

encoder = load_encoder(None)
texts, questions = locomo_texts(args.locomo, 300)
asked = (questions * (args.queries // len(questions) + 1))[: args.queries]
overlapped = evomem.search.searcher._BESIDE
ways = {
    "hybrid_overlapped": ("hybrid", overlapped),
    "hybrid_sequential": ("hybrid", Inline()),
    "evolvable": ("evolvable", overlapped),
    "lexical": ("lexical", overlapped),
}
report: dict[str, float] = {}
for memory, size in grown_namespace(encoder, texts, [int(s) for s in args.sizes.split(",")]):
    latencies: dict[str, list[float]] = {name: [] for name in ways}
    for round_, query in enumerate([asked[0], *asked]):  # the first round warms up
        for name, (mode, executor) in ways.items():
            evomem.search.searcher._BESIDE = executor
            start = time.perf_counter()
            memory.search(query, namespace="scale", mode=mode)
            if round_:
                latencies[name].append(1000 * (time.perf_counter() - start))
    evomem.search.searcher._BESIDE = overlapped
    for name, values in latencies.items():
        for figure, value in percentiles(values).items():
            report[f"{name}_{figure}_at_{size}"] = value
    print(json.dumps({k: round(v, 1) for k, v in report.items() if k.endswith(f"_at_{size}")}), flush=True)
args.output.write_text(json.dumps(report, indent=2) + "\n")
