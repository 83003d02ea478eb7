"""Search latency with and without filters as one namespace grows (as `evomem bench` grows it): p50 / p95 of the
evolvable and hybrid modes, plain, with ``exclude_roles`` (a filter nearly every segment passes) and with a
``time_range`` no segment passes (the corpus has no timestamps: the rare-filter worst case), and with
``exclude_latest`` (no filter: the latest 5 messages are left out). Issue 14.

Usage: python scripts/bench_filtered_search.py LOCOMO.json OUT.json [--sizes 300,10000,100000] [--queries 30]
       [--modes evolvable,hybrid] [--filters plain,exclude_roles,time_range,exclude_latest]
(run it with PYTHONPATH=<another tree> to time that tree's code).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from evomem.bench import grown_namespace, locomo_texts
from evomem.model.loading import load_encoder

FILTERS = {
    "plain": {},
    "exclude_roles": {"exclude_roles": ["assistant"]},
    "time_range": {"time_range": (0, None)},
    "exclude_latest": {"exclude_latest": 5},
}

parser = argparse.ArgumentParser()
parser.add_argument("locomo", type=Path)
parser.add_argument("output", type=Path)
parser.add_argument("--sizes", default="300,10000,100000")
parser.add_argument("--queries", type=int, default=30)
parser.add_argument("--modes", default="evolvable,hybrid")
parser.add_argument("--filters", default=",".join(FILTERS), help="which of the cases above")
args = parser.parse_args()

encoder = load_encoder(None)
texts, questions = locomo_texts(args.locomo, 300)
asked = (questions * (args.queries // len(questions) + 1))[: args.queries]
report: dict[str, float] = {}
for memory, size in grown_namespace(encoder, texts, [int(s) for s in args.sizes.split(",")]):
    for mode in args.modes.split(","):
        for name in args.filters.split(","):
            options = FILTERS[name]
            latencies = []
            for round_, query in enumerate([asked[0], *asked]):  # the first round warms up
                start = time.perf_counter()
                memory.search(query, namespace="scale", mode=mode, **options)
                if round_:
                    latencies.append(1000 * (time.perf_counter() - start))
            latencies.sort()
            report[f"{mode}_{name}_p50_ms_at_{size}"] = statistics.median(latencies)
            report[f"{mode}_{name}_p95_ms_at_{size}"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print(json.dumps({k: round(v, 1) for k, v in report.items() if k.endswith(f"_at_{size}")}), flush=True)
args.output.write_text(json.dumps(report, indent=2) + "\n")
