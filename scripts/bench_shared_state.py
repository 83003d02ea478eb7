"""What memory states in PostgreSQL cost (issue 15 part 3): add and search latency with the states under a local
path and in PostgreSQL, over one `chroma run`, and a second machine's first hybrid search after another's write.

usage: PYTHONPATH=<evomem tree> python scripts/bench_shared_state.py OUT.json
(default model; LoCoMo dev's first conversation from ../shared; `chroma` on PATH; PostgreSQL from pgserver)
"""

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pgserver

from evomem import EvoMemory
from evomem.bench import locomo_turns
from evomem.model.loading import load_encoder

BATCH = 10
TURNS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_run(directory: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        ["chroma", "run", "--path", str(directory), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("chroma run did not start")


def milliseconds(call) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def figures(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50_ms": statistics.median(values), "p95_ms": values[int(0.95 * (len(values) - 1))], "n": len(values)}


def measure(memory: EvoMemory, namespace: str, messages: list[dict], questions: list[str]) -> dict:
    adds = [
        milliseconds(lambda i=i: memory.add_messages(messages[i : i + BATCH], namespace))
        for i in range(0, len(messages), BATCH)
    ]
    report = {f"add_{BATCH}_messages": figures(adds)}
    for mode in ("evolvable", "hybrid"):
        memory.search(questions[0], namespace, mode=mode)  # warm
        report[f"search_{mode}"] = figures(
            [milliseconds(lambda q=q, m=mode: memory.search(q, namespace, mode=m)) for q in questions]
        )
    return report


def main(out: Path) -> None:
    encoder = load_encoder(None)
    messages, questions = locomo_turns(
        Path(__file__).resolve().parents[2] / "shared/data/locomo-dev/locomo_dev.json", TURNS
    )
    questions = questions[:60]
    work = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    chroma, port = chroma_run(work / "chroma")
    database = pgserver.get_server(work / "postgres", cleanup_mode="stop")
    try:
        server = {"chroma_host": "127.0.0.1", "chroma_port": port}
        local = EvoMemory(work / "local", model=encoder, **server)
        a = EvoMemory(work / "a", model=encoder, state_url=database.get_uri(), **server)
        b = EvoMemory(work / "b", model=encoder, state_url=database.get_uri(), **server)
        report = {"local_states": measure(local, "local", messages, questions)}
        report["postgres_states"] = measure(a, "shared", messages, questions)
        # b searches after each of a's writes: its lexical index is rebuilt from Chroma first
        catch_up, steady = [], []
        for i, question in enumerate(questions[:20]):
            a.add_messages([{"content": f"one more turn {i}", "id": f"more-{i}"}], "shared")
            catch_up.append(milliseconds(lambda q=question: b.search(q, "shared", mode="hybrid")))
            steady.append(milliseconds(lambda q=question: b.search(q, "shared", mode="hybrid")))
        report[f"second_machine_hybrid_search_at_{TURNS}_segments"] = {
            "after_another_machines_write": figures(catch_up),
            "again": figures(steady),
        }
    finally:
        database.cleanup()
        chroma.terminate()
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
