"""The version of evomem (the core distribution, evomem-core)."""

__version__ = "0.1.0"
