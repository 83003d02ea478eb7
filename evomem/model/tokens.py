"""The tokenizer calls evomem makes, and a tokenizer that answers them from ``tokenizer.json`` alone.

``FastTokenizer`` runs the model directory's ``tokenizer.json`` through the ``tokenizers`` library, without
importing transformers: the inference path of the shipped default uses it. Other backbones keep transformers'
tokenizer, behind ``SerialTokenizer``. It answers the same calls as a
transformers tokenizer does (``TextTokenizer``), and ``tests/model/test_fast_path.py`` holds its ids and offsets
to transformers' on the same texts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from tokenizers import Tokenizer

from ..errors import InvalidInputError
from .config import read_json_object

TOKENIZER_FILE = "tokenizer.json"


class TextTokenizer(Protocol):
    """The calls evomem makes of a tokenizer (transformers' tokenizers answer them too)."""

    eos_token_id: int | None

    def __call__(
        self,
        text: Any,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        return_offsets_mapping: bool = False,
    ) -> Any: ...


class FastTokenizer:
    """A ``tokenizer.json`` tokenizer: ids with or without special tokens, truncation, character offsets."""

    def __init__(self, backend: Tokenizer, eos_token_id: int | None):
        self.backend = backend
        self.eos_token_id = eos_token_id
        backend.no_padding()  # a sentence-transformers tokenizer.json may pad and truncate on its own; the
        backend.no_truncation()  # calls truncate each encoding instead, so threads never share a setting

    @classmethod
    def load(cls, directory: Path) -> FastTokenizer:
        path = directory / TOKENIZER_FILE
        if not path.is_file():
            raise InvalidInputError(f"{directory} has no {TOKENIZER_FILE}")
        backend = Tokenizer.from_file(str(path))
        eos = _special_token(directory, "eos_token")
        return cls(backend, None if eos is None else backend.token_to_id(eos))

    def __call__(
        self,
        text: str | list[str],
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        return_offsets_mapping: bool = False,
    ) -> dict[str, Any]:
        """``{"input_ids": ...}`` (and ``"offset_mapping"``) for one text or a list, as transformers answers."""
        texts = [text] if isinstance(text, str) else list(text)
        encodings = self.backend.encode_batch(texts, add_special_tokens=False)
        if truncation and max_length is not None:  # the special tokens count, as in transformers
            room = max_length - (self.backend.num_special_tokens_to_add(False) if add_special_tokens else 0)
            for encoding in encodings:
                encoding.truncate(room)
        if add_special_tokens:
            encodings = [self.backend.post_process(encoding) for encoding in encodings]
        result: dict[str, Any] = {"input_ids": [encoding.ids for encoding in encodings]}
        if return_offsets_mapping:
            result["offset_mapping"] = [encoding.offsets for encoding in encodings]
        return {name: values[0] for name, values in result.items()} if isinstance(text, str) else result


class SerialTokenizer:
    """A transformers tokenizer whose calls run one at a time. A fast transformers tokenizer sets truncation on
    its shared Rust backend for each call, so threads that call it with different lengths (a segment's 128, a
    query's 384) get each other's truncation: measured, wrong ids in 6 of 8 threads."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.eos_token_id: int | None = tokenizer.eos_token_id
        self._lock = threading.Lock()

    def __call__(
        self,
        text: Any,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
        return_offsets_mapping: bool = False,
        **options: Any,
    ) -> Any:
        with self._lock:
            return self.tokenizer(
                text,
                add_special_tokens=add_special_tokens,
                truncation=truncation,
                max_length=max_length,
                return_offsets_mapping=return_offsets_mapping,
                **options,
            )


def _special_token(directory: Path, name: str) -> str | None:
    """A special token's text from ``tokenizer_config.json`` or ``special_tokens_map.json``."""
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        path = directory / file
        if path.is_file():
            token = read_json_object(path).get(name)
            if isinstance(token, dict):
                token = token.get("content")
            if isinstance(token, str):
                return token
    return None
