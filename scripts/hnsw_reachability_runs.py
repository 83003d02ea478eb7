"""Issue 14: records of a namespace that no search reaches after evomem ingests 20 batches of 250 near-duplicate
messages (tiny random BERT), over several runs in one process, each in a new directory.

    PYTHONPATH=<evomem tree> python scripts/hnsw_reachability_runs.py RUNS [HNSW-JSON]

HNSW-JSON replaces ``evomem.storage.store.HNSW`` (the collections' HNSW configuration). Prints one JSON line per run."""

import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import _save_tiny, small_config  # noqa: E402

import evomem.storage.store  # noqa: E402
from evomem import EvoEncoder, EvoMemory  # noqa: E402


def tiny_encoder(directory: Path) -> EvoEncoder:
    """The tests' tiny random BERT (seed 0) as an evomem encoder, saved under ``directory``."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
    )
    return EvoEncoder(
        small_config(_save_tiny(directory / "tiny", BertModel(config, add_pooling_layer=False), eos=False))
    )


def ingest(memory: EvoMemory) -> None:
    """20 batches of 250 near-duplicate one-segment messages into namespace ``big``."""
    for b in range(20):
        messages = [
            {"role": "user", "content": f"batch {b} message {i}: bread {i * b}", "id": f"b{b}-{i}"} for i in range(250)
        ]
        memory.add_messages(messages, namespace="big")


def main(runs: int, hnsw: dict | None) -> None:
    if hnsw is not None:
        evomem.storage.store.HNSW = hnsw
    d = Path(tempfile.mkdtemp())
    enc = tiny_encoder(d)
    for run in range(runs):
        began = time.time()
        mem = EvoMemory(d / f"data{run}", model=enc)
        ingest(mem)
        missing = mem.check()["big"]
        mem.close()
        fresh = EvoMemory(d / f"data{run}", model=enc)  # the index as saved, read by a new client
        missing_reopened = fresh.check()["big"]
        fresh.close()
        print(
            json.dumps(
                {
                    "tree": evomem.__file__,
                    "hnsw": evomem.storage.store.HNSW,
                    "run": run,
                    "missing": len(missing),
                    "missing_reopened": len(missing_reopened),
                    "seconds": round(time.time() - began, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else None)
