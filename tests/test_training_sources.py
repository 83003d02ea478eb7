"""Real-text training sources (documents, MSC dialogues), the data mix, and the plain-text check."""

from __future__ import annotations

import json
import random

import pytest

from evomem.evaluation.plain import load_plain_pairs, plain_recall
from evomem.models import load_encoder
from evomem.training.data import build, load_records
from evomem.training.documents import document_samples, find_text_files, split_sentences
from evomem.training.msc import dialogue_samples, load_msc_dialogues

TOPICS = ("harbour", "lighthouse", "ferry", "market", "bridge", "library", "orchard", "station", "museum", "river")


def _write_document(path, sentences: int = 60, seed: int = 0):
    rng = random.Random(seed)
    lines = []
    for number in range(sentences):
        topic, other = rng.sample(TOPICS, 2)
        lines.append(f"Sentence {number} says that the old {topic} stood beside the {other} for many quiet years.")
    path.write_text(" ".join(lines[:30]) + "\n\n" + " ".join(lines[30:]), encoding="utf-8")
    return path


def _msc_turns(rng: random.Random, count: int, trip: int) -> list[dict]:
    return [
        {
            "id": f"Speaker {1 + i % 2}",
            "text": f"I keep thinking about the {rng.choice(TOPICS)} and the {rng.choice(TOPICS)} "
            f"we saw on day {i} of trip {trip}, it was lovely.",
        }
        for i in range(count)
    ]


def _write_msc(directory, episodes: int = 4):
    (directory / "session_2").mkdir(parents=True)
    rng = random.Random(1)
    with open(directory / "session_2" / "valid.txt", "w", encoding="utf-8") as handle:
        for trip in range(episodes):
            record = {"dialog": _msc_turns(rng, 10, trip), "previous_dialogs": [{"dialog": _msc_turns(rng, 8, trip)}]}
            handle.write(json.dumps(record) + "\n")
    return directory


def test_document_samples_take_a_sentence_out_and_point_at_the_windows_around_it(tmp_path):
    _write_document(tmp_path / "a.txt")
    samples = document_samples(find_text_files([tmp_path]), count=20, seed=0)
    assert len(samples) == 20
    for sample in samples:
        assert sample.template == "document/inverse_cloze" and sample.source == "document:a.txt"
        assert sample.evidence and all(0 <= i < len(sample.segments) for i in sample.evidence)
        assert all(sample.query not in segment for segment in sample.segments)  # removed from the stream
        number = int(sample.query.split()[1])  # "Sentence N says ..."
        held = " ".join(sample.segments[i] for i in sample.evidence)
        assert f"Sentence {number - 1} " in held and f"Sentence {number + 1} " in held


def test_sentences_join_short_fragments_and_keep_paragraphs_apart():
    assert split_sentences("One two three four. Ok.\n\nA new paragraph starts here.") == [
        "One two three four. Ok.",
        "A new paragraph starts here.",
    ]


def test_document_sources_reject_missing_and_too_short_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_text_files([tmp_path / "missing"])
    (tmp_path / "short.txt").write_text("Just one sentence here.", encoding="utf-8")
    with pytest.raises(ValueError, match="enough sentences"):
        document_samples([tmp_path / "short.txt"], count=3, seed=0)


def test_msc_dialogue_samples_query_a_removed_turn_with_its_neighbours_as_evidence(tmp_path):
    dialogues = load_msc_dialogues(_write_msc(tmp_path / "msc"))
    assert len(dialogues) == 4 and [len(s) for s in dialogues[0]] == [8, 10]
    for sample in dialogue_samples(dialogues, count=10, seed=0):
        assert sample.template == "msc/inverse_cloze" and len(sample.evidence) == 2
        assert all(sample.query not in segment for segment in sample.segments)
        before, after = (sample.segments[i] for i in sample.evidence)
        assert sample.evidence[1] == sample.evidence[0] + 1 and ": " in before and ": " in after


def test_build_mixes_sources_by_share_and_validates_shares(tmp_path):
    (tmp_path / "docs").mkdir()
    _write_document(tmp_path / "docs" / "a.txt")
    families = build(
        tmp_path / "mix.jsonl",
        40,
        seed=0,
        msc_dir=_write_msc(tmp_path / "msc"),
        documents=[tmp_path / "docs"],
        msc_share=0.25,
        document_share=0.25,
        show_progress=False,
    )
    assert families["msc/inverse_cloze"] == 10 and families["document/inverse_cloze"] == 10
    assert len(load_records(tmp_path / "mix.jsonl")) == 40
    with pytest.raises(ValueError, match="must not exceed 1"):
        build(tmp_path / "x.jsonl", 4, 0, None, msc_share=0.6, document_share=0.6, show_progress=False)
    with pytest.raises(ValueError, match=r"msc_share must lie in \[0, 1\]"):
        build(tmp_path / "x.jsonl", 4, 0, None, msc_share=-0.1, show_progress=False)


def test_plain_pairs_have_one_passage_per_query_plus_distractors():
    queries, passages = load_plain_pairs()
    assert len(queries) >= 30 and len(passages) >= 2 * len(queries) - 1
    assert len(set(passages)) == len(passages)


def test_the_shipped_model_still_embeds_plain_text():
    figures = plain_recall(load_encoder(None))
    assert figures["plain_static_r@1"] >= 90  # the check is answerable
    assert figures["plain_r@1"] >= figures["plain_static_r@1"] - 5  # and the trained model has not forgotten
