"""Upgrade a store of about 10,000 segments written by an earlier release's default, while another process searches
it (issue 36): how long the upgrade takes, and what the searches served during it answered.

    python scripts/bench_upgrade.py [--segments 10000] [--store DIR] [--output results/upgrade/bench.json]

The store holds LoCoMo dev conversations (evaluation data, read here only to measure), each copied into as many
namespaces as the segment count needs, ingested with the earlier default (``tests/data/minilm-v8-step235``). A
searcher process opens the store without naming a model, as a server would, and asks the dev questions of the
first copies in turn (k=10) until the upgrade is over and 20 s more; each answer records its latency, the model
that gave it and whether the gold evidence was in it (R@10).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EARLIER_DEFAULT = REPO / "tests" / "data" / "minilm-v8-step235"
DATA = REPO.parent / "shared" / "data" / "locomo-dev" / "locomo_dev.json"


def build(store: Path, segments: int) -> float:
    from evomem import EvoMemory
    from evomem.datasets.locomo import load_locomo

    conversations = load_locomo(DATA)
    began = time.perf_counter()
    with EvoMemory(store, model=EARLIER_DEFAULT) as memory:
        written, copy = 0, 0
        while written < segments:
            for conversation in conversations:
                if written >= segments:
                    break
                name = f"{conversation.sample_id}-r{copy}"
                messages = [turn.as_message() for turn in conversation.turns]
                memory.add_messages(messages, name)
                written += memory.stats(name)["segments"]
                print(f"built {name}: {written} segments", flush=True)
            copy += 1
    return time.perf_counter() - began


def search_until(store: str, stop: str, output: str) -> None:
    """The searcher process: ask until ``stop`` exists and 20 s more; write every answer to ``output``."""
    import torch

    torch.set_num_threads(1)
    from evomem import EvoMemory
    from evomem.datasets.locomo import load_locomo

    questions = [
        (f"{c.sample_id}-r0", q.question, set(q.evidence))
        for c in load_locomo(DATA)
        for q in c.questions
        if q.evidence and q.category != 5
    ]
    answers, stopped_at = [], None
    with EvoMemory(store, create=False) as memory:
        index = 0
        while stopped_at is None or time.monotonic() < stopped_at + 20:
            if stopped_at is None and Path(stop).exists():
                stopped_at = time.monotonic()
            namespace, question, evidence = questions[index % len(questions)]
            began = time.perf_counter()
            try:
                hits = memory.search(question, namespace, k=10)
                error = None
            except Exception as failure:  # every failure is counted, none ends the run
                hits, error = [], f"{type(failure).__name__}: {failure}"
            answers.append(
                {
                    "at": time.time(),
                    "seconds": time.perf_counter() - began,
                    "model": memory.fingerprint,
                    "found": bool(evidence & {hit.id for hit in hits}),
                    "error": error,
                }
            )
            index += 1
    Path(output).write_text(json.dumps(answers))


def summary(answers: list[dict]) -> dict:
    if not answers:
        return {"searches": 0}
    seconds = sorted(a["seconds"] for a in answers)
    return {
        "searches": len(answers),
        "errors": sum(a["error"] is not None for a in answers),
        "p50_ms": round(1000 * statistics.median(seconds), 1),
        "p95_ms": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 1),
        "recall_at_10": round(100 * sum(a["found"] for a in answers) / len(answers), 1),
        "models": sorted({a["model"] for a in answers}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--store", type=Path, default=Path("/tmp/evomem-bench-upgrade"))
    parser.add_argument("--output", type=Path, default=REPO / "results" / "upgrade" / "bench.json")
    arguments = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from evomem import EvoMemory

    store = arguments.store
    build_seconds = None if (store / "model.json").exists() else build(store, arguments.segments)
    stop, answers_file = store.parent / f"{store.name}.stop", store.parent / f"{store.name}.answers.json"
    stop.unlink(missing_ok=True)
    context = multiprocessing.get_context("spawn")
    searcher = context.Process(target=search_until, args=(str(store), str(stop), str(answers_file)))
    searcher.start()
    time.sleep(30)  # the searcher opens the store and answers with the old model first
    with EvoMemory(store) as memory:
        source = memory.fingerprint
        began = time.time()
        report = memory.upgrade(batch_segments=256, show_progress=True)
        ended = time.time()
    stop.touch()
    searcher.join()
    answers = json.loads(answers_file.read_text())
    result = {
        "segments": sum(report.segments.values()),
        "namespaces": len(report.segments),
        "build_seconds": None if build_seconds is None else round(build_seconds, 1),
        "upgrade_seconds": round(ended - began, 1),
        "source": source,
        "target": report.target,
        "before": summary([a for a in answers if a["at"] < began]),
        "during": summary([a for a in answers if began <= a["at"] <= ended]),
        "after": summary([a for a in answers if a["at"] > ended]),
        "during_by_model": {
            model: summary([a for a in answers if began <= a["at"] <= ended and a["model"] == model])
            for model in (source, report.target)
        },
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
