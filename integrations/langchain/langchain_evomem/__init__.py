"""LangChain and LangGraph integration for evomem: long-term memory with evolvable embeddings."""

from .chat_history import EvoChatMessageHistory
from .embeddings import EvoEmbeddings
from .retrievers import EvoMemoryRetriever
from .store import EvoStore

__all__ = ["EvoChatMessageHistory", "EvoEmbeddings", "EvoMemoryRetriever", "EvoStore"]
__version__ = "0.1.0"
