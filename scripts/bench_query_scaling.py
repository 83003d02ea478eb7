"""Search latency as one namespace grows (issue 37): p50 and p95 of every search mode at 200, 10K and 100K
segments (embedded Chroma, the namespace grown as `evomem bench` grows it), measured in one run, and each size's
p50 against the smallest's.

    python scripts/bench_query_scaling.py [--sizes 200,10000,100000] [--queries 50] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from evomem.bench import bench_query_scaling, locomo_texts
from evomem.model.loading import load_encoder
from evomem.schema import MODES

LOCOMO_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev" / "locomo_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="200,10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    texts, questions = locomo_texts(LOCOMO_DEV, 300)  # read only to time searches
    report: dict = {"sizes": sizes, "load_before": os.getloadavg()[0]}
    report.update(bench_query_scaling(load_encoder(None), texts, questions, sizes, args.queries))
    report["load_after"] = os.getloadavg()[0]
    for mode in MODES:
        smallest = report[f"query_{mode}_p50_ms_at_{sizes[0]}"]
        for size in sizes:
            p50, p95 = report[f"query_{mode}_p50_ms_at_{size}"], report[f"query_{mode}_p95_ms_at_{size}"]
            report[f"query_{mode}_p50_ratio_at_{size}"] = p50 / smallest
            print(f"{mode:10s} {size:>7d} segments: p50 {p50:6.1f} ms ({p50 / smallest:4.2f}x)  p95 {p95:6.1f} ms")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
