"""evomem: long-term memory for LLM agents with evolvable embeddings (EvoEmbedding)."""

from .config import EvoConfig
from .encoder import EvoEncoder
from .memory import EvoMemory
from .queue import LatentQueue
from .schema import Hit, Message, Segment
from .space import StoreFullError
from .state import StateCorruptedError, StateMissingError
from .store import StoreCorruptedError

__all__ = [
    "EvoConfig",
    "EvoEncoder",
    "EvoMemory",
    "Hit",
    "LatentQueue",
    "Message",
    "Segment",
    "StateCorruptedError",
    "StateMissingError",
    "StoreCorruptedError",
    "StoreFullError",
]
__version__ = "0.1.0"
