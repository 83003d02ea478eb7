"""Cut messages and documents into segments that fit the encoder's segment token limit."""

from __future__ import annotations

import re

from ..errors import InvalidInputError
from ..schema import Message
from .tokens import TextTokenizer

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


class Segmenter:
    """Splits text on token boundaries, keeping the original characters (never decoded from tokens)."""

    def __init__(self, tokenizer: TextTokenizer, max_tokens: int, overlap: int, reserved: int):
        """``reserved`` tokens of every segment go to special tokens (CLS/SEP, BOS/EOS)."""
        self.tokenizer = tokenizer
        self.room = max_tokens - reserved
        self.overlap = overlap
        if self.room <= 2 * overlap:
            raise InvalidInputError(f"segment limit {max_tokens} leaves no room beside {reserved} special tokens")

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _windows(self, text: str, room: int) -> list[str]:
        """Overlapping windows of at most ``room`` tokens, as slices of the original text."""
        offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) <= room:
            return [text]
        step = room - self.overlap
        windows = []
        for start in range(0, len(offsets), step):
            chunk = offsets[start : start + room]
            windows.append(text[chunk[0][0] : chunk[-1][1]])
            if start + room >= len(offsets):
                break
        return windows

    def split_message(self, message: Message) -> list[str]:
        """``"{speaker}: {content}"``, cut with overlap when it exceeds the limit; every part keeps the prefix."""
        prefix = f"{message.speaker}: "
        room = self.room - self.count(prefix)
        if room <= 2 * self.overlap:
            raise InvalidInputError(f"speaker name {message.speaker!r} is too long for the segment limit")
        return [prefix + part for part in self._windows(message.content.strip(), room)]

    def join_parts(self, parts: list[str], speaker: str) -> str:
        """A message's content from its stored parts, as ``split_message`` cut it: the speaker's prefix taken off
        each part, and each part's overlap with the one before (its first ``overlap`` tokens) left out."""
        prefix = f"{speaker}: "
        texts = [part.removeprefix(prefix) for part in parts]
        content = texts[0]
        for text in texts[1:]:
            offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
            shared = offsets[min(self.overlap, len(offsets)) - 1][1] if offsets and self.overlap else 0
            if not content.endswith(text[:shared]):  # tokenised apart from its context: the longest overlap
                shared = max((n for n in range(len(text), 0, -1) if content.endswith(text[:n])), default=0)
            content += text[shared:]
        return content

    def split_document(self, text: str) -> list[str]:
        """Paragraphs, then sentences, packed greedily into chunks under the limit."""
        chunks: list[str] = []
        for paragraph in PARAGRAPH_BREAK.split(text.strip()):
            paragraph = " ".join(paragraph.split())
            if not paragraph:
                continue
            current: list[str]
            current, used = [], 0
            for sentence in SENTENCE_END.split(paragraph):
                size = self.count(sentence)
                if size > self.room:
                    if current:
                        chunks.append(" ".join(current))
                        current, used = [], 0
                    chunks.extend(self._windows(sentence, self.room))
                    continue
                if current and used + size + 1 > self.room:
                    chunks.append(" ".join(current))
                    current, used = [], 0
                current.append(sentence)
                used += size + (1 if used else 0)
            if current:
                chunks.append(" ".join(current))
        return chunks
