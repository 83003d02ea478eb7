"""Where a query's encoding with a namespace's full memory spends its time (issue 14): cProfile of 40 queries,
beside the same queries through the backbone alone (what a static encoder of it pays).

usage: python scripts/profile_query.py [--model DIR] (reads LoCoMo dev from ../shared; 300 turns of its first
conversation fill the memory, as in `evomem bench`)."""

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import torch

from evomem.bench import locomo_texts
from evomem.model.loading import load_encoder
from evomem.model.stream import encode_stream

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=None)
parser.add_argument("--queries", type=int, default=40)
args = parser.parse_args()

encoder = load_encoder(args.model)
texts, questions = locomo_texts(Path(__file__).resolve().parents[2] / "shared/data/locomo-dev/locomo_dev.json", 300)
asked = (questions * (args.queries // len(questions) + 1))[: args.queries]
queue = encoder.new_queue()
with torch.inference_mode():
    encode_stream(encoder, queue, encoder.tokenize(texts))
    for question in asked[:3]:  # warm: the memory's keys and values are cached, as in a namespace already read
        encoder.encode_queries(queue, [question])
    began = time.perf_counter()
    for question in asked:
        encoder.encode_queries(queue, [question])
    print(f"{1000 * (time.perf_counter() - began) / len(asked):.1f} ms a query, unprofiled")
    # the floor: the same token ids through the retrieval adapter's merged backbone with no memory at all, which
    # is what a static encoder of this backbone pays for the query
    backbone = encoder._merged_model("retrieval")
    alone = [torch.tensor([ids]) for ids in encoder.tokenize(asked)]
    began = time.perf_counter()
    for ids in alone:
        backbone(input_ids=ids)
    print(f"{1000 * (time.perf_counter() - began) / len(asked):.1f} ms a query through the backbone alone (no memory)")
    profile = cProfile.Profile()
    profile.enable()
    for question in asked:
        encoder.encode_queries(queue, [question])
    profile.disable()
pstats.Stats(profile).sort_stats("tottime").print_stats(25)
pstats.Stats(profile).sort_stats("cumulative").print_stats("evomem", 12)
