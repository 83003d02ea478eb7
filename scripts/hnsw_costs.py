"""Issue 14: what the read-before-write fix and an exact (numpy) search would cost, at 1K/10K/100K records.

    python scripts/hnsw_costs.py [SIZES]

Per size, a raw Chroma collection of Gaussian vectors (dimension 32, evomem's HNSW configuration) is written,
then read by new clients: the first ``count`` (the fix: it loads the index and catches it up with the log), the
first query of a client that counted first and of one that did not, and the p50 of 50 top-10 queries. An exact
search is timed on a normalised float32 matrix of the default model's dimension (384): the p50 of 50 top-10
searches, and what loading the vectors from Chroma (``get`` with embeddings, dimension 32) takes."""

import json
import statistics
import sys
import tempfile
import time

import chromadb
import numpy as np

HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200}


def ms(f) -> float:
    began = time.perf_counter()
    f()
    return (time.perf_counter() - began) * 1000


def measure(n: int, rng: np.random.Generator) -> dict:
    path = tempfile.mkdtemp(prefix="hnsw-costs-")
    E = rng.standard_normal((n, 32)).astype(np.float32)
    client = chromadb.PersistentClient(path)
    col = client.create_collection("costs", embedding_function=None, configuration={"hnsw": HNSW})
    col.count()
    for s in range(0, n, 5000):
        col.upsert(ids=[str(i) for i in range(s, min(s + 5000, n))], embeddings=E[s : s + 5000])
    client.close()
    queries = rng.standard_normal((50, 32)).astype(np.float32)
    row = {"n": n}
    client = chromadb.PersistentClient(path)
    col = client.get_collection("costs", embedding_function=None)
    row["first_count_ms"] = ms(col.count)
    row["first_query_after_count_ms"] = ms(lambda: col.query(query_embeddings=queries[:1], n_results=10))
    row["query_p50_ms"] = statistics.median(
        ms(lambda q=q: col.query(query_embeddings=q[None], n_results=10)) for q in queries
    )
    row["get_embeddings_ms"] = ms(lambda: col.get(include=["embeddings"]))
    client.close()
    client = chromadb.PersistentClient(path)
    col = client.get_collection("costs", embedding_function=None)
    row["first_query_without_count_ms"] = ms(lambda: col.query(query_embeddings=queries[:1], n_results=10))
    client.close()
    X = rng.standard_normal((n, 384)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = rng.standard_normal((50, 384)).astype(np.float32)

    def exact(q: np.ndarray) -> np.ndarray:
        scores = X @ q
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]

    row["exact_384_p50_ms"] = statistics.median(ms(lambda q=q: exact(q)) for q in Q)
    row["exact_384_matrix_mb"] = round(X.nbytes / 2**20, 1)
    return row


def main(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    for n in sizes:
        row = measure(n, rng)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1000, 10000, 100000])
