"""Does int8 dynamic quantization of the linear layers keep the shipped default's recall (issue 37)? R@k on the
selection set (the late copy of data5 dev, training sources' dev splits) with the default in float32 and with
its merged backbones quantized by ``torch.ao.quantization.quantize_dynamic``, and the cosine between the two
vectors of each segment of the first stream.

    python scripts/quantized_dev.py --dev runs/data5/dev-late.jsonl [--streams 100] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

from evomem.datasets.records import parse_record
from evomem.model.encoder import EvoEncoder
from evomem.model.loading import DEFAULT_WEIGHTS
from evomem.model.stream import encode_stream
from evomem.training.dev import dev_figures


def quantized(encoder: EvoEncoder) -> EvoEncoder:
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated: this measures it, it does not ship it
        warnings.simplefilter("ignore")
        merged = {name: encoder._merged_model(name) for name in ("memory", "retrieval")}
        encoder._merged = {
            name: torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            for name, model in merged.items()
        }
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    lines = args.dev.read_text(encoding="utf-8").splitlines()[: args.streams]
    dev = [parse_record(json.loads(line), f"{args.dev}:{i + 1}") for i, line in enumerate(lines)]
    report: dict = {"dev": str(args.dev), "streams": len(dev), "questions": sum(len(s.questions) for s in dev)}
    encoders = {"float32": EvoEncoder.from_pretrained(DEFAULT_WEIGHTS)}
    encoders["int8"] = quantized(EvoEncoder.from_pretrained(DEFAULT_WEIGHTS))
    with torch.inference_mode():
        first = {n: encode_stream(e, e.new_queue(), e.tokenize(dev[0].segments)) for n, e in encoders.items()}
    cosine = (first["float32"] * first["int8"]).sum(-1)
    report["cosine_first_stream"] = {"min": cosine.min().item(), "mean": cosine.mean().item()}
    for name, encoder in encoders.items():
        began = time.perf_counter()
        report[name] = dev_figures(encoder, dev)
        report[name]["seconds"] = time.perf_counter() - began
        print(name, {k: round(v, 1) for k, v in report[name].items() if k.startswith("dev_r@") or k == "seconds"})
    if args.output is not None:
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
