from llama_index.embeddings.evomem.base import EvoEmbedding

__all__ = ["EvoEmbedding"]
