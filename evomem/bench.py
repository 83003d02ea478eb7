"""Ingest and query speed: evolvable encoding with and without segment-batching against the static base, each
with and without the key/value cache of the memory, and the query latency of every search mode as a namespace
grows."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

import torch
from tqdm.auto import tqdm

from .datasets import load_locomo
from .memory import EvoMemory
from .model.encoder import EvoEncoder
from .model.kv_cache import KVCache
from .model.queue import LatentQueue
from .model.stream import encode_stream
from .schema import DEFAULT_K, DEFAULT_MODE, MODES
from .storage.state import StateDirectory
from .storage.store import record_id


def _timed(run: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs (after one warm-up run)."""
    return _timed_together({"run": (run, repeats)})["run"]


def _timed_together(runs: dict[str, tuple[Callable[[], object], int]]) -> dict[str, float]:
    """Best wall time of each run over its repeats (after one warm-up round), the runs taking turns in each round,
    so that the load of a shared machine weighs on all of them alike."""
    for run, _ in runs.values():
        run()
    best = dict.fromkeys(runs, float("inf"))
    for round_ in range(max(repeats for _, repeats in runs.values())):
        for name, (run, repeats) in runs.items():
            if round_ < repeats:
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def static_encoder(encoder: EvoEncoder) -> Callable[[list[str]], object]:
    """The static base model's encode, reading as many tokens of a text as the encoder's segments hold."""
    from .model.loading import static_model

    model = static_model(encoder, encoder.config.segment_max_tokens)
    return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True)


def evolvable_ingest(
    encoder: EvoEncoder, ids: list[list[int]], batching: bool = True, cached: bool = True
) -> Callable[[], object]:
    """A run that reads the tokenised turns as one fresh stream (what ingest costs, without storage): with an
    empty key/value cache of the memory (nothing of a new stream is cached yet), or (``cached=False``) none."""

    def run():
        kept = encoder.kv_cache
        encoder.kv_cache = KVCache(kept.max_bytes) if cached and kept is not None else None
        try:
            with torch.inference_mode():
                return encode_stream(encoder, encoder.new_queue(), ids, segment_batching=batching)
        finally:
            encoder.kv_cache = kept

    return run


def bench_ingest(encoder: EvoEncoder, texts: list[str], repeats: int = 3) -> dict[str, float]:
    """Segments/s of the three ways to encode the same turns, the evolvable ones also without the key/value cache
    (``_uncached``), all timed in turns; tokens counted with special tokens."""
    ids = encoder.tokenize(texts)
    static = static_encoder(encoder)
    sequential = max(1, repeats - 2)
    runs = {"static": (lambda: static(texts), repeats)}
    for suffix, cached in (("", True), ("_uncached", False)):
        runs[f"evolvable_batched{suffix}"] = (evolvable_ingest(encoder, ids, True, cached), repeats)
        runs[f"evolvable_sequential{suffix}"] = (evolvable_ingest(encoder, ids, False, cached), sequential)
    seconds = _timed_together(runs)
    tokens = sum(len(row) for row in ids)
    report: dict[str, float] = {"segments": len(texts), "tokens": tokens}
    for name, value in seconds.items():
        report[f"{name}_seconds"] = value
        report[f"{name}_segments_per_s"] = len(texts) / value
    for suffix in ("", "_uncached"):
        report[f"batched_vs_static{suffix}"] = seconds[f"evolvable_batched{suffix}"] / seconds["static"]
        report[f"batching_speedup{suffix}"] = (
            seconds[f"evolvable_sequential{suffix}"] / seconds[f"evolvable_batched{suffix}"]
        )
    return report


def bench_query_encode(encoder: EvoEncoder, texts: list[str], questions: list[str]) -> dict[str, float]:
    """Milliseconds (p50) to encode one question with the memory of the ingested turns, with the key/value cache
    (warm, as in a namespace already read) and without it, in turns."""
    queue = encoder.new_queue()
    with torch.inference_mode():
        encode_stream(encoder, queue, encoder.tokenize(texts))
    kept = encoder.kv_cache
    latencies: dict[str, list[float]] = {"": [], "_uncached": []}
    try:
        for question in [questions[0], *questions]:  # the first one warms up
            for suffix, cache in (("", kept), ("_uncached", None)):
                encoder.kv_cache = cache
                start = time.perf_counter()
                with torch.inference_mode():
                    encoder.encode_queries(queue, [question])
                latencies[suffix].append(1000 * (time.perf_counter() - start))
    finally:
        encoder.kv_cache = kept
    return {f"query_encode_p50_ms{suffix}": statistics.median(values[1:]) for suffix, values in latencies.items()}


def latency_figures(run: Callable[[str], object], queries: list[str]) -> dict[str, float]:
    """p50 and p95 milliseconds of ``run`` over ``queries`` (after one warm-up call)."""
    run(queries[0])
    latencies = []
    for query in queries:
        start = time.perf_counter()
        run(query)
        latencies.append(1000 * (time.perf_counter() - start))
    latencies.sort()
    return {
        "queries": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def bench_query(
    memory: EvoMemory, namespace: str, queries: list[str], k: int = DEFAULT_K, mode: str = DEFAULT_MODE
) -> dict[str, float]:
    return latency_figures(lambda query: memory.search(query, namespace=namespace, k=k, mode=mode), queries)


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``, which starts afresh at ``exec``; unlike
    ``ru_maxrss``, it is not inherited from the parent a spawned process was forked from)."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    import resource  # no /proc (macOS): ru_maxrss, in bytes there

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _ingest_in_child(model: str | None, texts: list[str], batching: bool | None) -> dict[str, float]:
    """Run one ingest mode in a fresh process; ``batching=None`` is the static base. Returns seconds and peak RSS."""
    from .model.loading import load_encoder

    encoder = load_encoder(model)
    if batching is None:
        static = static_encoder(encoder)
        run = lambda: static(texts)  # noqa: E731
    else:
        run = evolvable_ingest(encoder, encoder.tokenize(texts), batching)
    seconds = _timed(run, 1)
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def bench_peak_memory(model: str | None, texts: list[str]) -> dict[str, float]:
    """Peak resident memory of each ingest mode, each measured inside a fresh (spawned) process of its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    report = {}
    for name, batching in (("static", None), ("evolvable_batched", True), ("evolvable_sequential", False)):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result = pool.submit(_ingest_in_child, model, texts, batching).result()
        report[f"{name}_peak_rss_mb"] = result["peak_rss_mb"]
    return report


def bench_linearity(encoder: EvoEncoder, texts: list[str], lengths=(100, 200, 400, 800)) -> dict[str, float]:
    """Ingest seconds per segment for conversations of growing length (linear cost means a flat line)."""
    report = {}
    for length in lengths:
        ids = encoder.tokenize((texts * (length // len(texts) + 1))[:length])
        report[f"ms_per_segment_at_{length}"] = 1000 * _timed(evolvable_ingest(encoder, ids), 1) / length
    return report


def _jittered(vectors: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Copies of stored vectors plus small noise, so the vector index holds distinct points."""
    return torch.nn.functional.normalize(vectors + 0.02 * torch.randn(*vectors.shape, generator=generator), dim=-1)


def grown_namespace(encoder: EvoEncoder, texts: list[str], sizes: Sequence[int]) -> Iterator[tuple[EvoMemory, int]]:
    """An ``EvoMemory`` (in a scratch directory) whose namespace "scale" holds ``size`` segments, for each of
    ``sizes`` in turn (ascending); the first ``sizes[0]`` are real turns ingested normally, the others copies of
    their stored text and vectors plus small noise (so the vector index holds distinct points) at new stream
    positions, the memory state moved on to cover them: that is all query latency depends on."""
    with tempfile.TemporaryDirectory() as scratch:
        memory = EvoMemory(scratch, model=encoder)
        base = (texts * (sizes[0] // len(texts) + 1))[: sizes[0]]
        memory.add_messages([{"role": "user", "content": t, "id": f"m{i}"} for i, t in enumerate(base)], "scale")
        stored = memory.store.fetch([record_id("scale", position) for position in range(len(base))])
        vectors = torch.tensor([record.embedding for record in stored])
        generator = torch.Generator().manual_seed(0)
        count = len(base)
        for size in sizes:
            while count < size:
                batch = min(5000, size - count)
                source = (torch.arange(count, count + batch) % len(stored)).tolist()
                noisy = _jittered(vectors[source], generator)
                positions = range(count, count + batch)
                metadatas = [
                    {**stored[s].metadata, "position": p, "message_id": f"t{p}", "part": 0}
                    for p, s in zip(positions, source, strict=True)
                ]
                ids = [record_id("scale", p) for p in positions]
                memory.store.upsert(ids, noisy, [stored[s].text for s in source], metadatas)
                count += batch
            queue = memory.states.load("scale", *memory.encoder.queue_shape)
            memory.states.save("scale", LatentQueue(*memory.encoder.queue_shape, queue.latents, step=count))
            yield memory, size


def bench_query_scaling(
    encoder: EvoEncoder, texts: list[str], questions: list[str], sizes=(300, 1000, 10000, 100000), queries: int = 50
) -> dict[str, float]:
    """Query latency of every search mode with 300, 1K, 10K and 100K segments in one namespace (embedded Chroma,
    grown by ``grown_namespace``), and the sizes on disk of the memory state and the lexical index."""
    report: dict[str, float] = {}
    asked = (questions * (queries // len(questions) + 1))[:queries]
    for memory, size in grown_namespace(encoder, texts, sizes):
        # an embedded store's states are files
        report.setdefault("memory_state_bytes", cast(StateDirectory, memory.states).path("scale").stat().st_size)
        for mode in MODES:
            figures = bench_query(memory, "scale", asked, mode=mode)
            report[f"query_{mode}_p50_ms_at_{size}"] = figures["p50_ms"]
            report[f"query_{mode}_p95_ms_at_{size}"] = figures["p95_ms"]
        assert memory.store.lexical is not None  # an EvoMemory's store has one
        report[f"lexical_index_bytes_at_{size}"] = memory.store.lexical.path("scale").stat().st_size
    return report


def bench_many_namespaces(
    encoder: EvoEncoder,
    texts: list[str],
    questions: list[str],
    namespaces: int = 1000,
    size: int = 100,
    queries: int = 50,
) -> dict[str, float]:
    """Query latency of every search mode in one of ``namespaces`` namespaces of ``size`` segments each (a
    service with many users). The first namespace is ingested normally; the others hold copies of its stored text
    and vectors plus small noise, with its memory state."""
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        memory = EvoMemory(scratch, model=encoder)
        base = (texts * (size // len(texts) + 1))[:size]
        memory.add_messages([{"role": "user", "content": t, "id": f"m{i}"} for i, t in enumerate(base)], "user-0")
        stored = memory.store.fetch([record_id("user-0", position) for position in range(size)])
        vectors = torch.tensor([record.embedding for record in stored])
        queue = memory.states.load("user-0", *memory.encoder.queue_shape)
        generator = torch.Generator().manual_seed(0)
        for number in range(1, namespaces):
            name = f"user-{number}"
            noisy = _jittered(vectors, generator)
            metadatas = [{**record.metadata, "namespace": name} for record in stored]
            ids = [record_id(name, record.metadata["position"]) for record in stored]
            memory.store.upsert(ids, noisy, [record.text for record in stored], metadatas)
            memory.states.save(name, queue)
        asked = (questions * (queries // len(questions) + 1))[:queries]
        for mode in MODES:
            figures = bench_query(memory, f"user-{namespaces // 2}", asked, mode=mode)
            report[f"query_{mode}_p50_ms_in_{namespaces}_namespaces"] = figures["p50_ms"]
            report[f"query_{mode}_p95_ms_in_{namespaces}_namespaces"] = figures["p95_ms"]
    return report


def locomo_turns(path: Path, count: int) -> tuple[list[dict], list[str]]:
    """The first ``count`` turns of the first conversation as messages, and its questions."""
    conversation = load_locomo(path)[0]
    messages = [turn.as_message() for turn in conversation.turns[:count]]
    return messages, [q.question for q in conversation.questions]


def locomo_texts(path: Path, count: int) -> tuple[list[str], list[str]]:
    """The first ``count`` turns of the first conversation as the texts the benchmarks encode ("name: content"),
    and its questions."""
    messages, questions = locomo_turns(path, count)
    return [f"{m['name']}: {m['content']}" for m in messages], questions


def run_bench(
    model: str | None,
    data: Path,
    turns: int = 300,
    repeats: int = 3,
    scaling: bool = True,
    show_progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict:
    """Every figure: ingest three ways (with and without the key/value cache), query encoding with and without
    it, peak memory, and (``scaling``) linearity of ingest cost and query latency at 1K/10K/100K segments. A
    conversation with fewer than ``turns`` turns is benchmarked whole, said through ``echo``."""
    from .model.loading import load_encoder

    encoder = load_encoder(model)
    texts, questions = locomo_texts(data, turns)
    if len(texts) < turns:
        echo(f"note: {data} has {len(texts)} turns, fewer than the {turns} asked: benchmarking {len(texts)}")
    stages: dict[str, Callable[[], dict]] = {
        "ingest": lambda: bench_ingest(encoder, texts, repeats),
        "query encode": lambda: bench_query_encode(encoder, texts, questions),
        "peak memory": lambda: bench_peak_memory(model, texts),
    }
    if scaling:
        stages["linearity"] = lambda: bench_linearity(encoder, texts)
        stages["query scaling"] = lambda: bench_query_scaling(encoder, texts, questions)
        stages["many namespaces"] = lambda: bench_many_namespaces(encoder, texts, questions)
    report: dict = {}
    with tqdm(stages.items(), desc="bench", unit="stage", disable=not show_progress) as bar:
        for name, stage in bar:
            bar.set_postfix_str(name)
            report.update(stage())
    return report
