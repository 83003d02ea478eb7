"""What evomem raises for a damaged store, and its one warning: a module light enough for the command line."""


class StateCorruptedError(RuntimeError):
    """A memory-state file failed its checks; it is never silently reset."""


class StateMissingError(StateCorruptedError):
    """A namespace holds stored segments but its memory-state file is gone."""


class StoreCorruptedError(RuntimeError):
    """An embedded Chroma database that cannot be read."""


class StoreNotFoundError(FileNotFoundError):
    """No evomem store at the path a read was given (``EvoMemory(path, create=False)``); nothing was created."""


class JournalError(RuntimeError):
    """A journal entry that cannot be read or does not match the store."""


class MemoryClosedError(RuntimeError):
    """An ``EvoMemory`` used after ``close()`` (or after its ``with`` block)."""


class StateDatabaseError(RuntimeError):
    """The database of shared memory states (``state_url``) cannot be reached or used."""


class OtherModelWarning(UserWarning):
    """A store whose data was all written by other models (an earlier default, say), so this one sees none of it."""
