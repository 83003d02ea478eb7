"""Every error evomem raises, under one base, ``EvoMemError``, and its one warning.

Each error also keeps the builtin base that says what kind of problem it is (``ValueError`` for a bad value,
``OSError`` for a full disk, ...), so ``except ValueError`` keeps working. Light enough for the command line.
"""

from __future__ import annotations

import errno


class EvoMemError(Exception):
    """The base of every error evomem raises on purpose."""


class InvalidInputError(EvoMemError, ValueError):
    """An argument, message or request with a value evomem refuses; the message names the problem."""


class InvalidTypeError(EvoMemError, TypeError):
    """An argument, message or request of the wrong type (or a missing one); the message names it."""


class ModelNotFoundError(EvoMemError, FileNotFoundError):
    """A model directory, or a file a model needs, that does not exist."""


class StoreNotFoundError(EvoMemError, FileNotFoundError):
    """No evomem store at the path a read was given (``EvoMemory(path, create=False)``); nothing was created."""


class StoreFullError(EvoMemError, OSError):
    """No room on the store's filesystem for a write; nothing of the batch was stored."""

    def __init__(self, detail: str):
        super().__init__(errno.ENOSPC, detail)


class AccessDeniedError(EvoMemError, PermissionError):
    """A server refused the client's API key, or the namespace is another tenant's."""


class StateCorruptedError(EvoMemError, RuntimeError):
    """A memory-state file failed its checks; it is never silently reset."""


class StateMissingError(StateCorruptedError):
    """A namespace holds stored segments but its memory-state file is gone."""


class StoreCorruptedError(EvoMemError, RuntimeError):
    """An embedded Chroma database that cannot be read."""


class LexicalIndexError(EvoMemError, RuntimeError):
    """A lexical index file that cannot be read, or belongs to another namespace."""


class JournalError(EvoMemError, RuntimeError):
    """A journal entry that cannot be read or does not match the store."""


class MemoryClosedError(EvoMemError, RuntimeError):
    """An ``EvoMemory`` used after ``close()`` (or after its ``with`` block)."""


class StoreUpgradedError(EvoMemError, RuntimeError):
    """Another process upgraded the store to a new model while this write waited; nothing was written (``EvoMemory``
    follows the new model and retries once by itself)."""


class StateDatabaseError(EvoMemError, RuntimeError):
    """The database of shared memory states (``state_url``) cannot be reached or used."""


class OtherModelWarning(UserWarning):
    """A store whose data was all written by other models (an earlier default, say), so this one sees none of it."""


def wire_name(error: BaseException) -> str:
    """The name a server sends for ``error``: a bad value or type by its builtin kind (``ValueError``,
    ``TypeError``), as the wire has always said it; anything else by its class name."""
    if isinstance(error, InvalidTypeError):
        return "TypeError"
    if isinstance(error, InvalidInputError):
        return "ValueError"
    return type(error).__name__
