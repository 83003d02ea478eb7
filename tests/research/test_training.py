"""Training data, losses and the trainer (tiny backbone)."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
from conftest import randomize_evo_weights, small_config

from evomem import EvoEncoder
from evomem.training.data import build, load_records
from evomem.training.families import FAMILIES
from evomem.training.losses import contrastive_loss, memory_loss
from evomem.training.synth import make_sample, verify
from evomem.training.trainer import TrainConfig, Trainer


def test_every_family_produces_verified_samples_with_evidence_holding_the_answer():
    rng = random.Random(0)
    for family in FAMILIES:
        episode = family(rng, "Maya", "Leo")
        assert len(episode.questions) >= 2, family.__name__
        evidence_text = " ".join(episode.turns[i].text + " " + episode.turns[i].speaker for i in episode.evidence)
        assert all(part.strip().lower() in evidence_text.lower() for part in episode.answer.split(",")), family
    samples = [make_sample(rng, ["filler one", "filler two"]) for _ in range(300)]
    kept = [s for s in samples if verify(s)]
    assert len(kept) > 250
    assert len({s.template for s in kept}) >= 18
    for sample in kept:
        assert all(0 <= i < len(sample.segments) for i in sample.evidence)


def test_build_writes_jsonl_records(tmp_path):
    families = build(tmp_path / "d.jsonl", 50, seed=3, msc_dir=None, show_progress=False)
    records = load_records(tmp_path / "d.jsonl")
    assert len(records) == 50 == sum(families.records.values()) == sum(families.questions.values())
    (question,) = records[0].questions
    assert question.at == len(records[0].segments) and question.answer and question.template
    assert records[0].source == "synthetic" and all(0 <= i < question.at for i in question.evidence)
    again = tmp_path / "e.jsonl"
    build(again, 50, seed=3, msc_dir=None, show_progress=False)
    assert again.read_text() == (tmp_path / "d.jsonl").read_text()


def test_contrastive_loss_matches_the_formula():
    query = torch.tensor([1.0, 0.0])
    segments = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    tau = 0.5
    s = segments @ query / tau
    negatives = torch.exp(s[1])
    expected = sum(-torch.log(torch.exp(s[i]) / (torch.exp(s[i]) + negatives)) for i in (0, 2))
    loss = contrastive_loss(query, segments, [0, 2], tau)
    assert loss.item() == pytest.approx((math.log(4) / 2 * expected).item(), rel=1e-5)
    unweighted = contrastive_loss(query, segments, [0, 2], tau, length_weighting=False)
    assert unweighted.item() == pytest.approx((expected / 2).item(), rel=1e-5)


def test_memory_loss_ignores_duplicate_answers_as_negatives():
    targets = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=-1)
    readouts = targets.clone()
    loss = memory_loss(readouts, targets, tau=0.1)
    assert loss.item() < 0.01


def test_trainer_learns_checkpoints_and_resumes(tmp_path, tiny_bert_dir):
    build(tmp_path / "train.jsonl", 40, seed=1, msc_dir=None, show_progress=False)
    build(tmp_path / "dev.jsonl", 6, seed=2, msc_dir=None, show_progress=False)
    init = tmp_path / "init"
    EvoEncoder(small_config(tiny_bert_dir)).save_pretrained(init)
    config = TrainConfig(
        data=str(tmp_path / "train.jsonl"),
        dev_data=str(tmp_path / "dev.jsonl"),
        output=str(tmp_path / "run"),
        init_model=str(init),
        steps=2,
        batch_size=3,
        warmup_steps=1,
        checkpoint_every=1,
        eval_every=1,
        lr=1e-3,
    )
    Trainer(config).train()
    with open(tmp_path / "run" / "log.jsonl", "a") as log:  # a step logged after the last checkpoint, then a stop
        log.write(json.dumps({"step": 3, "loss": 1.0}) + "\n")
    config.steps = 4
    Trainer(config).train()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4]
    assert all(math.isfinite(row["loss"]) and row["con"] > 0 and "mem" in row and "reg" in row for row in log)
    assert all("dev_r@10" in row and "dev_synthetic_r@5" in row and 0 <= row["plain_r@1"] <= 100 for row in log)
    # the static base and BM25 never change: each session computes them for its first evaluation only
    assert ["dev_static_r@5" in row and "dev_synthetic_bm25_r@10" in row for row in log] == [True, False, True, False]
    assert sorted(p.name for p in (tmp_path / "run" / "steps").iterdir()) == [f"step-00000{i}" for i in range(1, 5)]
    trained = EvoEncoder.from_pretrained(tmp_path / "run" / "final")
    start = EvoEncoder.from_pretrained(init)
    assert trained.fingerprint() != start.fingerprint()
    changed = [n for n, t in trained.evo_state_dict().items() if not torch.equal(t, start.evo_state_dict()[n])]
    assert any("lora_B.memory" in n for n in changed) and any("lora_B.retrieval" in n for n in changed)
    assert any(n.startswith("latent_proj") for n in changed) and "query_tokens" in changed


def _one_step(tmp_path, init, name: str, **switches) -> dict:
    config = TrainConfig(
        data=str(tmp_path / "train.jsonl"),
        output=str(tmp_path / name),
        init_model=str(init),
        steps=1,
        batch_size=3,
        warmup_steps=1,
        **switches,
    )
    Trainer(config).train()
    return json.loads((tmp_path / name / "log.jsonl").read_text().splitlines()[-1])


def test_ablation_switches_and_gradient_checkpointing(tmp_path, tiny_bert_dir):
    build(tmp_path / "train.jsonl", 6, seed=4, msc_dir=None, show_progress=False)
    init = tmp_path / "init"
    randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir))).save_pretrained(init)
    full = _one_step(tmp_path, init, "full")
    assert _one_step(tmp_path, init, "ckpt", gradient_checkpointing=True)["loss"] == pytest.approx(
        full["loss"], rel=1e-4
    )
    sequential = _one_step(tmp_path, init, "sequential", segment_batching=False)
    assert math.isfinite(sequential["loss"]) and sequential["loss"] != full["loss"]  # k segments share a snapshot
    assert not json.loads((tmp_path / "sequential" / "train_config.json").read_text())["segment_batching"]
    assert "mem" not in _one_step(tmp_path, init, "no-mem", memory_loss_weight=0.0)
    unweighted = _one_step(tmp_path, init, "no-length", length_weighting=False)
    assert unweighted["con"] != pytest.approx(full["con"], rel=1e-3)
    no_queue = _one_step(tmp_path, init, "no-queue", no_queue=True)
    assert EvoEncoder.from_pretrained(tmp_path / "no-queue" / "final").config.queue_steps == 1
    assert no_queue["loss"] != pytest.approx(full["loss"], rel=1e-4)
