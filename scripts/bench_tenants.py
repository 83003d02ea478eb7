"""Does one tenant's large write hold back another's (issue 36)? Through a real ``evomem serve`` with the real
default model: bob's one-message writes alone, then while alice's 100 KB document is being written.

    python scripts/bench_tenants.py [--kilobytes 100] [--baseline DIR] [--output results/tenants/bench.json]

``--baseline DIR`` runs the same measurement first against another checkout of evomem (``git worktree add DIR
COMMIT``), imported from DIR, in the same run. Servers run with ``--no-auth --workers 2`` on a fresh store.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CLI = "from evomem.cli import main; main(prog_name='evomem')"


def document(kilobytes: int) -> str:
    sentences = [
        f"Entry {i}: the committee reviewed budget line {i * 7} and moved it to quarter {i % 4 + 1}."
        for i in range(20000)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))[: kilobytes * 1024]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkout: Path, store: Path, omp_threads: str | None = "1") -> tuple[subprocess.Popen, str]:
    """``evomem serve`` of ``checkout`` on ``store``; ``omp_threads=None`` leaves torch its default thread count."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("OMP_NUM_THREADS", None)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = omp_threads
    command = [sys.executable, "-c", CLI, "serve", "--path", str(store), "--port", str(port), "--no-auth"]
    process = subprocess.Popen(  # run from the checkout: ``python -c`` puts the working directory first on the path
        [*command, "--workers", "2"], cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server of {checkout} did not start")
        time.sleep(0.5)


def note(url: str, number: int) -> float:
    began = time.perf_counter()
    body = {"namespace": "bob", "messages": [{"content": f"Bob's note {number}: the dentist moved to Friday."}]}
    httpx.post(url + "/v1/messages", json=body, timeout=900).raise_for_status()
    return time.perf_counter() - began


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "writes": len(ordered),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
    }


def measure(checkout: Path, kilobytes: int) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_server(checkout, Path(directory) / "store")
        try:
            note(url, -1)  # warm up: the model's first pass
            alone = [note(url, i) for i in range(10)]
            done: dict[str, float] = {}

            def ingest() -> None:
                began = time.perf_counter()
                body = {"namespace": "alice", "text": document(kilobytes), "doc_id": "minutes"}
                httpx.post(url + "/v1/text", json=body, timeout=3600).raise_for_status()
                done["alice_s"] = time.perf_counter() - began

            alice = threading.Thread(target=ingest)
            alice.start()
            time.sleep(1)
            during, number = [], 100
            while alice.is_alive():
                during.append(note(url, number))
                number += 1
                time.sleep(0.5)
            alice.join()
            stats = httpx.get(url + "/v1/stats", params={"namespace": "alice"}, timeout=60).json()
            return {
                "checkout": str(checkout),
                "namespace_locks": (Path(directory) / "store" / "locks").is_dir(),  # which writer locks ran
                "alice_document_kb": kilobytes,
                "alice_segments": stats.get("segments"),
                "alice_write_s": round(done["alice_s"], 1),
                "bob_alone": percentiles(alone),
                "bob_during_alice": percentiles(during),
            }
        finally:
            process.terminate()
            process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kilobytes", type=int, default=100)
    parser.add_argument("--baseline", type=Path, default=None, help="Another checkout, measured first.")
    parser.add_argument("--output", type=Path, default=REPO / "results" / "tenants" / "bench.json")
    arguments = parser.parse_args()
    runs = [measure(checkout, arguments.kilobytes) for checkout in [arguments.baseline, REPO] if checkout is not None]
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
