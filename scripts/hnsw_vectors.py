"""Issue 14 probe: the 5,000 segment vectors of the reachability runs (tiny random BERT through evomem), saved as .npy.

Run from the repository: PYTHONPATH=. python scripts/hnsw_vectors.py OUT.npy"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from hnsw_reachability_runs import ingest, tiny_encoder

from evomem import EvoMemory


def main(out: str) -> None:
    d = Path(tempfile.mkdtemp())
    mem = EvoMemory(d / "data", model=tiny_encoder(d))
    ingest(mem)  # the same messages as each reachability run
    ids = sorted(mem.store._ids("big"), key=lambda r: int(r.split(":")[1]))
    records = mem.store.fetch(ids)
    np.save(out, np.array([r.embedding for r in records], dtype=np.float32))
    print("saved", len(records), "vectors to", out)


if __name__ == "__main__":
    main(sys.argv[1])
