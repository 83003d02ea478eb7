"""Plain-text retrieval check: does the evolvable model still embed ordinary query/passage pairs?

The packaged pairs (``evomem/data/plain_pairs.json``: general questions and the passage answering each, plus
passages on the same topics that answer none of them) are read the way a LlamaIndex or LangChain user embeds a
corpus: the passages as one stream, the queries with the memory that stream left. The static base is the
reference.
"""

from __future__ import annotations

import json
from importlib.resources import files

import torch

from ..model.encoder import EvoEncoder
from ..model.stream import embed_texts


def load_plain_pairs() -> tuple[list[str], list[str]]:
    """The queries, and the passages: passage i answers query i, the rest are distractors."""
    data = json.loads(files("evomem").joinpath("data/plain_pairs.json").read_text(encoding="utf-8"))
    return [p["query"] for p in data["pairs"]], [p["passage"] for p in data["pairs"]] + data["distractors"]


@torch.no_grad()
def plain_recall(encoder: EvoEncoder, segment_batching: bool = True) -> dict[str, float]:
    """R@1 (%) of the evolvable model and of the frozen static base on the packaged plain pairs."""
    queries, passages = load_plain_pairs()
    queue = encoder.new_queue()
    passage_vectors = embed_texts(encoder, queue, passages, segment_batching)
    query_vectors = encoder.encode_queries(queue, queries).float()
    static_passages, static_queries = encoder.embed_static(passages), encoder.embed_static(queries)
    expected = torch.arange(len(queries))

    def r_at_1(q: torch.Tensor, p: torch.Tensor) -> float:
        return 100 * ((q @ p.T).argmax(-1) == expected).float().mean().item()

    return {
        "plain_r@1": r_at_1(query_vectors, passage_vectors),
        "plain_static_r@1": r_at_1(static_queries, static_passages),
    }
