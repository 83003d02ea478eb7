"""Ingest and query speed: evolvable encoding with and without segment-batching against the static base."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .datasets import load_locomo
from .encoder import EvoEncoder
from .memory import EvoMemory
from .queue import LatentQueue
from .stream import encode_stream


def _timed(run: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs (after one warm-up run)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def static_encoder(encoder: EvoEncoder) -> Callable[[list[str]], object]:
    """The static base model as users run it: sentence-transformers over the same backbone directory."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(encoder.backbone_dir), device="cpu", local_files_only=True)
    model.max_seq_length = encoder.config.segment_max_tokens
    return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True)


def bench_ingest(encoder: EvoEncoder, texts: list[str], repeats: int = 3) -> dict[str, float]:
    """Segments/s of the three ways to encode the same turns; tokens counted with special tokens."""
    ids = encoder.tokenize(texts)
    config = encoder.config

    def evolvable(batching: bool) -> Callable[[], object]:
        def run():
            queue = LatentQueue(config.num_query_tokens, config.queue_steps, encoder.dim)
            with torch.inference_mode():
                return encode_stream(encoder, queue, ids, segment_batching=batching)

        return run

    static = static_encoder(encoder)
    seconds = {
        "static": _timed(lambda: static(texts), repeats),
        "evolvable_batched": _timed(evolvable(True), repeats),
        "evolvable_sequential": _timed(evolvable(False), max(1, repeats - 2)),
    }
    tokens = sum(len(row) for row in ids)
    report: dict[str, float] = {"segments": len(texts), "tokens": tokens}
    for name, value in seconds.items():
        report[f"{name}_seconds"] = value
        report[f"{name}_segments_per_s"] = len(texts) / value
    report["batched_vs_static"] = seconds["evolvable_batched"] / seconds["static"]
    report["batching_speedup"] = seconds["evolvable_sequential"] / seconds["evolvable_batched"]
    return report


def bench_query(memory: EvoMemory, namespace: str, queries: list[str], k: int = 10) -> dict[str, float]:
    memory.search(queries[0], namespace=namespace, k=k)
    latencies = []
    for query in queries:
        start = time.perf_counter()
        memory.search(query, namespace=namespace, k=k)
        latencies.append(1000 * (time.perf_counter() - start))
    latencies.sort()
    return {
        "queries": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def locomo_turns(path: Path, count: int) -> tuple[list[dict], list[str]]:
    """The first ``count`` turns of the first conversation as messages, and its questions."""
    conversation = load_locomo(path)[0]
    messages = [turn.as_message() for turn in conversation.turns[:count]]
    return messages, [q.question for q in conversation.questions]


def run_ingest_bench(encoder: EvoEncoder, data: Path, turns: int = 300, repeats: int = 3) -> dict[str, float]:
    """The core figures: ingest of ``turns`` LoCoMo turns three ways, then query latency over them."""
    messages, questions = locomo_turns(data, turns)
    texts = [f"{m['name']}: {m['content']}" for m in messages]
    report = bench_ingest(encoder, texts, repeats)
    with tempfile.TemporaryDirectory() as scratch:
        memory = EvoMemory(scratch, model=encoder)
        memory.add_messages(messages, namespace="bench")
        report.update({f"query_{k}": v for k, v in bench_query(memory, "bench", questions[:100]).items()})
    return report
