from llama_index.memory.evomem.base import EvoMemoryBlock

__all__ = ["EvoMemoryBlock"]
