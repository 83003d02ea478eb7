"""evomem: long-term memory for LLM agents with evolvable embeddings (EvoEmbedding).

The public names are imported on first use, so that light modules (``evomem.schema``, the command line's help)
do not load torch, transformers or Chroma.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "EvoConfig": ".config",
    "EvoEncoder": ".encoder",
    "EvoMemory": ".memory",
    "EvoMemoryClient": ".service.client",
    "Hit": ".schema",
    "HitMetadata": ".schema",
    "LatentQueue": ".queue",
    "MemoryAPI": ".api",
    "Message": ".schema",
    "Segment": ".schema",
    "AddResult": ".schema",
    "DeleteResult": ".schema",
    "MemoryClosedError": ".errors",
    "OtherModelWarning": ".errors",
    "StateCorruptedError": ".errors",
    "StateMissingError": ".errors",
    "StoreCorruptedError": ".errors",
    "StoreFullError": ".space",
}
__all__ = [
    "AddResult",
    "DeleteResult",
    "EvoConfig",
    "EvoEncoder",
    "EvoMemory",
    "EvoMemoryClient",
    "Hit",
    "HitMetadata",
    "LatentQueue",
    "MemoryAPI",
    "MemoryClosedError",
    "Message",
    "OtherModelWarning",
    "Segment",
    "StateCorruptedError",
    "StateMissingError",
    "StoreCorruptedError",
    "StoreFullError",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import MemoryAPI
    from .config import EvoConfig
    from .encoder import EvoEncoder
    from .errors import (
        MemoryClosedError,
        OtherModelWarning,
        StateCorruptedError,
        StateMissingError,
        StoreCorruptedError,
    )
    from .memory import EvoMemory
    from .queue import LatentQueue
    from .schema import AddResult, DeleteResult, Hit, HitMetadata, Message, Segment
    from .service.client import EvoMemoryClient
    from .space import StoreFullError


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'evomem' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
