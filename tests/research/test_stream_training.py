"""Training on streams: questions at points, the truncated gradient window, the dev table (tiny backbone)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import randomize_evo_weights, small_config

from evomem import EvoEncoder
from evomem.cli import main
from evomem.datasets.records import Question, Stream, parse_record
from evomem.training.data import join_streams, load_records
from evomem.training.dev import Ranked, baseline_figures, dev_figures, recall_figures
from evomem.training.losses import memory_loss
from evomem.training.reading import Span, evidence_windows, far_negative_windows, plan_spans, read_stream
from evomem.training.trainer import Draw, TrainConfig, Trainer

WORDS = ["apple", "river", "stone", "piano", "garden", "lamp", "ticket", "violet", "harbor", "candle"]
WORDS += ["maple", "copper", "tiger", "orbit", "velvet", "meadow", "lantern", "cedar", "pebble", "falcon"]


def old_records(count: int, seed: int, longest: int = 10) -> list[dict]:
    """Single-question records in the old form: random words, the answer a word of the first evidence segment."""
    rng = random.Random(seed)
    records = []
    for number in range(count):
        segments = [" ".join(rng.sample(WORDS, 5)) for _ in range(rng.randint(4, longest))]
        evidence = sorted(rng.sample(range(len(segments)), rng.randint(1, 2)))
        answer = segments[evidence[0]].split()[0]
        source = ["synthetic", "msc"][number % 2]
        records.append(
            {"segments": segments, "query": f"where was the {answer}?", "answer": answer, "evidence": evidence}
            | {"template": "test/word", "source": source}
        )
    return records


def write_jsonl(path, records: list[dict]):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def long_streams(count: int, parts: int, seed: int) -> list[dict]:
    """Streams of ``parts`` old records read one after another, a question at the end of each part."""
    streams = [parse_record(record) for record in old_records(count * parts, seed)]
    return [join_streams(streams[i : i + parts]).to_json() for i in range(0, len(streams), parts)]


@pytest.fixture
def init(tmp_path, tiny_bert_dir):
    return randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir))).save_pretrained(tmp_path / "init")


def run_config(tmp_path, init, data, name="run", **settings) -> TrainConfig:
    defaults = {"steps": 3, "batch_size": 3, "warmup_steps": 1, "lr": 1e-3}
    return TrainConfig(data=str(data), output=str(tmp_path / name), init_model=str(init), **(defaults | settings))


def log_of(config: TrainConfig) -> list[dict]:
    return [json.loads(line) for line in (Path(config.output) / "log.jsonl").read_text().splitlines()]


# Losses of the trainer before streams (commit ffb7f63) on these records: (con, mem, reg, loss, grad_norm) a step.
BEFORE_SHORT = [
    (3.6142899990081787, 0.9659264087677002, 0.056104063987731934, 4.6363205909729, 1.3451567888259888),
    (4.5160040855407715, 0.9599404335021973, 0.04727546498179436, 5.523220062255859, 1.2785470485687256),
    (3.4221742153167725, 0.923557460308075, 0.04179473593831062, 4.387526512145996, 1.2720882892608643),
]
BEFORE_LONG = [
    (4.956587314605713, 0.9545919895172119, 0.05537177994847298, 5.966551303863525, 1.0948351621627808),
    (5.664730548858643, 0.9528209567070007, 0.04778371378779411, 6.665335178375244, 1.7065953016281128),
    (9.871127128601074, 0.9399024844169617, 0.04206874966621399, 10.853097915649414, 1.6415393352508545),
]


@pytest.mark.parametrize(
    ("longest", "settings", "before"), [(10, {}, BEFORE_SHORT), (30, {"grad_window": 0}, BEFORE_LONG)]
)
def test_old_form_records_train_exactly_as_before(tmp_path, init, longest, settings, before):
    data = write_jsonl(tmp_path / "train.jsonl", old_records(9, seed=5, longest=longest))
    config = run_config(tmp_path, init, data, **settings)
    Trainer(config).train()
    got = [tuple(row[name] for name in ("con", "mem", "reg", "loss", "grad_norm")) for row in log_of(config)]
    assert got == [pytest.approx(step, rel=1e-5) for step in before]


def test_spans_cut_at_question_points_and_window_edges():
    assert plan_spans([10, 30], 4) == [Span(0, 6, False), Span(6, 10, True), Span(10, 26, False), Span(26, 30, True)]
    assert plan_spans([10, 30], 0) == [Span(0, 10, True), Span(10, 30, True)]
    assert plan_spans([12, 10], 4) == [Span(0, 6, False), Span(6, 8, True), Span(8, 10, True), Span(10, 12, True)]
    assert plan_spans([3], 24) == [Span(0, 3, True)]
    assert evidence_windows([10, 1], 3) == [(8, 11), (0, 2)] and evidence_windows([10], 0) == []
    far = plan_spans([30], 4, evidence_windows([10], 3))
    assert far == [Span(0, 8, False), Span(8, 11, True), Span(11, 26, False), Span(26, 30, True)]
    # the hardest segments before the gradient window that are not evidence, in evidence windows
    assert far_negative_windows([7, 2, 12, 5, 3], evidence=[2], before=10, count=2, window=2) == [(6, 8), (4, 6)]
    assert far_negative_windows([12, 2], evidence=[2], before=10, count=3, window=1) == []


def test_far_negatives_are_the_far_segments_most_like_the_question(tmp_path, init):
    data = write_jsonl(tmp_path / "train.jsonl", long_streams(2, parts=3, seed=4))
    settings = {"grad_window": 2, "evidence_window": 2, "far_negatives": 1, "max_questions": 1}
    trainer = Trainer(run_config(tmp_path, init, data, **settings))
    stream = trainer.streams[0]
    question = stream.questions[-1]
    decoy = next(i for i in range(question.at - 3) if i not in question.evidence and i - 1 not in question.evidence)
    stream.segments[decoy] = question.query  # the far segment most like the question, by any encoder
    windows = trainer._extra_windows(stream, [question])
    assert windows == [evidence_windows(question.evidence, 2) + [(max(0, decoy - 1), decoy + 1)]]
    trainer.config.far_negatives = 0
    assert trainer._extra_windows(stream, [question]) == [evidence_windows(question.evidence, 2)]
    trainer.config.far_negatives = 1
    figures = trainer.accumulate_gradients([Draw(0, (len(stream.questions) - 1,))])
    assert math.isfinite(figures["loss"]) and figures["reg"] > 0


def _lora_grads(encoder: EvoEncoder, output: torch.Tensor) -> list[torch.Tensor]:
    parameters = [p for name, p in encoder.named_parameters() if "lora_" in name]
    grads = torch.autograd.grad(output.sum(), parameters, allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads, strict=True)]


def test_segments_before_the_window_get_no_gradient_but_still_condition_it(tiny_bert_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir))).train()
    encoder.requires_grad_(True)
    segments = [" ".join(random.Random(i).sample(WORDS, 5)) for i in range(14)]
    reading = read_stream(encoder, segments, plan_spans([14], 4), segment_batching=False)
    assert reading.vectors.shape[0] == 14 and sorted(reading.memory) == [10, 14]
    assert all(not g.any() for g in _lora_grads(encoder, reading.vectors[:10]))
    assert any(g.any() for g in _lora_grads(encoder, reading.vectors[10:]))
    assert not reading.memory[10].latents.requires_grad and reading.memory[14].latents.requires_grad
    far = read_stream(encoder, segments, plan_spans([14], 4, evidence_windows([5], 2)), segment_batching=False)
    assert all(any(g.any() for g in _lora_grads(encoder, far.vectors[i])) for i in (4, 5))  # the evidence window
    assert all(not g.any() for g in _lora_grads(encoder, torch.cat([far.vectors[:4], far.vectors[6:10]])))
    encoder.eval()  # no attention dropout: the two readings compute the same values
    with torch.no_grad():
        windowed = read_stream(encoder, segments, plan_spans([14], 4), segment_batching=False).vectors
        full = read_stream(encoder, segments, plan_spans([14], 0), segment_batching=False).vectors
    torch.testing.assert_close(windowed, full)


def _gradients(trainer: Trainer, draws: list[Draw], window: int) -> tuple[float, dict[str, torch.Tensor]]:
    trainer.config.grad_window = window
    trainer.optimizer.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    loss = trainer.accumulate_gradients(draws)["loss"]
    grads = {name: p.grad.clone() for name, p in trainer.encoder.named_parameters() if p.grad is not None}
    return loss, grads


def test_a_window_over_the_whole_stream_gives_the_full_backprop_gradients(tmp_path, init):
    data = write_jsonl(tmp_path / "train.jsonl", long_streams(2, parts=3, seed=1))
    trainer = Trainer(run_config(tmp_path, init, data))
    trainer.encoder.train()
    draws = [Draw(0, (0, 1, 2)), Draw(1, (1, 2))]
    longest = max(len(stream.segments) for stream in trainer.streams)
    full_loss, full = _gradients(trainer, draws, 0)
    loss, grads = _gradients(trainer, draws, longest)
    assert loss == full_loss and grads.keys() == full.keys() and len(full) > 10
    assert all(torch.equal(grads[name], full[name]) for name in full)
    short_loss, short = _gradients(trainer, draws, 2)
    assert math.isfinite(short_loss) and any(short[name].any() for name in short)
    assert any(not torch.allclose(short[name], full[name]) for name in full)


def test_stream_records_train_resume_exactly_and_log_throughput(tmp_path, init):
    data = write_jsonl(tmp_path / "train.jsonl", long_streams(4, parts=4, seed=2))
    settings = {"steps": 4, "batch_size": 2, "grad_window": 3, "max_questions": 2}
    straight = run_config(tmp_path, init, data, "straight", **settings)
    Trainer(straight).train()
    resumed = run_config(tmp_path, init, data, "resumed", **(settings | {"steps": 2, "checkpoint_every": 1}))
    Trainer(resumed).train()
    resumed.steps = 4
    Trainer(resumed).train()
    final = EvoEncoder.from_pretrained(tmp_path / "straight" / "final").evo_state_dict()
    again = EvoEncoder.from_pretrained(tmp_path / "resumed" / "final").evo_state_dict()
    start = EvoEncoder.from_pretrained(init).evo_state_dict()
    assert all(torch.equal(final[name], again[name]) for name in final)
    assert any(not torch.equal(final[name], start[name]) for name in final)
    log = log_of(straight)
    assert [row["questions"] for row in log] == [4, 4, 4, 4]  # two questions of each of two streams
    for row in log:
        assert math.isfinite(row["loss"]) and row["segments_per_s"] == pytest.approx(row["segments"] / row["seconds"])
        assert row["samples_per_s"] > 0 and row["questions_per_s"] > 0 and row["peak_rss_mb"] > 0 < row["cpu_seconds"]
    assert [row["loss"] for row in log_of(resumed)] == [row["loss"] for row in log]


def _hand_made_dev() -> list[Stream]:
    friends = [
        "the cat sat on the red mat",
        "we bought a green bicycle yesterday",
        "my sister plays the violin",
        "the bicycle has a green frame and a bell",
        "violin lessons start in june, violin lessons every june",
    ]
    return [
        Stream(
            friends,
            [  # asked at 3, BM25 would rank segment 4 first if it could see it
                Question("violin lessons in june", "", [2], 3, "t"),
                Question("green bicycle bell", "", [3, 0], 5, "t"),  # top 1 holds one of the two
            ],
            "friendsqa",
        ),
        Stream(["the cat sat on the mat", "a dog ran"], [Question("cat on the mat", "", [1], 2, "t")], "qmsum:x"),
    ]


def test_dev_table_recall_arithmetic(tiny_bert_dir):
    rankings = [Ranked("", "a", [3, 1, 2, 0], [0, 1]), Ranked("", "b", [0], [0]), Ranked("_bm25", "a", [2], [2])]
    figures = recall_figures(rankings)
    assert figures["dev_a_r@1"] == 0 and figures["dev_a_r@5"] == 100 and figures["dev_b_r@1"] == 100
    assert figures["dev_r@1"] == 50 and figures["dev_bm25_r@10"] == 100 and "dev_b_bm25_r@1" not in figures
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    baselines = baseline_figures(encoder, _hand_made_dev())
    bm25 = {name: value for name, value in baselines.items() if "_bm25_" in name}
    assert bm25 == pytest.approx(
        {"dev_bm25_r@1": 50, "dev_friendsqa_bm25_r@1": 75, "dev_qmsum_bm25_r@1": 0}
        | {f"dev{source}_bm25_r@{k}": 100 for source in ("", "_friendsqa", "_qmsum") for k in (5, 10)}
    )
    assert {name for name in baselines if "_static_" in name} == {name.replace("bm25", "static") for name in bm25}
    evolvable = dev_figures(encoder, _hand_made_dev())
    assert set(evolvable) == {name.replace("_bm25", "") for name in bm25}
    assert evolvable["dev_r@5"] == 100  # no question has more than five segments before it


def test_memory_shape_of_a_fresh_model_and_settings_that_contradict(tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", old_records(2, seed=0))
    fresh = Trainer(TrainConfig(data=str(data), output=str(tmp_path / "run"), queue_steps=8, query_tokens=2))
    assert (fresh.encoder.config.queue_steps, fresh.encoder.config.num_query_tokens) == (8, 2)
    with pytest.raises(ValueError, match="must fit"):
        Trainer(TrainConfig(data=str(data), output=str(tmp_path / "run"), queue_steps=64, query_tokens=8))
    for contradiction in ({"init_model": str(tmp_path), "queue_steps": 4}, {"no_queue": True, "queue_steps": 4}):
        with pytest.raises(ValueError, match="queue_steps"):
            TrainConfig(data=str(data), output=str(tmp_path / "run"), **contradiction).check()
    with pytest.raises(ValueError, match="tau must be above 0, got 0.0"):
        TrainConfig(data=str(data), output=str(tmp_path / "run"), tau=0.0).check()


def test_load_records_reads_both_forms_and_names_the_line(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [*old_records(1, seed=0), *long_streams(1, parts=2, seed=0)])
    old, joined = load_records(path)
    assert [q.at for q in old.questions] == [len(old.segments)] and len(joined.questions) == 2
    with open(path, "a") as handle:
        handle.write('{"segments": ["a"], "query": "q", "evidence": [3]}\n')
    with pytest.raises(ValueError, match=r"mixed.jsonl:3, question 0: evidence \[3\] not below at=1"):
        load_records(path)


def test_memory_loss_of_the_streams_adds_up_to_the_batch_loss():
    generator = torch.Generator().manual_seed(0)
    targets = torch.nn.functional.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    targets[3] = targets[1]  # an identical answer is no negative
    readouts = torch.nn.functional.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    parts = [
        memory_loss(readouts[rows], targets, 0.1, rows, reduction="sum")
        for rows in (torch.arange(2), torch.arange(2, 5))
    ]
    assert sum(parts).item() / 5 == pytest.approx(memory_loss(readouts, targets, 0.1).item(), rel=1e-6)


def test_train_command_passes_the_stream_settings(tmp_path, init):
    data = write_jsonl(tmp_path / "train.jsonl", long_streams(2, parts=3, seed=3))
    command = ["train", "--data", str(data), "--output", str(tmp_path / "run"), "--init-model", str(init)]
    settings = ["--steps", "1", "--batch-size", "2", "--warmup-steps", "1"]
    settings += ["--grad-window", "2", "--evidence-window", "2", "--max-questions", "1", "--tau", "0.05"]
    assert CliRunner().invoke(main, command + settings).exit_code == 0
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert (saved["grad_window"], saved["evidence_window"], saved["max_questions"], saved["tau"]) == (2, 2, 1, 0.05)
    assert [row["questions"] for row in log_of(run_config(tmp_path, init, data))] == [2]
    refused = CliRunner().invoke(main, command + ["--queue-steps", "8"])
    assert refused.exit_code != 0 and "fresh model" in refused.output
    far = CliRunner().invoke(main, command + settings + ["--far-negatives", "3", "--output", str(tmp_path / "far")])
    assert far.exit_code == 0 and json.loads((tmp_path / "far" / "train_config.json").read_text())["far_negatives"] == 3
    refused = CliRunner().invoke(main, command + ["--far-negatives", "1"])
    assert refused.exit_code != 0 and "evidence_window" in refused.output
    refused = CliRunner().invoke(main, command + ["--tau", "0"])
    assert refused.exit_code != 0 and "--tau" in refused.output
