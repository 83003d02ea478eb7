"""Turns of real transcripts as segments under the model's segment limit, and the content words they share."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from transformers import AutoTokenizer

from ..model.backbone import resolve_backbone_dir
from ..model.config import EvoConfig
from ..model.segmenter import Segmenter

WORD = re.compile(r"[a-z0-9]{4,}")
# words of four letters or more that say nothing about what a turn or an answer is about
STOPWORD_TEXT = (
    "that this with have they what there about would like just know yeah really well need thing things mean "
    "then them were been from will your when which their also some more because okay right could should "
    "going think said says into only very much even does here other these those than make made want "
    "team group meeting discussed agreed suggested thought decided talked asked felt"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())
# transcripts tokenized for reading comprehension: "do n't", "gon na", "here ." -> "don't", "gonna", "here."
DETOKENIZE = (
    (re.compile(r" (n't|'s|'m|'re|'ll|'ve|'d)\b"), r"\1"),
    (re.compile(r"\b([Gg]on|[Ww]an|[Gg]ot) (na|ta)\b"), r"\1\2"),
    (re.compile(r" ([.,!?;:)])"), r"\1"),
    (re.compile(r"\( "), "("),
)


def detokenize(text: str) -> str:
    """Whitespace collapsed and tokenizer spaces before punctuation and clitics removed."""
    text = " ".join(text.split())
    for pattern, replacement in DETOKENIZE:
        text = pattern.sub(replacement, text)
    return text


def content_words(text: str) -> set[str]:
    """Lower-cased words of four or more letters, stop words left out."""
    return set(WORD.findall(text.lower())) - STOPWORDS


class TurnSplitter:
    """Cuts a ``"Speaker: text"`` turn into parts that each fit the segment limit, every part with the prefix.

    Long text is cut between sentences where it can (the project's ``Segmenter``), with no overlap, so no
    words repeat across parts; counts are in tokens of the default backbone's tokenizer.
    """

    def __init__(self, config: EvoConfig | None = None):
        config = config or EvoConfig()
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_backbone_dir(config.backbone), local_files_only=True)
        self.tokenizer.model_max_length = 10**9  # counting whole turns is not running them through the model
        self.max_tokens = config.segment_max_tokens
        self.reserved = len(self.tokenizer("")["input_ids"])

    def count(self, text: str) -> int:
        """Tokens of ``text`` as one segment, special tokens included."""
        return len(self.tokenizer(text)["input_ids"])

    def split(self, speaker: str, text: str) -> list[str]:
        prefix = f"{speaker}: "
        if self.count(prefix + text) <= self.max_tokens:
            return [prefix + text]
        prefix_tokens = self.count(prefix) - self.reserved
        segmenter = Segmenter(self.tokenizer, self.max_tokens, 0, self.reserved + prefix_tokens)
        return [prefix + part for part in segmenter.split_document(text)]


@functools.lru_cache(maxsize=1)
def default_splitter() -> TurnSplitter:
    return TurnSplitter()


@dataclass
class StreamText:
    """The segments of a stream as turns are added; ``add`` tells which segments a turn became."""

    splitter: TurnSplitter
    segments: list[str] = field(default_factory=list)

    def add(self, speaker: str, text: str) -> list[int]:
        start = len(self.segments)
        self.segments.extend(self.splitter.split(speaker, text))
        return list(range(start, len(self.segments)))
