"""A BERT encoder for inference, read straight from a model directory's config.json and safetensors.

The shipped default runs on this module, so opening a store and searching imports neither transformers nor
peft. It computes what transformers' ``BertModel`` (absolute positions, SDPA attention, no pooler) computes, and
takes the same call evomem makes of it: input embeddings, position ids, an additive 4D mask and a cache object
whose ``update`` hands back each layer's keys and values (``kv_cache.py``). Module names follow transformers',
so the checkpoint's tensors load by name. ``tests/model/test_fast_path.py`` holds it to transformers within 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional

from ..errors import InvalidInputError
from .config import read_json_object

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"gelu": functional.gelu, "relu": functional.relu}


class KeyValueSink(Protocol):
    """What a layer hands its keys and values to (``kv_cache.Recorder`` and ``kv_cache.Prefix``)."""

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values the layer attends over."""
        ...


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT config.json that the forward pass reads."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str
    model_type: str = "bert"
    position_embedding_type: str = "absolute"

    @classmethod
    def read(cls, directory: Path) -> BertConfig:
        raw = read_json_object(directory / "config.json")
        if not supported(raw):
            raise InvalidInputError(f"{directory} is not a BERT model with absolute positions and gelu or relu")
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__ if name in raw})


def supported(raw: dict[str, Any]) -> bool:
    """Whether a config.json describes a model this module computes exactly."""
    return (
        raw.get("model_type") == "bert"
        and raw.get("position_embedding_type", "absolute") == "absolute"
        and raw.get("hidden_act") in ACTIVATIONS
        and not raw.get("is_decoder", False)
    )


class Embeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        embeds = inputs_embeds + self.token_type_embeddings.weight[0]  # every token is of type 0
        return self.LayerNorm(embeds + self.position_embeddings(position_ids))


class SelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KeyValueSink | None, layer: int) -> torch.Tensor:
        batch, length, width = x.shape

        def heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        if cache is not None:
            k, v = cache.update(k, v, layer)
        attended = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return attended.transpose(1, 2).reshape(batch, length, width)


class Residual(nn.Module):
    """A dense layer, then LayerNorm over it plus the residual (BERT's ``*Output`` blocks)."""

    def __init__(self, inputs: int, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(inputs, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = SelfAttention(config)  # transformers' name, kept for the checkpoint's keys
        self.output = Residual(config.hidden_size, config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KeyValueSink | None, layer: int) -> torch.Tensor:
        return self.output(self.self(x, mask, cache, layer), x)


class Intermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x))


class Layer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = Residual(config.intermediate_size, config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KeyValueSink | None, layer: int) -> torch.Tensor:
        attended = self.attention(x, mask, cache, layer)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(Layer(config) for _ in range(config.num_hidden_layers))


@dataclass(frozen=True)
class Output:
    last_hidden_state: torch.Tensor  # (B, T, D)


class Bert(nn.Module):
    """BERT without its pooler, called as evomem calls a transformers backbone."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        cache: KeyValueSink | None = None,
    ) -> Output:
        """``attention_mask`` is additive, (B, 1, T, W + T) where a cache adds W keys before the sequence's."""
        x = self.embeddings(inputs_embeds, position_ids)
        for index, layer in enumerate(self.encoder.layer):
            x = layer(x, attention_mask, cache, index)
        return Output(x)

    @classmethod
    def load(cls, directory: Path) -> Bert:
        """The model in ``directory`` (config.json and one or more ``*.safetensors``), in eval mode and frozen."""
        model = cls(BertConfig.read(directory))
        state: dict[str, torch.Tensor] = {}
        for path in sorted(directory.glob("*.safetensors")):
            state.update(load_file(str(path)))
        prefix = "bert." if any(name.startswith("bert.") for name in state) else ""
        wanted = model.state_dict().keys()
        found = {name.removeprefix(prefix): tensor for name, tensor in state.items()}
        missing = sorted(wanted - found.keys())
        if missing:
            raise InvalidInputError(f"backbone at {directory} lacks {len(missing)} weights ({', '.join(missing[:5])})")
        model.load_state_dict({name: found[name] for name in wanted})
        return model.eval().requires_grad_(False)
