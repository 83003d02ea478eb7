"""Search latency through a real ``evomem serve`` (real default model, torch's default thread count) while another
process holds one of the two cores (issue 37): p50 / p95 of sequential searches, on this checkout and, with
``--baseline DIR``, first on another checkout (``git worktree add DIR COMMIT``) in the same run.

    python scripts/bench_read_threads.py [--baseline DIR] [--searches 40] [--output results/start/read-threads.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_tenants import REPO, start_server

HOG = "while True: pass"  # one core held, as a training run or another program would


def measure(checkout: Path, searches: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        server, url = start_server(checkout, Path(scratch) / "store", omp_threads=None)
        hog = subprocess.Popen([sys.executable, "-c", HOG])
        try:
            messages = [
                {"content": f"Maya's note {i}: the dentist moved to Friday {i}.", "name": "Maya"} for i in range(30)
            ]
            httpx.post(
                url + "/v1/messages", json={"namespace": "maya", "messages": messages}, timeout=900
            ).raise_for_status()
            seconds = []
            for number in range(searches + 3):
                began = time.perf_counter()
                body = {"namespace": "maya", "query": f"When is the dentist, note {number}?", "k": 5}
                httpx.post(url + "/v1/search", json=body, timeout=300).raise_for_status()
                seconds.append(time.perf_counter() - began)
            ordered = sorted(seconds[3:])  # the first searches warm the caches
            return {
                "searches": len(ordered),
                "p50_ms": round(1000 * statistics.median(ordered), 1),
                "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
            }
        finally:
            hog.kill()
            server.terminate()
            server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--searches", type=int, default=40)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    report = {}
    for name, checkout in (("baseline", args.baseline), ("this checkout", REPO)):
        if checkout is not None:
            report[name] = {"checkout": str(checkout), **measure(checkout, args.searches)}
            print(name, report[name], flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
