"""Load test of a running `evomem serve` on this machine: requests/s and p50/p95 latency of search and of add (one
message a request, each client its own namespace) with 1, 4 and 16 concurrent clients, and the errors. Bounded: a
fixed number of requests per level, each with a timeout. The bundled sample conversation is the data.

Usage: python scripts/load_service.py URL [--api-key KEY] [--prefix tenant-a:] [--requests 48] [--output load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import evomem
from evomem import EvoMemoryClient
from evomem.bench import locomo_turns

SAMPLE = Path(evomem.__file__).parent / "data" / "sample_conversation.json"


def measure(calls: list, clients: int) -> dict:
    """Run the calls on ``clients`` threads; throughput, latency percentiles and errors."""
    latencies: list[float] = []
    errors: list[str] = []

    def timed(call) -> None:
        start = time.perf_counter()
        try:
            call()
            latencies.append(time.perf_counter() - start)
        except Exception as error:  # counted, not raised: the report says how many failed
            errors.append(f"{type(error).__name__}: {error}")

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(timed, calls))
    wall = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {
        "clients": clients,
        "requests": len(calls),
        "requests_per_s": round(len(latencies) / wall, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(cuts[18] * 1000, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--prefix", default="", help="The key's namespace prefix.")
    parser.add_argument("--requests", type=int, default=48, help="Requests per mode and level.")
    parser.add_argument("--output", type=Path, default=None)
    options = parser.parse_args()
    messages, questions = locomo_turns(SAMPLE, 1000)
    report = {"url": options.url, "load_average": os.getloadavg(), "search": [], "add": []}  # others' CPU use
    with EvoMemoryClient(options.url, api_key=options.api_key, timeout=60) as client:
        searched = options.prefix + "load-search"
        client.delete_namespace(searched)
        client.add_messages(messages, searched)
        count = options.requests
        for clients in (1, 4, 16):
            queries = [questions[i % len(questions)] for i in range(count)]
            calls = [lambda q=q: client.search(q, searched, k=5) for q in queries]
            report["search"].append(measure(calls, clients))
            names = [f"{options.prefix}load-add-{clients}-{c}" for c in range(clients)]
            turns = [({**messages[i % len(messages)], "id": f"r{i}"}, names[i % clients]) for i in range(count)]
            calls = [lambda turn=turn, name=name: client.add_messages([turn], name) for turn, name in turns]
            report["add"].append(measure(calls, clients))
            for name in names:
                client.delete_namespace(name)
        client.delete_namespace(searched)
    text = json.dumps(report, indent=2)
    print(text)
    if options.output:
        options.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
