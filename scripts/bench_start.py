"""Start-up times against ``import torch``, measured side by side in one run (issue 37): a new process that
opens a store and answers one search, an MCP client's ``initialize`` + ``list_tools`` of ``evomem mcp``, and
``evomem serve`` until ``/readyz`` answers (the store open, the model loaded).

    python scripts/bench_start.py [--rounds 3] [--output results/start/bench.json]

Each round runs the three in turn, each in a fresh process with one torch thread; the ratios are of medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SEARCH = """
from evomem import EvoMemory
with EvoMemory({path!r}, create=False) as memory:
    assert memory.search("What is the dog called?", "maya", k=1)
"""


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, capture_output=True)
    return time.perf_counter() - began


def mcp_listing(path: str) -> float:
    parameters = StdioServerParameters(command="evomem", args=["mcp", "--path", path], env=ENV)

    async def session() -> float:
        began = time.perf_counter()
        async with Client(parameters, read_timeout_seconds=300) as client:  # initialize
            assert len((await client.list_tools()).tools) == 6
            return time.perf_counter() - began

    return asyncio.run(session())


def serve_ready(path: str) -> float:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.perf_counter()
    command = ["evomem", "serve", "--path", path, "--port", str(port), "--no-auth"]
    server = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - began
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise RuntimeError(f"evomem serve exited with {server.returncode}")
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as path:
        from evomem import EvoMemory

        with EvoMemory(path) as memory:
            memory.add_messages([{"content": "I adopted a beagle called Pepper.", "name": "Maya"}], "maya")
        runs: dict[str, list[float]] = {
            "import torch": [],
            "open + first search": [],
            "mcp initialize + list_tools": [],
            "serve until /readyz": [],
        }
        for _ in range(args.rounds):
            runs["import torch"].append(timed([sys.executable, "-c", "import torch"]))
            runs["open + first search"].append(timed([sys.executable, "-c", SEARCH.format(path=path)]))
            runs["mcp initialize + list_tools"].append(mcp_listing(path))
            runs["serve until /readyz"].append(serve_ready(path))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    torch_s = medians["import torch"]
    report = {
        "rounds": args.rounds,
        "load": os.getloadavg()[0],
        "seconds": runs,
        "median_s": medians,
        "ratio_to_import_torch": {name: round(s / torch_s, 2) for name, s in medians.items()},
    }
    for name, seconds in medians.items():
        print(f"{name:30s} {seconds:6.2f} s  {seconds / torch_s:5.2f}x import torch")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
