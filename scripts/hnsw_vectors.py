"""Issue 14 probe: the 5,000 segment vectors of the reachability runs (tiny random BERT through evomem), saved as .npy.

Run from the repository: PYTHONPATH=. python scripts/hnsw_vectors.py OUT.npy"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertModel

sys.path.insert(0, "tests")
from conftest import _save_tiny, small_config  # noqa: E402

from evomem import EvoEncoder, EvoMemory  # noqa: E402


def main(out: str) -> None:
    torch.manual_seed(0)
    d = Path(tempfile.mkdtemp())
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
    )
    enc = EvoEncoder(small_config(_save_tiny(d / "tiny", BertModel(config, add_pooling_layer=False), eos=False)))
    mem = EvoMemory(d / "data", model=enc)
    for b in range(20):
        messages = [
            {"role": "user", "content": f"batch {b} message {i}: bread {i * b}", "id": f"b{b}-{i}"} for i in range(250)
        ]
        mem.add_messages(messages, namespace="big")
    ids = sorted(mem.store._ids("big"), key=lambda r: int(r.split(":")[1]))
    records = mem.store.fetch(ids)
    np.save(out, np.array([r.embedding for r in records], dtype=np.float32))
    print("saved", len(records), "vectors to", out)


if __name__ == "__main__":
    main(sys.argv[1])
