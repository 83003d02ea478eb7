"""StreamEmbedder, the core of both embedding adapters: one stream per namespace, persisted where the index is."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from evomem.embedder import StreamEmbedder

TEXTS = ["Maya adopted a beagle.", "Her name is Pepper.", "Leo works at a bakery.", "He quit and joined a cafe."]
QUERIES = ["What is the dog's name?", "Where does Leo work?"]


def test_batches_continue_one_stream_and_queries_leave_it(encoder):
    at_once = StreamEmbedder(encoder, segment_batching=False).embed_documents(TEXTS)
    embedder = StreamEmbedder(encoder, segment_batching=False)
    empty_query = embedder.embed_query(QUERIES[0])
    in_two = torch.cat([embedder.embed_documents(TEXTS[:2]), embedder.embed_documents(TEXTS[2:])])
    assert torch.allclose(in_two, at_once, atol=1e-5) and embedder.step == len(TEXTS)
    queries = embedder.embed_queries(QUERIES)
    assert embedder.step == len(TEXTS)  # queries do not write memory
    assert torch.allclose(embedder.embed_query(QUERIES[1]), queries[1], atol=1e-5)
    assert not torch.allclose(queries[0], empty_query, atol=1e-4)  # ... but they read it
    embedder.reset()
    assert embedder.step == 0 and torch.allclose(embedder.embed_query(QUERIES[0]), empty_query, atol=1e-5)


def test_async_batches_enter_the_stream_in_the_order_awaited(encoder):
    embedder = StreamEmbedder(encoder, segment_batching=False)

    async def main() -> tuple[torch.Tensor, torch.Tensor]:
        batches = await asyncio.gather(*(embedder.aembed_documents([text]) for text in TEXTS))
        return torch.cat(batches), await embedder.aembed_queries(QUERIES)

    vectors, queries = asyncio.run(main())
    reference = StreamEmbedder(encoder, segment_batching=False)
    assert torch.allclose(vectors, reference.embed_documents(TEXTS), atol=1e-5)
    assert torch.allclose(queries, reference.embed_queries(QUERIES), atol=1e-5)


def test_two_namespaces_on_one_path_do_not_influence_each_other(encoder, tmp_path):
    first = StreamEmbedder(encoder, "index-a", tmp_path)
    first.embed_documents(TEXTS)
    before = first.embed_queries(QUERIES)
    second = StreamEmbedder(encoder, "index-b", tmp_path)
    second.embed_documents(["The weather in Lisbon was hot.", "Ana ran the half marathon."] * 5)
    assert torch.equal(first.embed_queries(QUERIES), before) and first.step == len(TEXTS)
    assert torch.equal(StreamEmbedder(encoder, "index-a", tmp_path).embed_queries(QUERIES), before)
    assert not torch.allclose(second.embed_queries(QUERIES), before, atol=1e-4)


@pytest.mark.system
def test_the_stream_persists_and_a_new_process_continues_it(model_dir, encoder, tmp_path):
    embedder = StreamEmbedder(encoder, "docs", tmp_path)
    embedder.embed_documents(TEXTS[:3])
    queries = embedder.embed_queries(QUERIES)
    script = textwrap.dedent(
        f"""
        import json, sys
        from evomem.embedder import StreamEmbedder
        from evomem.model.loading import load_encoder

        embedder = StreamEmbedder(load_encoder({str(model_dir)!r}), "docs", {str(tmp_path)!r})
        queries = embedder.embed_queries({QUERIES!r}).tolist()
        added = embedder.embed_documents({TEXTS[3:]!r}).tolist()
        json.dump({{"step": embedder.step, "queries": queries, "added": added}}, sys.stdout)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    result = json.loads(child.stdout)
    # read with the persisted memory; the memory's keys and values are computed here at ingest, there in one batch at
    # the first read, so the sums may round apart in the last bits on some CPUs
    assert (torch.tensor(result["queries"]) - queries).abs().max() < 1e-6
    continued = embedder.embed_documents(TEXTS[3:])  # what the child would have appended, had it not saved
    assert result["step"] == 4 and embedder.step == 5  # ... but it did: this one continued the child's stream
    expected = StreamEmbedder(encoder).embed_documents(TEXTS)[3:]
    assert torch.allclose(torch.tensor(result["added"]), expected, atol=1e-5)
    assert not torch.allclose(continued, expected, atol=1e-4)
