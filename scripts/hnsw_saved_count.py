"""Issue 14: how many elements Chroma's saved HNSW index holds after 20 x 250 upserts of the tiny model's vectors,
with no read and with one ``get`` after the first batch (the catch-up read); then the records no search reaches.

    python scripts/hnsw_saved_count.py VECTORS.npy [SYNC_THRESHOLD]"""

import glob
import pickle
import struct
import sys
import tempfile

import chromadb
import numpy as np


def main(vectors: str, sync: int) -> None:
    E = np.load(vectors)
    for mode in ("no read", "get-once"):
        path = tempfile.mkdtemp()
        client = chromadb.PersistentClient(path)
        hnsw = {"space": "cosine", "sync_threshold": sync}
        col = client.create_collection("saved", embedding_function=None, configuration={"hnsw": hnsw})
        for s in range(0, len(E), 250):
            if s == 250 and mode == "get-once":
                col.get(where={"position": {"$lt": s}}, include=["metadatas"])
            ids = [f"big:{i}" for i in range(s, s + 250)]
            col.upsert(ids=ids, embeddings=E[s : s + 250], metadatas=[{"position": i} for i in range(s, s + 250)])
        (directory,) = {f.rsplit("/", 1)[0] for f in glob.glob(path + "/*/header.bin")}
        with open(directory + "/header.bin", "rb") as header:
            elements = struct.unpack("<iQQQ", header.read(28))[3]  # version, offset, capacity, element count
        with open(directory + "/index_metadata.pickle", "rb") as saved:
            id_map = pickle.load(saved)
        probe = np.ones((1, E.shape[1]), np.float32)
        found = col.query(query_embeddings=probe, n_results=len(E), include=[])["ids"][0]
        print(
            mode,
            f"sync_threshold {sync}: saved index holds {elements} elements,",
            f"id map total_elements_added {id_map['total_elements_added']}, live ids {len(id_map['id_to_label'])};",
            f"unreachable {len(E) - len(found)}",
        )
        client.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
