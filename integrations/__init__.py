"""Framework adapters for evomem (each subfolder is its own distribution); this file only gives the shared
test fixtures in conftest.py a unique module name."""
