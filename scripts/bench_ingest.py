"""Ingest against the static encode of the same segments (issue 37), timed in turns in one run: chat turns (the
first 300 of a LoCoMo dev conversation, read only to time them) and a document (a QMSum meeting transcript cut
by the encoder's segmenter). The evolvable encode runs on the inference path (``EvoEncoder.from_pretrained``) and,
for comparison, on the trainable one (transformers + peft, merged adapters).

    python scripts/bench_ingest.py [--threads 2] [--repeats 3] [--output results/start/ingest.json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from evomem.bench import _timed_together, evolvable_ingest, locomo_texts, static_encoder
from evomem.model.encoder import EvoEncoder
from evomem.model.loading import DEFAULT_WEIGHTS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def meeting_document(chars: int) -> str:
    meeting = json.loads((SHARED / "qmsum" / "train" / "Bed004.json").read_text(encoding="utf-8"))
    lines = [f"{turn['speaker']}: {turn['content']}" for turn in meeting["meeting_transcripts"]]
    return "\n".join(lines)[:chars]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--document-chars", type=int, default=40_000)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fast = EvoEncoder.from_pretrained(DEFAULT_WEIGHTS)
    trainable = EvoEncoder.from_pretrained(DEFAULT_WEIGHTS, trainable=True)
    static = static_encoder(fast)
    turns, _ = locomo_texts(SHARED / "locomo-dev" / "locomo_dev.json", 300)
    inputs = {"chat turns": turns, "document": fast.segmenter().split_document(meeting_document(args.document_chars))}
    report: dict = {"threads": args.threads, "load": os.getloadavg()[0]}
    for name, texts in inputs.items():
        ids = fast.tokenize(texts)
        runs = {
            "static": (lambda texts=texts: static(texts), args.repeats),
            "evolvable": (evolvable_ingest(fast, ids), args.repeats),
            "evolvable, trainable path": (evolvable_ingest(trainable, ids), args.repeats),
        }
        seconds = _timed_together(runs)
        figures = {
            "segments": len(texts),
            "tokens": sum(len(row) for row in ids),
            "seconds": seconds,
            "segments_per_s": {run: len(texts) / value for run, value in seconds.items()},
            "ratio_to_static": {run: value / seconds["static"] for run, value in seconds.items()},
        }
        report[name] = figures
        print(f"{name}: {len(texts)} segments, {figures['tokens']} tokens")
        for run, value in seconds.items():
            rate, ratio = len(texts) / value, value / seconds["static"]
            print(f"  {run:28s} {value:7.2f} s  {rate:7.1f} segments/s  {ratio:5.2f}x")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
