"""LangChain's EvoEmbeddings and LlamaIndex's EvoEmbedding: one behaviour (evomem.embedder), real indexes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from langchain_evomem import EvoEmbeddings
from llama_index.core import Document, VectorStoreIndex
from llama_index.embeddings.evomem import EvoEmbedding

PETS = [
    "Maya adopted a three-year-old beagle. The dog is called Pepper.",
    "Maya's parents looked after Pepper during the race.",
    "Leo started at Crumb & Co, a bakery downtown, on the early shift.",
    "Leo quit the bakery and now works at a cafe in the harbour district.",
]
TRAVEL = ["Ana booked a flight to Lisbon.", "The hotel by the river was full.", "They took the night train."] * 3
QUESTION = "Who looked after the dog?"


def ranking(index: VectorStoreIndex) -> list[tuple[str, float]]:
    return [(hit.node.get_content(), hit.score) for hit in index.as_retriever(similarity_top_k=4).retrieve(QUESTION)]


def test_both_adapters_give_the_same_vectors_for_the_same_texts_and_state(evo_encoder, tmp_path):
    langchain = EvoEmbeddings(model=evo_encoder, namespace="pets", path=tmp_path / "lc")
    llama = EvoEmbedding(model=evo_encoder, namespace="pets", path=tmp_path / "li", embed_batch_size=100)
    assert np.allclose(langchain.embed_documents(PETS), llama.get_text_embedding_batch(PETS), atol=1e-6)
    assert np.allclose(langchain.embed_query(QUESTION), llama.get_query_embedding(QUESTION), atol=1e-6)
    # the state one adapter persisted is the other's stream
    swapped = EvoEmbedding(model=evo_encoder, namespace="pets", path=tmp_path / "lc")
    assert swapped.memory_step == langchain.step == len(PETS)
    assert np.allclose(swapped.get_query_embedding(QUESTION), langchain.embed_query(QUESTION), atol=1e-6)


def test_a_second_index_never_changes_the_first(evo_encoder, tmp_path):
    pets = VectorStoreIndex.from_documents(
        [Document(text=t) for t in PETS], embed_model=EvoEmbedding(model=evo_encoder, namespace="pets", path=tmp_path)
    )
    before = ranking(pets)
    travel_model = EvoEmbedding(model=evo_encoder, namespace="travel", path=tmp_path)
    VectorStoreIndex.from_documents([Document(text=t) for t in TRAVEL], embed_model=travel_model)
    assert travel_model.memory_step == len(TRAVEL)
    assert ranking(pets) == before
    reopened = EvoEmbedding(model=evo_encoder, namespace="pets", path=tmp_path)  # the stream as persisted
    same = VectorStoreIndex(index_struct=pets.index_struct, storage_context=pets.storage_context, embed_model=reopened)
    assert ranking(same) == before


def test_a_persisted_index_ranks_the_same_in_a_new_process(evo_encoder, tmp_path):
    embed_model = EvoEmbedding(model=evo_encoder, namespace="pets", path=tmp_path)
    index = VectorStoreIndex.from_documents([Document(text=t) for t in PETS], embed_model=embed_model)
    index.storage_context.persist(persist_dir=str(tmp_path))
    script = textwrap.dedent(
        f"""
        import json, sys
        from llama_index.core import StorageContext, load_index_from_storage
        from llama_index.embeddings.evomem import EvoEmbedding

        embed_model = EvoEmbedding(namespace="pets", path={str(tmp_path)!r})
        storage = StorageContext.from_defaults(persist_dir={str(tmp_path)!r})
        index = load_index_from_storage(storage, embed_model=embed_model)
        hits = index.as_retriever(similarity_top_k=4).retrieve({QUESTION!r})
        query = embed_model.get_query_embedding({QUESTION!r})
        json.dump({{"ranking": [[h.node.get_content(), h.score] for h in hits], "query": query}}, sys.stdout)
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    result = json.loads(child.stdout)
    # equal up to float rounding: thread counts and a cold or warm key/value cache change the last bits
    assert result["query"] == pytest.approx(embed_model.get_query_embedding(QUESTION), abs=1e-6)
    expected = ranking(index)
    assert [text for text, _ in result["ranking"]] == [text for text, _ in expected]
    assert [score for _, score in result["ranking"]] == pytest.approx([score for _, score in expected], abs=1e-6)


def streams_paragraph(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    return text[text.index("**Embedding streams.**") :].split("\n\n")[0].strip()


def test_the_behaviour_is_documented_alike_in_every_readme():
    root = Path(__file__).parent
    readmes = [root.parent / "README.md", root / "langchain/README.md"]
    readmes.append(root / "llama-index/llama-index-embeddings-evomem/README.md")
    assert len({streams_paragraph(readme) for readme in readmes}) == 1
