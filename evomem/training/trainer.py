"""The EvoEmbedding trainer: recurrent forward over each sample's segments, L = L_con + L_mem (+ regulariser).

Each sample is read exactly as at inference (latent queue, dynamic segment-batching); its query is encoded with
the final memory. Checkpoints (safetensors + JSON, no pickle) let a later session resume where one stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..config import EvoConfig
from ..encoder import EvoEncoder
from ..evaluation.plain import plain_recall
from ..models import load_encoder
from ..queue import LatentQueue
from ..stream import encode_stream
from .data import load_records
from .losses import contrastive_loss, memory_loss, static_regulariser

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
    gradient_checkpointing: bool = False
    seed: int = 0
    checkpoint_every: int = 50
    eval_every: int = 100
    dev_samples: int = 200


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.output = Path(config.output)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.encoder = self._build_encoder().to(self.device)
        if config.gradient_checkpointing:
            self.encoder.backbone.base_model.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
        self.records = load_records(Path(config.data))
        self.dev = load_records(Path(config.dev_data))[: config.dev_samples] if config.dev_data else []
        params = [p for name, p in self.encoder.named_parameters() if p.requires_grad or "lora_" in name]
        for p in params:
            p.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.step = 0

    def _build_encoder(self) -> EvoEncoder:
        if not self.config.init_model:
            return EvoEncoder(EvoConfig(queue_steps=1) if self.config.no_queue else EvoConfig())
        encoder = load_encoder(self.config.init_model)
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

    # ----- one sample ---------------------------------------------------------------------------------------

    def _read(self, record: dict) -> tuple[torch.Tensor, torch.Tensor, LatentQueue]:
        """Segment vectors and the query vector, read as at inference."""
        vectors, queue = self._read_segments(record["segments"])
        query = self.encoder.encode_queries(queue.latents, queue.latent_steps(), [record["query"]])[0]
        return vectors, query, queue

    def _read_segments(self, segments: list[str]) -> tuple[torch.Tensor, LatentQueue]:
        """Segment vectors read in order from a fresh latent queue, and the queue after the last one."""
        queue = self.encoder.new_queue()
        vectors = encode_stream(self.encoder, queue, self.encoder.tokenize(segments), self.config.segment_batching)
        return vectors, queue

    def _sample_losses(self, record: dict) -> dict[str, torch.Tensor]:
        vectors, query, queue = self._read(record)
        losses = {
            "con": contrastive_loss(query, vectors, record["evidence"], self.config.tau, self.config.length_weighting)
        }
        if self.config.memory_loss_weight > 0:
            losses["readout"] = self.encoder.read_with_base(queue.latents, queue.latent_steps(), [record["query"]])[0]
        if self.config.regulariser_weight > 0:
            with torch.no_grad():
                targets = self.encoder.embed_static(record["segments"])
                query_target = self.encoder.embed_static([record["query"]])
            losses["reg"] = static_regulariser(torch.cat([vectors, query[None]]), torch.cat([targets, query_target]))
        return losses

    # ----- the loop -----------------------------------------------------------------------------------------

    def train(self, resume: bool = True) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        (self.output / "train_config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2))
        if resume and (self.output / CHECKPOINT / STATE_FILE).exists():
            self._load_checkpoint()
        self.encoder.train()
        order = self._order()
        bar = tqdm(total=self.config.steps, initial=self.step, desc="train", unit="step")
        log = open(self.output / "log.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open for the loop
        try:
            while self.step < self.config.steps:
                started = time.perf_counter()
                torch.manual_seed(self.config.seed * 1_000_003 + self.step)  # dropout: same masks when resumed
                batch = [self.records[i] for i in order[self.step]]
                figures = self._train_step(batch)
                figures.update(
                    step=self.step + 1, lr=self.scheduler.get_last_lr()[0], seconds=time.perf_counter() - started
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

    def _order(self) -> list[list[int]]:
        """Sample indices of every step, fixed by the seed, so a resumed run sees the same batches."""
        rng = random.Random(self.config.seed)
        order, pool = [], []
        for _ in range(self.config.steps):
            batch = []
            while len(batch) < self.config.batch_size:
                if not pool:
                    pool = list(range(len(self.records)))
                    rng.shuffle(pool)
                batch.append(pool.pop())
            order.append(batch)
        return order

    def _train_step(self, batch: list[dict]) -> dict[str, float]:
        # bf16 autocast on CUDA; full precision on CPU
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            figures, loss = self._batch_loss(batch)
        loss.backward()
        figures["grad_norm"] = float(
            torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.config.max_grad_norm)
        )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        figures["loss"] = loss.item()
        return figures

    def _batch_loss(self, batch: list[dict]) -> tuple[dict[str, float], torch.Tensor]:
        per_sample = [self._sample_losses(record) for record in batch]
        con = torch.stack([losses["con"] for losses in per_sample]).mean()
        loss = con
        figures = {"con": con.item()}
        if self.config.memory_loss_weight > 0:
            with torch.no_grad():
                targets = self.encoder.embed_static([str(record.get("answer", "")) for record in batch])
            mem = memory_loss(torch.stack([losses["readout"] for losses in per_sample]), targets, self.config.tau)
            loss = loss + self.config.memory_loss_weight * mem
            figures["mem"] = mem.item()
        if self.config.regulariser_weight > 0:
            reg = torch.stack([losses["reg"] for losses in per_sample]).mean()
            loss = loss + self.config.regulariser_weight * reg
            figures["reg"] = reg.item()
        return figures, loss

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Evidence recall on held-apart samples, evolvable vs the frozen static base, overall and per source
        (synthetic, msc, document); then the plain query/passage check."""
        self.encoder.eval()
        scores: dict[str, list[float]] = defaultdict(list)  # figure name -> one recall per dev record
        for record in self.dev:
            vectors, query, _ = self._read(record)
            static_vectors = self.encoder.embed_static(record["segments"])
            static_query = self.encoder.embed_static([record["query"]])[0]
            evidence = set(record["evidence"])
            groups = ("dev", f"dev_{record.get('source', 'synthetic').split(':')[0]}")
            for system, segs, q in (("", vectors, query), ("_static", static_vectors, static_query)):
                ranking = torch.argsort(segs @ q, descending=True).tolist()
                for k in (1, 5):
                    found = len(set(ranking[:k]) & evidence) / len(evidence)
                    for group in groups:
                        scores[f"{group}{system}_r@{k}"].append(found)
        figures = {name: 100 * sum(values) / len(values) for name, values in scores.items()}
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
