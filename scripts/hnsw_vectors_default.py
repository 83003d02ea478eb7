"""Issue 14 probe: segment vectors of real chat turns from the shipped default model (LoCoMo dev, every
conversation's turns in order, ingested through evomem in batches of 250), saved as .npy.

    PYTHONPATH=. python scripts/hnsw_vectors_default.py LOCOMO_DEV.json OUT.npy [MAX_TURNS]"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evomem import EvoMemory
from evomem.datasets.locomo import load_locomo
from evomem.model.loading import load_encoder


def main(data: str, out: str, most: int) -> None:
    messages = [turn.as_message() for conversation in load_locomo(data) for turn in conversation.turns][:most]
    for i, message in enumerate(messages):
        message["id"] = f"t{i}"  # dialogue ids repeat across conversations
    memory = EvoMemory(Path(tempfile.mkdtemp()) / "data", model=load_encoder(None))
    began = time.time()
    for start in range(0, len(messages), 250):
        memory.add_messages(messages[start : start + 250], namespace="real")
    ids = sorted(memory.store._ids("real"), key=lambda r: int(r.split(":")[1]))
    E = np.array([r.embedding for r in memory.store.fetch(ids)], dtype=np.float32)
    np.save(out, E)
    print(f"saved {len(E)} vectors ({len(messages)} turns, {time.time() - began:.0f} s) to {out}")
    print("missing in evomem's own check:", len(memory.check()["real"]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5000)
