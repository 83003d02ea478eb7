"""Where a search's time goes as a namespace grows (issues 14, 37): p50 of `EvoMemory.search` (in ``--mode``,
evolvable by default) with 300 and 100K segments in one namespace (grown as `evomem bench` grows it), beside the
query's encoding alone, then a cProfile of the searches at the largest size.

usage: python scripts/profile_search.py [--sizes 300,100000] [--queries 60] [--mode hybrid] (reads LoCoMo dev from
../shared)."""

import argparse
import cProfile
import pstats
from pathlib import Path

import torch

from evomem.bench import grown_namespace, latency_figures, locomo_texts
from evomem.model.loading import load_encoder

parser = argparse.ArgumentParser()
parser.add_argument("--sizes", default="300,100000")
parser.add_argument("--queries", type=int, default=60)
parser.add_argument("--mode", default="evolvable")
args = parser.parse_args()
sizes = [int(size) for size in args.sizes.split(",")]

encoder = load_encoder(None)
texts, questions = locomo_texts(Path(__file__).resolve().parents[2] / "shared/data/locomo-dev/locomo_dev.json", 300)
asked = (questions * (args.queries // len(questions) + 1))[: args.queries]


for memory, size in grown_namespace(encoder, texts, sizes):
    for question in asked[:5]:  # warm: the memory's keys and values cached, Chroma's index loaded
        memory.search(question, "scale", k=10, mode=args.mode)
    search = latency_figures(lambda q: memory.search(q, "scale", k=10, mode=args.mode), asked)["p50_ms"]  # noqa: B023
    queue = memory.states.load("scale", *encoder.queue_shape)
    with torch.inference_mode():
        encode = latency_figures(lambda q: encoder.encode_queries(queue, [q]), asked)["p50_ms"]  # noqa: B023
    print(f"{size} segments: search p50 {search:.1f} ms, the query's encoding alone p50 {encode:.1f} ms", flush=True)
    if size == sizes[-1]:
        profile = cProfile.Profile()
        profile.enable()
        for question in asked:
            memory.search(question, "scale", k=10, mode=args.mode)
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats("evomem|chromadb|sqlite", 30)
