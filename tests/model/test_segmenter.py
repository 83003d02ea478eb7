"""Segmenting messages and documents on token boundaries."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from evomem.model.backbone import resolve_backbone_dir
from evomem.model.segmenter import Segmenter
from evomem.schema import Message


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone_dir("embedded:all-MiniLM-L6-v2"))
    return Segmenter(tokenizer, max_tokens=32, overlap=4, reserved=2)


def test_short_message_is_one_segment(segmenter):
    assert segmenter.split_message(Message("Hello there", name="Maya")) == ["Maya: Hello there"]
    assert segmenter.split_message(Message("Hi", role="assistant")) == ["assistant: Hi"]


def test_long_message_splits_with_overlap_and_keeps_original_text(segmenter):
    content = " ".join(f"Word{i} keeps its Case." for i in range(40))
    parts = segmenter.split_message(Message(content, name="Leo"))
    assert len(parts) > 3
    for part in parts:
        assert part.startswith("Leo: ")
        assert part[len("Leo: ") :] in content
        assert segmenter.count(part) <= 30
    first, second = parts[0][len("Leo: ") :], parts[1][len("Leo: ") :]
    assert first[-8:] in second  # the overlap repeats the end of the previous part


def test_document_splits_on_sentences_and_paragraphs(segmenter):
    text = "First paragraph one. It has two sentences.\n\nSecond paragraph here. " + "Long tail sentence. " * 12
    chunks = segmenter.split_document(text)
    assert chunks[0] == "First paragraph one. It has two sentences."
    assert all(segmenter.count(chunk) <= 30 for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == "".join(text.split())
