"""Synthetic training data: many template types, verified samples, answers never given away by the question."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from evomem.training.data import generate
from evomem.training.families import FAMILIES, SPEAKER_ANSWER_FAMILIES
from evomem.training.synth import make_sample, verify


@pytest.fixture(scope="module")
def samples():
    return list(generate(3000, seed=0, filler=[], show_progress=False))


def test_samples_cover_at_least_forty_template_types(samples):
    counts = Counter(sample.template for sample in samples)
    assert len(counts) >= 40, counts
    assert min(counts.values()) >= 10, counts


def test_every_sample_verifies_and_its_query_does_not_hold_the_answer(samples):
    for sample in samples:
        assert verify(sample), sample
        if not sample.template.startswith(SPEAKER_ANSWER_FAMILIES):
            assert sample.answer.lower() not in sample.query.lower(), sample


def test_raw_samples_all_pass_verification():
    rng = random.Random(1)
    failed = [s for s in (make_sample(rng, ["filler one", "filler two"]) for _ in range(2000)) if not verify(s)]
    assert not failed, failed[:3]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.__name__)
def test_family_has_three_phrasings_and_evidence_holds_the_answer(family):
    rng = random.Random(0)
    for _ in range(30):
        episode = family(rng, "Maya", "Leo")
        assert len(set(episode.questions)) >= 3, episode.questions
        assert episode.evidence and all(0 <= i < len(episode.turns) for i in episode.evidence)
        evidence = " ".join(f"{episode.turns[i].speaker}: {episode.turns[i].text}" for i in episode.evidence).lower()
        assert all(part.strip() in evidence for part in episode.answer.lower().split(",")), episode
        if not episode.family.startswith(SPEAKER_ANSWER_FAMILIES):
            assert not any(episode.answer.lower() in q.lower() for q in episode.questions), episode
