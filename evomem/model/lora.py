"""LoRA adapters as evomem stores them, and a backbone copy with one adapter folded into its weights.

Training holds the adapters in peft's layers; their tensors are saved under peft's names,
``backbone.base_model.model.<module>.lora_A.<adapter>.weight`` (A: rank x inputs) and ``...lora_B...`` (B: outputs
x rank). Inference never needs peft: it adds ``B @ A * alpha / r`` to each target's weight in a copy of the plain
backbone, as peft's merge does for a linear layer, once per adapter.
"""

from __future__ import annotations

import copy
import re

import torch
from torch import nn

from ..errors import InvalidInputError

PREFIX = "backbone.base_model.model."
KEY = re.compile(rf"^{re.escape(PREFIX)}(?P<module>.+)\.lora_(?P<part>[AB])\.(?P<adapter>[^.]+)\.weight$")


def is_lora_key(name: str) -> bool:
    return KEY.match(name) is not None


def check_adapters(model: nn.Module, tensors: dict[str, torch.Tensor], adapters: tuple[str, ...], rank: int) -> None:
    """Raise InvalidInputError unless ``tensors`` hold, for each adapter, an A and a B of ``rank`` for linear layers
    of ``model``, every adapter on the same layers."""
    found: dict[str, dict[str, set[str]]] = {adapter: {"A": set(), "B": set()} for adapter in adapters}
    modules = dict(model.named_modules())
    for name, tensor in tensors.items():
        match = KEY.match(name)
        if match is None or match["adapter"] not in found:
            raise InvalidInputError(f"unexpected LoRA tensor {name}")
        layer = modules.get(match["module"])
        if not isinstance(layer, nn.Linear):
            raise InvalidInputError(f"LoRA tensor {name} names no linear layer of the backbone")
        expected = (rank, layer.in_features) if match["part"] == "A" else (layer.out_features, rank)
        if tuple(tensor.shape) != expected:
            raise InvalidInputError(f"LoRA tensor {name} has shape {tuple(tensor.shape)}, expected {expected}")
        found[match["adapter"]][match["part"]].add(match["module"])
    layers = found[adapters[0]]["A"]
    if not layers:
        raise InvalidInputError("the weights hold no LoRA tensors")
    for adapter, parts in found.items():
        if parts["A"] != layers or parts["B"] != layers:
            raise InvalidInputError(f"adapter {adapter!r} does not cover the same layers in A and B as the others")


def merged(model: nn.Module, tensors: dict[str, torch.Tensor], adapter: str, scaling: float) -> nn.Module:
    """A frozen copy of ``model`` with ``adapter``'s deltas ``B @ A * scaling`` added to its targets' weights;
    ``tensors`` are LoRA tensors of linear layers (peft's ``lora_embedding_*`` of embedding layers are refused)."""
    strange = [name for name in tensors if not is_lora_key(name)]
    if strange:
        raise InvalidInputError(f"LoRA tensors evomem cannot merge (linear layers only): {', '.join(strange[:3])}")
    result = copy.deepcopy(model).eval().requires_grad_(False)
    with torch.no_grad():
        for name, a in tensors.items():
            match = KEY.match(name)
            if match is None or match["adapter"] != adapter or match["part"] != "A":
                continue
            b = tensors[name.replace(f".lora_A.{adapter}.", f".lora_B.{adapter}.")]
            result.get_parameter(f"{match['module']}.weight").add_((b @ a) * scaling)
    return result
