"""EvoEmbedding with real LlamaIndex objects: VectorStoreIndex over the default store and over Chroma."""

from __future__ import annotations

import asyncio
import math

import chromadb
import numpy as np
import pytest
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.node_parser import SentenceSplitter
from llama_index.embeddings.evomem import EvoEmbedding
from llama_index.vector_stores.chroma import ChromaVectorStore

DOCUMENTS = [
    Document(text="Maya adopted a three-year-old beagle. The dog is called Pepper.", metadata={"topic": "pets"}),
    Document(text="Leo started at Crumb & Co, a bakery downtown, on the early shift.", metadata={"topic": "work"}),
    Document(text="Maya ran a half marathon in Lisbon with her sister Ana.", metadata={"topic": "sport"}),
    Document(text="Leo quit the bakery and now works at a cafe in the harbour district.", metadata={"topic": "work"}),
    Document(text="Maya's parents looked after Pepper during the race.", metadata={"topic": "pets"}),
]
TEXTS = [d.text for d in DOCUMENTS]


@pytest.fixture
def embed_model(evo_encoder) -> EvoEmbedding:
    return EvoEmbedding(model=evo_encoder)


@pytest.fixture
def settings_embed_model(embed_model):
    previous = Settings._embed_model
    Settings.embed_model = embed_model
    yield embed_model
    Settings._embed_model = previous


def test_is_a_llamaindex_embedding(embed_model):
    assert isinstance(embed_model, BaseEmbedding) and EvoEmbedding.class_name() == "EvoEmbedding"
    assert embed_model.model_name.startswith("evomem-")
    vector = embed_model.get_text_embedding("Pepper is a beagle.")
    assert len(vector) == 384 and math.isclose(np.linalg.norm(vector), 1.0, rel_tol=1e-4)


def test_one_running_stream_whatever_the_batch_size(evo_encoder):
    # Without segment batching every segment gets its own memory pass, so the stream is exactly the same
    # however the texts are split into calls.
    debug = LlamaDebugHandler()
    small = EvoEmbedding(
        model=evo_encoder, embed_batch_size=2, segment_batching=False, callback_manager=CallbackManager([debug])
    )
    large = EvoEmbedding(model=evo_encoder, embed_batch_size=100, segment_batching=False)
    by_two = small.get_text_embedding_batch(TEXTS)
    at_once = large.get_text_embedding_batch(TEXTS)
    assert len(debug.get_event_pairs(CBEventType.EMBEDDING)) == 3  # 5 texts in batches of 2: honoured
    assert np.allclose(by_two, at_once, atol=1e-4)  # ... and the stream runs across batches
    assert small.memory_step == large.memory_step == 5
    one_by_one = EvoEmbedding(model=evo_encoder, segment_batching=False)
    assert np.allclose([one_by_one.get_text_embedding(t) for t in TEXTS], at_once, atol=1e-4)
    # a fresh stream differs from the running one after its first text
    fresh = EvoEmbedding(model=evo_encoder, segment_batching=False).get_text_embedding(TEXTS[-1])
    assert float(np.dot(fresh, at_once[-1])) < 0.99999
    # with segment batching (the default) packs follow the calls: vectors stay close, not identical
    packed = EvoEmbedding(model=evo_encoder, embed_batch_size=2).get_text_embedding_batch(TEXTS)
    assert all(float(np.dot(a, b)) > 0.9 for a, b in zip(packed, at_once, strict=True))


def test_a_lone_string_is_refused_not_read_per_character(embed_model):
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        embed_model.get_text_embedding_batch("abc")
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        asyncio.run(embed_model.aget_text_embedding_batch("abc"))
    assert embed_model.memory_step == 0


def test_queries_read_the_current_memory(embed_model):
    empty = embed_model.get_query_embedding("Who looked after the dog?")
    embed_model.get_text_embedding_batch(TEXTS)
    step = embed_model.memory_step
    with_memory = embed_model.get_query_embedding("Who looked after the dog?")
    assert embed_model.memory_step == step  # queries do not write memory
    assert float(np.dot(empty, with_memory)) < 0.99999
    embed_model.reset()
    assert embed_model.memory_step == 0
    assert np.allclose(embed_model.get_query_embedding("Who looked after the dog?"), empty, atol=1e-6)


def test_async_methods_match_sync(evo_encoder):
    sync_model = EvoEmbedding(model=evo_encoder, embed_batch_size=2, segment_batching=False)
    async_model = EvoEmbedding(model=evo_encoder, segment_batching=False)
    expected = sync_model.get_text_embedding_batch(TEXTS)

    async def run():
        vectors = await async_model.aget_text_embedding_batch(TEXTS[:3])
        vectors += [await async_model.aget_text_embedding(t) for t in TEXTS[3:]]
        return vectors, await async_model.aget_query_embedding("bakery")

    vectors, query = asyncio.run(run())
    assert np.allclose(vectors, expected, atol=1e-4)
    assert np.allclose(query, sync_model.get_query_embedding("bakery"), atol=1e-4)


def test_vector_store_index_default_store(settings_embed_model):
    index = VectorStoreIndex.from_documents(DOCUMENTS)
    assert settings_embed_model.memory_step == len(DOCUMENTS)
    hits = index.as_retriever(similarity_top_k=2).retrieve("Where did Maya run her half marathon?")
    assert "Lisbon" in hits[0].node.get_content()
    assert len(hits) == 2 and hits[0].score >= hits[1].score


def test_vector_store_index_over_chroma(tmp_path, embed_model):
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.get_or_create_collection("docs", configuration={"hnsw": {"space": "cosine"}})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    splitter = SentenceSplitter(chunk_size=64, chunk_overlap=0)
    index = VectorStoreIndex.from_documents(
        DOCUMENTS, storage_context=storage, embed_model=embed_model, transformations=[splitter]
    )
    assert collection.count() == len(DOCUMENTS)
    stored = collection.get(include=["embeddings"])
    assert np.array(stored["embeddings"]).shape == (len(DOCUMENTS), 384)
    question = "Where does Leo work now?"
    hits = index.as_retriever(similarity_top_k=2).retrieve(question)
    assert {h.node.metadata["topic"] for h in hits} == {"work"}
    # reopened from the collection, with the same embedding stream, the index answers the same
    reopened = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(
            chroma_collection=chromadb.PersistentClient(path=str(tmp_path / "chroma")).get_collection("docs")
        ),
        embed_model=embed_model,
    )
    again = reopened.as_retriever(similarity_top_k=2).retrieve(question)
    assert [h.node.node_id for h in again] == [h.node.node_id for h in hits]
