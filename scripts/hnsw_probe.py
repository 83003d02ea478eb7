"""Issue 14 probe: how many of N stored vectors raw Chroma's HNSW can no longer return, per vector set, HNSW setting
and write pattern, and the recall of ordinary top-k searches against exact (numpy) search.

    PYTHONPATH=. python scripts/hnsw_probe.py VECTORS CONFIG MODE RUNS

VECTORS: a .npy file (e.g. from scripts/hnsw_vectors.py) or ``gauss:DIM:N:SEED``; CONFIG: JSON of the collection's
``hnsw`` configuration; MODE, how the vectors are written (in batches of 250 unless said):

- bulk: one ``add`` of all; batches: no reads in between; batches-get: a metadata ``get`` before every batch;
  get-once: one such read, after the first batch; batches-query: a top-5 query before every batch;
  batches-sleep: 50 ms between batches;
- one-collection: a second namespace's as many vectors in the same collection, the search filtered by namespace
  (evomem's first layout); reopen: a new client before every batch (as a reader process beside a writer);
- a MODE ending in ``+shuffle`` writes the vectors in a random order; ``count-first-MODE``: MODE after a ``count``
  of the new, empty collection.

Prints one JSON line per run."""

import json
import sys
import tempfile
import time

import chromadb
import numpy as np

BATCH = 250
K = 10
QUERIES = 500


def vectors(spec: str) -> np.ndarray:
    if spec.startswith("gauss:"):
        _, dim, n, seed = spec.split(":")
        return np.random.default_rng(int(seed)).standard_normal((int(n), int(dim))).astype(np.float32)
    return np.load(spec).astype(np.float32)


def run(E: np.ndarray, config: dict, mode: str, trial: int) -> dict:
    label = mode
    if mode.endswith("+shuffle"):  # the same vectors written in a random order
        E, mode = E[np.random.default_rng(1000 + trial).permutation(len(E))], mode.removesuffix("+shuffle")
    path = tempfile.mkdtemp(prefix="hnsw-probe-")
    client = chromadb.PersistentClient(path)
    col = client.create_collection(f"probe{trial}", embedding_function=None, configuration={"hnsw": config})
    ids = [f"big:{i}" for i in range(len(E))]
    where = None
    if mode.startswith("count-first-"):  # a read of the empty collection before its first write
        col.count()
        mode = mode.removeprefix("count-first-")
    if mode == "bulk":
        col.add(ids=ids, embeddings=E)
    else:
        other = np.random.default_rng(100 + trial).permutation(E) if mode == "one-collection" else None
        for s in range(0, len(E), BATCH):
            if s and (mode == "batches-get" or (mode == "get-once" and s == BATCH)):
                col.get(where={"position": {"$lt": s}}, include=["documents", "metadatas"])
            if s and mode == "batches-query":
                col.query(query_embeddings=E[s - 1 : s], n_results=5, include=[])
            if s and mode == "batches-sleep":
                time.sleep(0.05)
            if mode == "reopen":
                client.close()
                client = chromadb.PersistentClient(path)
                col = client.get_collection(f"probe{trial}", embedding_function=None)
                col.query(query_embeddings=E[:1], n_results=1, include=[])
            metas = [{"namespace": "big", "position": i} for i in range(s, min(s + BATCH, len(E)))]
            col.upsert(ids=ids[s : s + BATCH], embeddings=E[s : s + BATCH], metadatas=metas)
            if other is not None:
                metas = [{"namespace": "other", "position": i} for i in range(s, min(s + BATCH, len(E)))]
                col.upsert(
                    ids=[f"other:{i}" for i in range(s, s + len(metas))],
                    embeddings=other[s : s + BATCH],
                    metadatas=metas,
                )
        if other is not None:
            where = {"namespace": "big"}
    probe = np.ones((1, E.shape[1]), dtype=np.float32)
    found = set(col.query(query_embeddings=probe, n_results=len(E), where=where, include=[])["ids"][0])
    unreachable = sorted(set(ids) - found, key=lambda r: int(r.split(":")[1]))
    # ordinary searches: stored vectors as queries, top-K against exact cosine top-K
    X = E / np.linalg.norm(E, axis=1, keepdims=True)
    q = np.random.default_rng(trial).choice(len(E), QUERIES, replace=False)
    exact = np.argsort(-(X[q] @ X.T), axis=1)[:, :K]
    t = time.perf_counter()
    got = col.query(query_embeddings=E[q], n_results=K, where=where, include=[])["ids"]
    ms = (time.perf_counter() - t) * 1000 / QUERIES
    recall = np.mean(
        [len({int(r.split(":")[1]) for r in g} & set(e.tolist())) / K for g, e in zip(got, exact, strict=True)]
    )
    self_hit = np.mean([f"big:{i}" in g for i, g in zip(q, got, strict=True)])
    client.close()
    return {
        "mode": label,
        "config": config,
        "trial": trial,
        "unreachable": len(unreachable),
        "unreachable_ids": unreachable[:10],
        f"recall@{K}": round(float(recall), 4),
        "self_hit": round(float(self_hit), 4),
        "ms_per_query": round(ms, 2),
    }


def main() -> None:
    spec, config, mode, runs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    E = vectors(spec)
    for trial in range(runs):
        print(json.dumps({"vectors": spec, **run(E, config, mode, trial)}), flush=True)


if __name__ == "__main__":
    main()
