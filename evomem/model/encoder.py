"""EvoEncoder: a backbone with two LoRA adapters that writes latent memory and reads with it."""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import shutil
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import InvalidInputError, ModelNotFoundError
from . import lora
from .backbone import EMBEDDED_PREFIX, backbone_digest, check_safetensors, load_backbone, resolve_backbone_dir
from .config import CONFIG_NAME, RETIRED, EvoConfig
from .kv_cache import KVCache, Prefix, Recorder, cache_argument, exact_for
from .packing import Layout, MemoryBlock, PackedBatch, ReadRow, SegmentPiece, SegmentRead, pack
from .queue import LatentQueue
from .segmenter import Segmenter

WEIGHTS_NAME = "evomem_weights.safetensors"
MEMORY_ADAPTER = "memory"
RETRIEVAL_ADAPTER = "retrieval"
BACKBONE_SUBDIR = "backbone"


def _identity_linear(dim: int) -> nn.Linear:
    layer = nn.Linear(dim, dim)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(dim))
        layer.bias.zero_()
    return layer


def default_lora_targets(model: nn.Module) -> list[str]:
    """Every linear layer inside the transformer blocks (attention and MLP), none outside them."""
    names = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if isinstance(module, nn.Linear) and ("layer" in parts or "layers" in parts or "h" in parts):
            names.append(name)
    if not names:
        raise InvalidInputError("found no linear layers inside transformer blocks; set EvoConfig.lora_targets")
    return names


class EvoEncoder(nn.Module):
    """Backbone + LoRA adapters "memory" and "retrieval" + K query tokens + three identity-initialised projections.

    Untrained (zero LoRA, identity projections) its retrieval path equals the static backbone.

    Inference (eval mode, no grad) reads the memory through ``kv_cache``, the exact cache of the latents' keys
    and values (``kv_cache.py``); set it to None to recompute them in every pass, or to a ``KVCache`` of
    another size.

    ``trainable=False`` builds an encoder for inference only: no peft layers (the adapters are plain tensors,
    given by ``load_evo_state_dict``, folded into copies of the backbone) and, for a BERT backbone, evomem's own
    model and tokenizer instead of transformers' (``bert.py``, ``tokens.py``). ``from_pretrained`` builds one by
    default; it computes what the trainable encoder computes with the same weights.
    """

    def __init__(self, config: EvoConfig | None = None, backbone_dir: Path | None = None, trainable: bool = True):
        super().__init__()
        self.trainable = trainable
        self._merged: dict[str, nn.Module] = {}
        self._merged_lock = threading.Lock()
        self.config = config or EvoConfig()
        self.config.validate()
        self.backbone_dir = backbone_dir or resolve_backbone_dir(self.config.backbone)
        base, self.tokenizer, self.info = load_backbone(self.backbone_dir, inference=not trainable)
        self._check_fits()
        self.kv_cache: KVCache | None = KVCache() if exact_for(base.config) else None
        self._cache_argument = cache_argument(base)
        # The frozen backbone without LoRA layers; merged copies of it run inference. A list keeps it out of
        # state_dict.
        self._plain_backbone = [copy.deepcopy(base).eval().requires_grad_(False) if trainable else base]
        self._adapters: dict[str, torch.Tensor] = {}  # an inference encoder's LoRA tensors, by their saved names
        if trainable:
            self.backbone = self._with_peft_adapters(base)
            self._lora_parameters = [p for name, p in self.backbone.named_parameters() if "lora_" in name]
        dim = self.info.hidden_size
        token_embeddings = cast(torch.Tensor, base.get_input_embeddings().weight).detach()
        generator = torch.Generator().manual_seed(0)
        noise = torch.randn(self.config.num_query_tokens, dim, generator=generator)
        self.query_tokens = nn.Parameter(token_embeddings.mean(0) + noise * token_embeddings.std(0))
        self.latent_proj = _identity_linear(dim)
        self.memory_head = nn.Sequential(_identity_linear(dim), nn.ReLU())
        self.embed_proj = _identity_linear(dim)
        self.eval()

    def _with_peft_adapters(self, base: nn.Module) -> Any:
        """``base`` wrapped by peft with the two adapters, zero-initialised from a fixed seed (training only)."""
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=self.config.lora_r,
            lora_alpha=self.config.lora_alpha,
            lora_dropout=self.config.lora_dropout,
            target_modules=self.config.lora_targets or default_lora_targets(base),
            init_lora_weights=True,
        )
        with torch.random.fork_rng(devices=[]):  # a fixed seed: the same config gives the same initial weights
            torch.manual_seed(0)
            with warnings.catch_warnings():  # peft reads an attribute transformers deprecated; not evomem's concern
                warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
                model = get_peft_model(base, config, adapter_name=MEMORY_ADAPTER)
            model.add_adapter(RETRIEVAL_ADAPTER, config)
        return model

    def _check_fits(self) -> None:
        c = self.config
        needed = c.capacity + c.segment_max_tokens + c.num_query_tokens
        if needed > self.info.max_positions or c.capacity + c.segment_max_tokens > c.pack_max_tokens:
            raise InvalidInputError(
                f"memory capacity {c.capacity} plus segment limit {c.segment_max_tokens} (+{c.num_query_tokens} "
                f"queries) must fit in pack_max_tokens={c.pack_max_tokens} and the backbone's "
                f"{self.info.max_positions} positions"
            )

    @property
    def dim(self) -> int:
        return self.info.hidden_size

    @property
    def device(self) -> torch.device:
        return self.query_tokens.device

    @property
    def queue_shape(self) -> tuple[int, int, int]:
        """This encoder's memory as ``LatentQueue`` takes it: latents a step (K), steps kept (L), dimension."""
        return self.config.num_query_tokens, self.config.queue_steps, self.dim

    def new_queue(self) -> LatentQueue:
        """An empty latent memory shaped for this encoder, on its device."""
        return LatentQueue(*self.queue_shape, torch.zeros(0, self.dim, device=self.device))

    def segmenter(self) -> Segmenter:
        """A segmenter for this encoder's limit, leaving room for the special tokens every segment carries."""
        reserved = len(self.tokenize([""])[0])
        return Segmenter(self.tokenizer, self.config.segment_max_tokens, self.config.segment_overlap_tokens, reserved)

    @property
    def causal(self) -> bool:
        return self.info.kind == "decoder"

    @property
    def layout(self) -> Layout:
        return Layout(self.causal, self.info.max_positions, self.config.capacity)

    @property
    def text_budget(self) -> int:
        """Tokens (segments + query tokens) one packed memory pass may hold beside a full memory."""
        return min(self.config.pack_max_tokens - self.config.capacity, self.layout.text_end - self.layout.text_start)

    # ----- tokens -------------------------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str], max_tokens: int | None = None) -> list[list[int]]:
        """Token ids with the backbone's special tokens; decoders end with the eos token they pool on."""
        limit = max_tokens or self.config.segment_max_tokens
        room = limit - 1 if self.causal else limit
        ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=room)["input_ids"]
        if self.causal:
            eos = self.tokenizer.eos_token_id
            ids = [row if row and row[-1] == eos else row + [eos] for row in ids]
        return ids

    def _embed_tokens(self, ids: list[int]) -> torch.Tensor:
        embedding = (self.backbone if self.trainable else self._plain_backbone[0]).get_input_embeddings()
        return embedding(torch.tensor(ids, dtype=torch.long, device=embedding.weight.device))

    def _projected(self, block: MemoryBlock | None) -> MemoryBlock | None:
        return None if block is None else dataclasses.replace(block, embeds=self.latent_proj(block.embeds))

    def _run(self, adapter: str | None, rows: list) -> tuple[torch.Tensor, list[list[tuple[int, int]]]]:
        """Forward packed rows through one adapter, or (``adapter=None``) through the frozen base model.

        In inference the memory's keys and values come from ``kv_cache`` and only the text runs.
        """
        if adapter is None:
            model = self._plain_backbone[0]
        elif self.trainable and (self.training or torch.is_grad_enabled()):
            self.backbone.set_adapter(adapter)
            for parameter in self._lora_parameters:  # set_adapter freezes the other adapter; both train
                parameter.requires_grad_(True)
            model = self.backbone
        else:
            model = self._merged_model(adapter)
        cached = self.kv_cache is not None and not self.training and not torch.is_grad_enabled()
        if cached and any(memory is not None and memory.embeds.shape[0] for memory, _ in rows):
            compute = functools.partial(self._group_kv, model)
            assert self.kv_cache is not None  # ``cached`` says so
            prefix = self.kv_cache.prefix(adapter or "base", [memory for memory, _ in rows], compute)
            batch = pack(self.layout, rows, prefix=True)
            return self._forward(model, batch, prefix), batch.spans
        batch = pack(self.layout, [(self._projected(memory), segments) for memory, segments in rows])
        return self._forward(model, batch), batch.spans

    def _forward(self, model: nn.Module, batch: PackedBatch, cache: Prefix | Recorder | None = None) -> torch.Tensor:
        inputs: dict[str, torch.Tensor | Prefix | Recorder] = {
            "inputs_embeds": batch.inputs_embeds,
            "attention_mask": batch.attention_mask,
            "position_ids": batch.position_ids,
        }
        if cache is not None:
            inputs[self._cache_argument] = cache
        return model(**inputs).last_hidden_state

    def _group_kv(self, model: nn.Module, groups: list[MemoryBlock]) -> torch.Tensor:
        """Every layer's keys and values of write groups, each read alone: (groups, layers, 2, heads, n, head_dim)."""
        recorder = Recorder()
        self._forward(model, pack(self.layout, [(self._projected(group), []) for group in groups]), recorder)
        layers = cast(Any, model.config).num_hidden_layers  # a transformers config or a bert.BertConfig
        if len(recorder.layers) != layers:
            raise RuntimeError(
                f"the backbone handed {len(recorder.layers)} of {layers} layers' keys and values to its cache; "
                "set encoder.kv_cache = None"
            )
        return recorder.stacked()

    def _merged_model(self, adapter: str) -> nn.Module:
        """Inference shortcut: a copy of the plain backbone with the adapter's LoRA delta folded into its weights.

        One copy per adapter, so threads running different adapters never share swapped weights; rebuilt when
        the weights may have changed (``train()``, loading weights).
        """
        with self._merged_lock:
            if adapter not in self._merged:
                tensors = {name: t for name, t in self.evo_state_dict().items() if ".lora_" in name}
                scaling = self.config.lora_alpha / self.config.lora_r
                self._merged[adapter] = lora.merged(self._plain_backbone[0], tensors, adapter, scaling)
            return self._merged[adapter]

    def train(self, mode: bool = True) -> EvoEncoder:
        """Train mode for the adapters and projections. The frozen backbone's dropout layers stay off; its attention
        dropout (applied by the attention modules themselves at the config's rate) stays active as a regulariser."""
        if mode and not self.trainable:
            raise InvalidInputError(
                "this encoder was loaded for inference; load it with EvoEncoder.from_pretrained(directory, "
                "trainable=True) to train it"
            )
        self._weights_changed()
        super().train(mode)
        if not self.trainable:
            return self
        for name, module in self.backbone.named_modules():
            if isinstance(module, nn.Dropout) and "lora_" not in name:
                module.eval()
        return self

    # ----- memory evolution -----------------------------------------------------------------------------------

    def write_memory(self, memory: MemoryBlock, segments: Sequence[list[int]]) -> torch.Tensor:
        """One packed memory pass: the new latents (k, K, D) that k segments (token ids) write.

        Every segment reads the whole memory and the earlier segments of the pass.
        """
        window = (0, len(memory))
        pieces = [
            SegmentPiece(torch.cat([self._embed_tokens(ids), self.query_tokens]), window, sees_previous=True)
            for ids in segments
        ]
        hidden, (spans,) = self._run(MEMORY_ADAPTER, [(memory, pieces)])
        k = self.config.num_query_tokens
        return self.memory_head(torch.stack([hidden[0, end - k : end] for _, end in spans]))

    # ----- representation ---------------------------------------------------------------------------------------

    def represent(self, rows: Sequence[ReadRow]) -> list[torch.Tensor]:
        """L2-normalised vectors of segments, each read with its own window of its row's memory.

        Rows are batched by token budget; returns one (n_i, D) tensor per row.
        """
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        vectors: list[torch.Tensor | None] = [None] * len(rows)
        for batch in self._budget_batches(order, [len(row) for row in rows]):
            packed = [
                (rows[r].memory, [SegmentPiece(self._embed_tokens(s.ids), s.window) for s in rows[r].segments])
                for r in batch
            ]
            hidden, spans = self._run(RETRIEVAL_ADAPTER, packed)
            for b, r in enumerate(batch):
                pooled = torch.stack([self._pool(hidden[b, start:end]) for start, end in spans[b]])
                vectors[r] = nn.functional.normalize(self.embed_proj(pooled), dim=-1)
        return cast("list[torch.Tensor]", vectors)  # the batches cover every row

    def _budget_batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        current: list[int]
        batches, current, longest = [], [], 0
        for r in order:
            if current and max(longest, lengths[r]) * (len(current) + 1) > self.config.batch_max_tokens:
                batches.append(current)
                current, longest = [], 0
            current.append(r)
            longest = max(longest, lengths[r])
        if current:
            batches.append(current)
        return batches

    def _pool(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.info.pooling == "mean":
            return hidden.mean(0)
        if self.info.pooling == "cls":
            return hidden[0]
        return hidden[-1]

    def encode_queries(self, memory: LatentQueue, queries: Sequence[str]) -> torch.Tensor:
        """Vectors (n, D) of queries read with ``memory`` (retrieval adapter only)."""
        texts = [self.config.query_instruction + q for q in queries]
        ids = self.tokenize(texts, max_tokens=self.layout.text_end - self.layout.text_start)
        block, window = memory.block(), (0, len(memory))
        per_row = self.config.pack_max_segments
        rows = [
            ReadRow(block, [SegmentRead(row, window) for row in ids[i : i + per_row]])
            for i in range(0, len(ids), per_row)
        ]
        return torch.cat(self.represent(rows)) if rows else torch.zeros(0, self.dim)

    def read_with_base(self, memory: LatentQueue, texts: Sequence[str]) -> torch.Tensor:
        """The frozen base model (no adapters, no embedding projection) reads each text beside ``memory``.

        Used by the encoder-backbone memory loss: what the base model makes of [memory; query] must point at
        the answer. With empty memory this is the static base embedding.
        """
        ids = self.tokenize(texts, max_tokens=self.layout.text_end - self.layout.text_start)
        block, window = memory.block(), (0, len(memory))
        rows = [(block, [SegmentPiece(self._embed_tokens(row), window)]) for row in ids]
        hidden, spans = self._run(None, rows)
        pooled = torch.stack([self._pool(hidden[r, start:end]) for r, ((start, end),) in enumerate(spans)])
        return nn.functional.normalize(pooled, dim=-1)

    def embed_static(self, texts: Sequence[str]) -> torch.Tensor:
        """The frozen base model's embedding of each text (no memory, no adapters): the static reference."""
        return self.read_with_base(self.new_queue(), texts)

    # ----- persistence ----------------------------------------------------------------------------------------

    def evo_state_dict(self) -> dict[str, torch.Tensor]:
        """The trainable part: both adapters, query tokens and projections (not the frozen backbone)."""
        own = {
            name: tensor.detach().contiguous()
            for name, tensor in self.state_dict().items()
            if not name.startswith("backbone.") or "lora_" in name
        }
        return {**own, **self._adapters}

    def load_evo_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.trainable:
            expected = set(self.evo_state_dict())
        else:  # no peft layers to name the adapters' tensors: check them against the backbone's layers
            adapters = {name: tensor for name, tensor in state.items() if lora.is_lora_key(name)}
            lora.check_adapters(
                self._plain_backbone[0], adapters, (MEMORY_ADAPTER, RETRIEVAL_ADAPTER), self.config.lora_r
            )
            expected = set(self.state_dict()) | set(adapters)
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise InvalidInputError(
                f"evomem weights do not match this config: missing {sorted(missing)[:3]}, "
                f"unexpected {sorted(unexpected)[:3]}"
            )
        if self.trainable:
            self.load_state_dict(state, strict=False)
        else:
            self.load_state_dict({name: state[name] for name in self.state_dict()})
            self._adapters = {name: state[name].detach().clone().contiguous() for name in adapters}
        self._weights_changed()

    def _weights_changed(self) -> None:
        """Drop what was computed from the weights: merged models and cached keys and values."""
        self._merged = {}
        if self.kv_cache is not None:
            self.kv_cache.clear()

    def fingerprint(self) -> str:
        """Hex digest of the config (but where the backbone lives), the backbone's files and the evomem weights."""
        digest = hashlib.sha256()
        config = {**self.config.to_dict(), **RETIRED}
        config.pop("backbone")
        digest.update(repr(sorted(config.items())).encode())
        digest.update(backbone_digest(self.backbone_dir).encode())
        for name, tensor in sorted(self.evo_state_dict().items()):
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()[:24]

    def save_pretrained(self, directory: str | Path, save_backbone: bool = False) -> Path:
        """Write config JSON and evomem safetensors; with ``save_backbone`` also copy the backbone beside them."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = EvoConfig.from_dict(self.config.to_dict())
        if save_backbone:
            shutil.copytree(self.backbone_dir, directory / BACKBONE_SUBDIR, dirs_exist_ok=True)
            config.backbone = BACKBONE_SUBDIR
        elif not config.backbone.startswith(EMBEDDED_PREFIX):
            config.backbone = str(self.backbone_dir)
        config.save(directory)
        save_file(self.evo_state_dict(), str(directory / WEIGHTS_NAME), metadata={"format": "evomem"})
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, trainable: bool = False) -> EvoEncoder:
        """Load an encoder saved by ``save_pretrained`` (safetensors only): for inference, or to go on training
        with ``trainable`` (peft layers, transformers' backbone)."""
        directory = Path(directory).expanduser()
        config = EvoConfig.load(directory)
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            raise ModelNotFoundError(f"{weights} not found")
        check_safetensors(weights)
        backbone = config.backbone
        if not backbone.startswith(EMBEDDED_PREFIX) and not Path(backbone).is_absolute():
            backbone = str(directory / backbone)
        encoder = cls(config, resolve_backbone_dir(backbone), trainable=trainable)
        try:
            encoder.load_evo_state_dict(load_file(str(weights)))
        except (RuntimeError, ValueError) as error:
            raise InvalidInputError(f"{weights} does not fit {directory / CONFIG_NAME}: {error}") from None
        encoder.eval()
        return encoder
