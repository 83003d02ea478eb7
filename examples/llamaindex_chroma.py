"""LlamaIndex with evolvable embeddings over documents in Chroma: ``Settings.embed_model = EvoEmbedding()``.

The sessions of a multi-session conversation become documents (one per session, dated); LlamaIndex splits them
into nodes, EvoEmbedding reads the nodes in order as one stream, and their vectors go into a Chroma collection
through ChromaVectorStore. A query engine then answers questions with a local LLM from the nodes it retrieves.

    python examples/llamaindex_chroma.py            # LoCoMo dev (when found) or evomem's sample conversation
    python examples/llamaindex_chroma.py --short    # smoke test: the short sample, 2 questions
    python examples/llamaindex_chroma.py --openai-base-url http://localhost:8000/v1 --openai-model NAME
"""

from __future__ import annotations

import time

import chromadb
from _common import llamaindex_llm, load_conversation, parser, sessions, when, work_dir
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.embeddings.evomem import EvoEmbedding
from llama_index.vector_stores.chroma import ChromaVectorStore


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    conversation, questions = load_conversation(args)
    documents = [
        Document(
            text="\n".join(f"{turn.speaker}: {turn.content}" for turn in session),
            metadata={"session": session[0].session, "date": when(session[0].timestamp)},
        )
        for session in sessions(conversation)
    ]

    Settings.embed_model = EvoEmbedding()
    Settings.llm = llamaindex_llm(args)
    Settings.node_parser = SentenceSplitter(chunk_size=96, chunk_overlap=0)  # nodes near evomem's segment size

    client = chromadb.PersistentClient(path=str(work_dir(args) / "chroma"))
    collection = client.get_or_create_collection("sessions", configuration={"hnsw": {"space": "cosine"}})
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(documents, storage_context=storage)
    print(
        f"indexed {len(documents)} sessions as {collection.count()} nodes in Chroma "
        f"in {time.perf_counter() - started:.1f} s ({Settings.embed_model.memory_step} segments read)"
    )

    engine = index.as_query_engine(similarity_top_k=args.k)
    for question in questions:
        response = engine.query(question.question)
        print(f"\nQ: {question.question}")
        for hit in response.source_nodes:
            text = " ".join(hit.node.get_content().split())
            print(f"  session {hit.node.metadata['session']}  {hit.score:.3f}  {text[:100]}")
        print(f"A: {str(response).strip()}")
        print(f"gold: {question.answer}")


if __name__ == "__main__":
    main()
