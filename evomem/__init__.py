"""evomem: long-term memory for LLM agents with evolvable embeddings (EvoEmbedding).

The public surface is ``__all__`` here and in ``evomem.schema`` (records and the checks of what callers pass in);
``tests/test_layers.py`` pins both. Names are imported on first use, so that light modules (``evomem.schema``, the
command line's help) do not load torch, transformers or Chroma.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

_EXPORTS = {
    "AccessDeniedError": ".errors",
    "AddResult": ".schema",
    "ChannelScores": ".schema",
    "DEFAULT_K": ".schema",
    "DEFAULT_LEXICAL_WEIGHT": ".schema",
    "DEFAULT_MODE": ".schema",
    "DeleteResult": ".schema",
    "EvoConfig": ".model.config",
    "EvoEncoder": ".model.encoder",
    "EvoMemError": ".errors",
    "EvoMemory": ".memory",
    "EvoMemoryClient": ".service.client",
    "Hit": ".schema",
    "HitMetadata": ".schema",
    "InvalidInputError": ".errors",
    "InvalidTypeError": ".errors",
    "JournalError": ".errors",
    "LatentQueue": ".model.queue",
    "LexicalIndexError": ".errors",
    "load_encoder": ".model.loading",
    "MemoryAPI": ".api",
    "MemoryClosedError": ".errors",
    "Message": ".schema",
    "ModelNotFoundError": ".errors",
    "MODES": ".schema",
    "OtherModelWarning": ".errors",
    "SearchOptions": ".schema",
    "Segment": ".schema",
    "SerialWorker": ".serial",
    "StateCorruptedError": ".errors",
    "StateDatabaseError": ".errors",
    "StateMissingError": ".errors",
    "StoreCorruptedError": ".errors",
    "StoreFullError": ".errors",
    "StoreNotFoundError": ".errors",
    "StoreUpgradedError": ".errors",
    "UpgradeReport": ".maintenance.upgrade",
    "StreamEmbedder": ".embedder",
}
__all__ = [
    "AccessDeniedError",
    "AddResult",
    "ChannelScores",
    "DEFAULT_K",
    "DEFAULT_LEXICAL_WEIGHT",
    "DEFAULT_MODE",
    "DeleteResult",
    "EvoConfig",
    "EvoEncoder",
    "EvoMemError",
    "EvoMemory",
    "EvoMemoryClient",
    "Hit",
    "HitMetadata",
    "InvalidInputError",
    "InvalidTypeError",
    "JournalError",
    "LatentQueue",
    "LexicalIndexError",
    "MODES",
    "MemoryAPI",
    "MemoryClosedError",
    "Message",
    "ModelNotFoundError",
    "OtherModelWarning",
    "SearchOptions",
    "Segment",
    "SerialWorker",
    "StateCorruptedError",
    "StateDatabaseError",
    "StateMissingError",
    "StoreCorruptedError",
    "StoreFullError",
    "StoreNotFoundError",
    "StoreUpgradedError",
    "StreamEmbedder",
    "UpgradeReport",
    "load_encoder",
]

if TYPE_CHECKING:
    from .api import MemoryAPI
    from .embedder import StreamEmbedder
    from .errors import (
        AccessDeniedError,
        EvoMemError,
        InvalidInputError,
        InvalidTypeError,
        JournalError,
        LexicalIndexError,
        MemoryClosedError,
        ModelNotFoundError,
        OtherModelWarning,
        StateCorruptedError,
        StateDatabaseError,
        StateMissingError,
        StoreCorruptedError,
        StoreFullError,
        StoreNotFoundError,
        StoreUpgradedError,
    )
    from .maintenance.upgrade import UpgradeReport
    from .memory import EvoMemory
    from .model.config import EvoConfig
    from .model.encoder import EvoEncoder
    from .model.loading import load_encoder
    from .model.queue import LatentQueue
    from .schema import (
        DEFAULT_K,
        DEFAULT_LEXICAL_WEIGHT,
        DEFAULT_MODE,
        MODES,
        AddResult,
        ChannelScores,
        DeleteResult,
        Hit,
        HitMetadata,
        Message,
        SearchOptions,
        Segment,
    )
    from .serial import SerialWorker
    from .service.client import EvoMemoryClient


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'evomem' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
