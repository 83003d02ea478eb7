"""What one request may carry; past these the server answers 413 (body) or 422 (the rest)."""

from __future__ import annotations

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_MESSAGES = 1000
MAX_K = 1000
MAX_QUERY_CHARS = 4096
MAX_IDS = 10000
