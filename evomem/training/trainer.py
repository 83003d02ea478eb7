"""The EvoEmbedding trainer: recurrent forward over each stream's segments, L = L_con + L_mem (+ regulariser).

Each stream is read exactly as at inference (latent queue, dynamic segment-batching); a question asked at ``at``
is encoded with the memory after segment ``at - 1`` and ranks segments ``0 .. at - 1``. Only the segments in a
question's gradient window are backpropagated into (``reading.py``). Checkpoints (safetensors + JSON, no
pickle) let a later session resume where one stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..datasets.records import Question, Stream
from ..errors import InvalidInputError
from ..evaluation.plain import plain_recall
from ..model.config import EvoConfig
from ..model.encoder import EvoEncoder
from ..model.loading import load_encoder
from .data import load_records
from .dev import baseline_figures, dev_figures
from .losses import contrastive_loss, memory_loss, static_regulariser
from .reading import Reading, Span, evidence_windows, far_negative_windows, grad_window, plan_spans, read_stream

if TYPE_CHECKING:
    from transformers import PreTrainedModel

CHECKPOINT = "checkpoint"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"


@dataclass
class TrainConfig:
    data: str
    output: str
    dev_data: str | None = None
    init_model: str | None = None  # evomem model dir to start from; None = the default config
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-4
    warmup_steps: int = 50
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    tau: float = 0.1
    memory_loss_weight: float = 1.0
    regulariser_weight: float = 1.0
    length_weighting: bool = True
    segment_batching: bool = True
    no_queue: bool = False  # ablation: keep only the last step's latents (L = 1)
    queue_steps: int | None = None  # L of a fresh model (None: EvoConfig's default)
    query_tokens: int | None = None  # K of a fresh model (None: EvoConfig's default)
    grad_window: int = 24  # segments before a question that it backpropagates into; 0 = all
    evidence_window: int = 0  # each evidence segment and the ones just before it, read with grad too; 0 = none
    far_negatives: int = 0  # far segments most like a question (static cosine), read with grad as evidence is
    max_questions: int = 4  # questions of a stream per step, drawn by the seeded order; 0 = all
    gradient_checkpointing: bool = False
    seed: int = 0
    checkpoint_every: int = 50
    eval_every: int = 100
    dev_samples: int = 200  # dev streams

    def check(self) -> TrainConfig:
        """Raise ValueError on settings that contradict each other; returns self."""
        if self.tau <= 0:
            raise InvalidInputError(f"tau must be above 0, got {self.tau}")
        for name in ("grad_window", "evidence_window", "far_negatives", "max_questions"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if self.init_model and (self.queue_steps or self.query_tokens):
            raise InvalidInputError("queue_steps and query_tokens shape a fresh model; the init model has its own")
        if self.far_negatives and not self.evidence_window:
            raise InvalidInputError("far_negatives are read in windows of evidence_window segments; set it too")
        if self.no_queue and self.queue_steps:
            raise InvalidInputError("no_queue means queue_steps = 1; give one or the other")
        return self


@dataclass(frozen=True)
class Draw:
    """One stream of a step's batch and the questions asked of it in that step."""

    stream: int
    questions: tuple[int, ...]


@dataclass
class QuestionLosses:
    """What one question contributes to the batch loss."""

    con: torch.Tensor
    readout: torch.Tensor | None  # the frozen base reading [memory; query], for L_mem
    reg: torch.Tensor | None


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config.check()
        self.output = Path(config.output)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.encoder = self._build_encoder().to(self.device)
        if config.gradient_checkpointing:
            cast("PreTrainedModel", self.encoder.backbone.base_model.model).gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
        self.streams = load_records(Path(config.data))
        self.dev = load_records(Path(config.dev_data))[: config.dev_samples] if config.dev_data else []
        self.baselines_logged = False  # static and BM25 dev figures go in a run's first evaluation
        params = [p for name, p in self.encoder.named_parameters() if p.requires_grad or "lora_" in name]
        for p in params:
            p.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.step = 0

    def _build_encoder(self) -> EvoEncoder:
        if not self.config.init_model:
            shape: dict[str, Any] = {"queue_steps": 1 if self.config.no_queue else self.config.queue_steps}
            shape["num_query_tokens"] = self.config.query_tokens
            return EvoEncoder(EvoConfig(**{name: value for name, value in shape.items() if value is not None}))
        encoder = load_encoder(self.config.init_model, trainable=True)
        if self.config.no_queue and encoder.config.queue_steps != 1:
            # the evomem weights do not depend on the queue length: rebuild with L = 1 and keep them
            weights = encoder.evo_state_dict()
            encoder = EvoEncoder(dataclasses.replace(encoder.config, queue_steps=1))
            encoder.load_evo_state_dict(weights)
        return encoder

    def _lr_factor(self, step: int) -> float:
        warmup = self.config.warmup_steps
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, self.config.steps - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    # ----- one stream ---------------------------------------------------------------------------------------

    def _stream_losses(self, stream: Stream, questions: list[Question]) -> list[QuestionLosses]:
        points = [question.at for question in questions]
        extras = self._extra_windows(stream, questions)
        spans = plan_spans(points, self.config.grad_window, [pair for pairs in extras for pair in pairs])
        reading = read_stream(self.encoder, stream.segments, spans, self.config.segment_batching)
        targets = self._static_targets(stream, spans) if self.config.regulariser_weight > 0 else None
        return [
            self._question_losses(question, reading, targets, pairs)
            for question, pairs in zip(questions, extras, strict=True)
        ]

    def _extra_windows(self, stream: Stream, questions: list[Question]) -> list[list[tuple[int, int]]]:
        """For each question, the windows it reads with grad beyond its gradient window: its evidence's, then its
        far negatives' (the segments before that window most like it by the static encoder's cosine)."""
        window = self.config.evidence_window
        extras = [evidence_windows(question.evidence, window) for question in questions]
        befores = [grad_window(question.at, self.config.grad_window)[0] for question in questions]
        if self.config.far_negatives and max(befores):
            with torch.no_grad():
                static = self.encoder.embed_static([q.query for q in questions] + stream.segments[: max(befores)])
            queries, segments = static[: len(questions)], static[len(questions) :]
            for pairs, question, query, before in zip(extras, questions, queries, befores, strict=True):
                ranked = torch.argsort(segments[:before] @ query, descending=True).tolist()
                pairs += far_negative_windows(ranked, question.evidence, before, self.config.far_negatives, window)
        return extras

    @torch.no_grad()
    def _static_targets(self, stream: Stream, spans: list[Span]) -> torch.Tensor:
        """Frozen static embeddings of the segments read with grad (the other rows stay zero, never used)."""
        windowed = [i for span in spans if span.grad for i in range(span.start, span.end)]
        targets = torch.zeros(spans[-1].end, self.encoder.dim, device=self.device)
        targets[windowed] = self.encoder.embed_static([stream.segments[i] for i in windowed])
        return targets

    def _question_losses(
        self, question: Question, reading: Reading, targets: torch.Tensor | None, extra: list[tuple[int, int]]
    ) -> QuestionLosses:
        memory = reading.memory[question.at]
        query = self.encoder.encode_queries(memory, [question.query])[0]
        vectors = reading.vectors[: question.at]
        con = contrastive_loss(query, vectors, question.evidence, self.config.tau, self.config.length_weighting)
        readout = None
        if self.config.memory_loss_weight > 0:
            readout = self.encoder.read_with_base(memory, [question.query])[0]
        reg = None
        if targets is not None:
            # every segment this question reads with grad, its own window's first, stays near its static meaning
            lo, at = grad_window(question.at, self.config.grad_window)
            extra_rows = sorted({i for start, end in extra for i in range(start, end)} - set(range(lo, at)))
            rows = torch.tensor([*range(lo, at), *extra_rows], dtype=torch.long, device=self.device)
            with torch.no_grad():
                query_target = self.encoder.embed_static([question.query])
            evolvable = torch.cat([vectors[rows], query[None]])
            reg = static_regulariser(evolvable, torch.cat([targets[rows], query_target]))
        return QuestionLosses(con, readout, reg)

    # ----- the loop -----------------------------------------------------------------------------------------

    def train(self, resume: bool = True) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))
        if resume and (self.output / CHECKPOINT / STATE_FILE).exists():
            self._load_checkpoint()
        self._cut_log_to_step()
        self.encoder.train()
        order = self._order()
        bar = tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step")
        log = open(self.output / "log.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open for the loop
        try:
            while self.step < self.config.steps:
                started, cpu_started = time.perf_counter(), time.process_time()
                torch.manual_seed(self.config.seed * 1_000_003 + self.step)  # dropout: same masks when resumed
                figures = self._train_step(order[self.step])
                seconds = time.perf_counter() - started
                figures.update(
                    step=self.step + 1,
                    lr=cast(float, self.scheduler.get_last_lr()[0]),  # a float lr gives floats
                    seconds=seconds,
                    cpu_seconds=time.process_time() - cpu_started,  # on a shared machine, what the step cost
                    samples_per_s=self.config.batch_size / seconds,
                    segments_per_s=figures["segments"] / seconds,
                    questions_per_s=figures["questions"] / seconds,
                    peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                )
                self.scheduler.step()
                self.step += 1
                if self.dev and (self.step % self.config.eval_every == 0 or self.step == self.config.steps):
                    figures.update(self.evaluate())
                    self.encoder.save_pretrained(self.output / "steps" / f"step-{self.step:06d}")
                    self.encoder.train()
                log.write(json.dumps(figures) + "\n")
                log.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{figures['loss']:.3f}")
                if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                    self._save_checkpoint()
        finally:
            log.close()
            bar.close()
        self.encoder.eval()
        self.encoder.save_pretrained(self.output / "final")

    def _cut_log_to_step(self) -> None:
        """Drop log lines of steps past the checkpoint (a run stopped between checkpoints), so a resumed run's
        log holds each step once."""
        path = self.output / "log.jsonl"
        if not path.exists():
            return
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= self.step]
        if len(kept) != len(lines):
            path.write_text("".join(kept), encoding="utf-8")

    def _order(self) -> list[list[Draw]]:
        """The streams and questions of every step, fixed by the seed, so a resumed run sees the same batches."""
        rng = random.Random(self.config.seed)
        pick = random.Random(f"{self.config.seed}/questions")  # its own stream: the batches do not depend on it
        order: list[list[Draw]]
        pool: list[int]
        order, pool = [], []
        for _ in range(self.config.steps):
            batch: list[Draw] = []
            while len(batch) < self.config.batch_size:
                if not pool:
                    pool = list(range(len(self.streams)))
                    rng.shuffle(pool)
                batch.append(self._draw(pool.pop(), pick))
            order.append(batch)
        return order

    def _draw(self, stream: int, rng: random.Random) -> Draw:
        """All the stream's questions, or ``max_questions`` of them drawn at random (kept in stream order)."""
        count, limit = len(self.streams[stream].questions), self.config.max_questions
        if not limit or count <= limit:
            return Draw(stream, tuple(range(count)))
        return Draw(stream, tuple(sorted(rng.sample(range(count), limit))))

    def _train_step(self, batch: list[Draw]) -> dict[str, float]:
        figures = self.accumulate_gradients(batch)
        figures["grad_norm"] = float(
            torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.config.max_grad_norm)
        )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return figures

    def accumulate_gradients(self, batch: list[Draw]) -> dict[str, float]:
        """Backpropagate the batch loss one stream at a time; returns its terms and counts of what was read.

        The loss is L_con + w_mem L_mem + w_reg L_reg, each the mean over the batch's questions; L_mem's targets
        (the answers' static embeddings) are constants, so every term is a sum over questions and the streams'
        gradients add up to the batch's, while only one stream's graph is alive at a time.
        """
        asked = [[self.streams[draw.stream].questions[i] for i in draw.questions] for draw in batch]
        count = sum(len(questions) for questions in asked)
        answers = None
        if self.config.memory_loss_weight > 0:
            with torch.no_grad():
                answers = self.encoder.embed_static([str(q.answer) for questions in asked for q in questions])
        weights = {"con": 1.0, "mem": self.config.memory_loss_weight, "reg": self.config.regulariser_weight}
        figures = {"loss": 0.0, "segments": 0, "questions": count}
        first = 0
        for draw, questions in zip(batch, asked, strict=True):
            rows = torch.arange(first, first + len(questions), device=self.device)
            # bf16 autocast on CUDA; full precision on CPU
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                sums = self._stream_sums(self._stream_losses(self.streams[draw.stream], questions), answers, rows)
                # a tensor: ``sums`` always holds con
                loss = cast(torch.Tensor, sum(weights[name] * value for name, value in sums.items()) / count)
            loss.backward()
            for name, value in sums.items():
                figures[name] = figures.get(name, 0.0) + value.item() / count
            figures["loss"] += loss.item()
            figures["segments"] += max(question.at for question in questions)
            first += len(questions)
        return figures

    def _stream_sums(
        self, losses: list[QuestionLosses], answers: torch.Tensor | None, rows: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """A stream's share of each loss term: the sum over its questions (rows ``rows`` of the batch)."""
        sums = {"con": torch.stack([each.con for each in losses]).sum()}
        if answers is not None:
            # readouts are read when memory_loss_weight > 0, as the answers are
            readouts = torch.stack(cast("list[torch.Tensor]", [each.readout for each in losses]))
            sums["mem"] = memory_loss(readouts, answers, self.config.tau, rows, reduction="sum")
        if self.config.regulariser_weight > 0:
            # regulariser_weight > 0: every question had static targets
            sums["reg"] = torch.stack(cast("list[torch.Tensor]", [each.reg for each in losses])).sum()
        return sums

    def evaluate(self) -> dict[str, float]:
        """The dev table (evidence R@k per source; static and BM25 in a run's first evaluation only, as they
        never change), then the plain query/passage check."""
        self.encoder.eval()
        figures = dev_figures(self.encoder, self.dev, self.config.segment_batching)
        if not self.baselines_logged:
            figures.update(baseline_figures(self.encoder, self.dev))
            self.baselines_logged = True
        figures.update(plain_recall(self.encoder, self.config.segment_batching))
        return figures

    # ----- checkpoints ----------------------------------------------------------------------------------------

    def _save_checkpoint(self) -> None:
        directory = self.output / CHECKPOINT
        tmp = self.output / f"{CHECKPOINT}.tmp"
        self.encoder.save_pretrained(tmp)
        state = self.optimizer.state_dict()
        tensors = {
            f"{index}.{name}": value.detach().cpu().contiguous()
            for index, values in state["state"].items()
            for name, value in values.items()
        }
        save_file(tensors, str(tmp / OPTIMIZER_FILE))
        (tmp / STATE_FILE).write_text(
            json.dumps(
                {"step": self.step, "param_groups": state["param_groups"], "config": dataclasses.asdict(self.config)}
            )
        )
        if directory.exists():
            old = self.output / f"{CHECKPOINT}.old"
            directory.rename(old)
            tmp.rename(directory)
            for child in old.iterdir():
                child.unlink()
            old.rmdir()
        else:
            tmp.rename(directory)

    def _load_checkpoint(self) -> None:
        directory = self.output / CHECKPOINT
        meta = json.loads((directory / STATE_FILE).read_text())
        loaded = EvoEncoder.from_pretrained(directory)
        self.encoder.load_evo_state_dict(loaded.evo_state_dict())
        tensors = load_file(str(directory / OPTIMIZER_FILE))
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = value.to(self.device)
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.step = meta["step"]
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor, last_epoch=self.step - 1)
