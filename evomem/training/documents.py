"""Document samples: text files cut by a sliding window, with inverse-cloze queries.

A document is split into sentences and read as a stream of windows (``window`` sentences, advancing by
``stride``). One sentence is taken out of the text and becomes the query; the windows holding both of its
neighbours (where it would have sat) are the evidence. The query is then answerable only from its surroundings,
the way a question is answerable only from the passage it was asked about (the inverse cloze task). The
sentence is removed from the stream, so the answer is never a verbatim copy of the query.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import InvalidInputError
from .synth import Sample, draw

TEXT_SUFFIXES = (".txt", ".md", ".rst")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
WORD = re.compile(r"[a-z0-9]{4,}")


def find_text_files(paths: Iterable[Path]) -> list[Path]:
    """The text files named, and those under the directories named (``.txt``, ``.md``, ``.rst``), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"document path {path} does not exist")
    return sorted(set(found))


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, paragraphs flattened; fragments under four words are joined to the previous one."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        for sentence in SENTENCE_END.split(flat):
            if sentences and len(sentence.split()) < 4:
                sentences[-1] = f"{sentences[-1]} {sentence}"
            elif sentence:
                sentences.append(sentence)
    return sentences


def document_sample(
    rng: random.Random, sentences: list[str], source: str, window: int = 3, stride: int = 2, max_windows: int = 24
) -> Sample | None:
    """One inverse-cloze sample from a random stretch of ``sentences``; None when the stretch is too short."""
    span = window + stride * (max_windows - 1)
    if len(sentences) < window + 2 * stride:
        return None
    start = rng.randrange(max(1, len(sentences) - span + 1))
    stretch = sentences[start : start + span]
    candidates = [i for i, s in enumerate(stretch) if 8 <= len(s.split()) <= 60 and 0 < i < len(stretch) - 1]
    if not candidates:
        return None
    taken = rng.choice(candidates)
    kept = stretch[:taken] + stretch[taken + 1 :]
    # the removed sentence sat between kept[taken - 1] and kept[taken]: the windows holding both are evidence
    starts = range(0, max(1, len(kept) - window + 1), stride)
    segments = [" ".join(kept[first : first + window]) for first in starts]
    evidence = [n for n, first in enumerate(starts) if first <= taken - 1 and taken <= first + window - 1]
    query = stretch[taken]
    held = [segments[i] for i in evidence]
    if not evidence or any(query in text for text in held) or not shares_content(query, held):
        return None
    origin = f"document:{source}"
    return Sample(segments, query, segments[evidence[0]], evidence, "document/inverse_cloze", origin, origin)


def shares_content(query: str, evidence: list[str]) -> bool:
    """The evidence repeats at least one content word of the query (it is about the same thing)."""
    words = set(WORD.findall(query.lower()))
    return any(words & set(WORD.findall(text.lower())) for text in evidence)


def document_samples(paths: Iterable[Path], count: int, seed: int) -> list[Sample]:
    """``count`` verified inverse-cloze samples drawn from the text files under ``paths``."""
    documents = [(p.name, split_sentences(p.read_text(encoding="utf-8", errors="replace"))) for p in paths]
    documents = [(name, sentences) for name, sentences in documents if len(sentences) >= 7]
    if not documents:
        raise InvalidInputError("no document has enough sentences (at least 7) to build samples from")
    rng = random.Random(seed)

    def make() -> Sample | None:
        name, sentences = rng.choice(documents)
        return document_sample(rng, sentences, name)

    return draw(make, count, "document")
