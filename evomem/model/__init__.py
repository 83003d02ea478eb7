"""The model: a backbone with two LoRA adapters (memory and retrieval) and the latent queue, reading a stream of
segments in order (``encoder``, ``stream``, ``queue``, ``packing``, ``kv_cache``, ``segmenter``; where models come
from: ``loading``, ``backbone``, ``config``). Imports nothing of storage or search."""
