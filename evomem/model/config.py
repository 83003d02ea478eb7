"""EvoConfig: the hyper-parameters of an evolvable encoder, saved as JSON beside its weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, InvalidTypeError, ModelNotFoundError

CONFIG_NAME = "evomem_config.json"
# The type of each setting that is not an int.
FIELD_TYPES = {
    "backbone": str,
    "lora_alpha": int | float,
    "lora_dropout": int | float,
    "lora_targets": list | None,
    "query_instruction": str,
}
# Settings that configs of earlier versions hold and this one no longer has, with the only value it accepts on
# load. They stay in the model fingerprint, so that a model's stores keep their name.
RETIRED: dict[str, Any] = {"extra": {}}


def read_json_object(path: Path) -> dict:
    """A JSON file that must hold an object, or a ValueError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInputError(f"{path} is not valid JSON ({error}); replace it with a good copy") from None
    if not isinstance(data, dict):
        raise InvalidInputError(
            f"{path} must hold a JSON object, got {type(data).__name__}; replace it with a good copy"
        )
    return data


@dataclass
class EvoConfig:
    """Settings of an EvoEncoder.

    The memory holds ``capacity = num_query_tokens * queue_steps`` latents: every segment writes
    ``num_query_tokens`` (K) latents and each lives for ``queue_steps`` (L) segments.

    Args:
        backbone: the Hugging Face model the encoder adapts: a local directory, or ``embedded:NAME`` for a backbone
            shipped in a Python package (the default, all-MiniLM-L6-v2).
        num_query_tokens: K, the latents each segment writes into the memory (and the query tokens that write them).
        queue_steps: L, how many segments each latent stays in the memory.
        lora_r: rank of the two LoRA adapters (memory and retrieval).
        lora_alpha: LoRA scaling numerator; the update is scaled by ``lora_alpha / lora_r``.
        lora_dropout: dropout on the LoRA inputs in training, in [0, 1).
        lora_targets: names of the modules the adapters wrap; None: every linear layer in the transformer blocks.
        segment_max_tokens: the longest segment in tokens, special tokens included; longer messages are split.
        segment_overlap_tokens: tokens a split message's parts share, in [0, segment_max_tokens / 2).
        pack_max_tokens: the longest packed memory or representation pass in tokens (memory and text together).
        pack_max_segments: the most segments that share one memory snapshot in a packed memory pass.
        batch_max_tokens: padded tokens of one batch of representation rows.
        query_instruction: text put before every query (for backbones trained with an instruction).
    """

    backbone: str = "embedded:all-MiniLM-L6-v2"
    num_query_tokens: int = 4
    queue_steps: int = 32
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: list[str] | None = None
    segment_max_tokens: int = 128
    segment_overlap_tokens: int = 16
    pack_max_tokens: int = 512
    pack_max_segments: int = 16
    batch_max_tokens: int = 8192
    query_instruction: str = ""

    @property
    def capacity(self) -> int:
        """C, the number of latent vectors the memory keeps."""
        return self.num_query_tokens * self.queue_steps

    def validate(self) -> None:
        """Raise ValueError when a setting has the wrong type or is out of range."""
        for item in dataclasses.fields(self):
            value, expected = getattr(self, item.name), FIELD_TYPES.get(item.name, int)
            if isinstance(value, bool) or not isinstance(value, expected):
                raise InvalidInputError(f"EvoConfig.{item.name} must be of type {item.type}, got {value!r}")
        if self.lora_targets is not None and not all(isinstance(target, str) for target in self.lora_targets):
            raise InvalidInputError(f"EvoConfig.lora_targets must be a list of module names, got {self.lora_targets!r}")
        positive = (
            "num_query_tokens",
            "queue_steps",
            "lora_r",
            "segment_max_tokens",
            "pack_max_tokens",
            "pack_max_segments",
            "batch_max_tokens",
        )
        for name in positive:
            value = getattr(self, name)
            if value <= 0:
                raise InvalidInputError(f"EvoConfig.{name} must be a positive integer, got {value!r}")
        if not 0 <= self.segment_overlap_tokens < self.segment_max_tokens // 2:
            raise InvalidInputError(
                "EvoConfig.segment_overlap_tokens must be in [0, segment_max_tokens / 2), "
                f"got {self.segment_overlap_tokens}"
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise InvalidInputError(f"EvoConfig.lora_dropout must be in [0, 1), got {self.lora_dropout}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), also the input of the model fingerprint."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> EvoConfig:
        if not isinstance(data, dict):
            raise InvalidTypeError(f"EvoConfig.from_dict takes a dict, got {type(data).__name__}")
        for name, accepted in RETIRED.items():
            if name in data and data[name] != accepted:
                raise InvalidInputError(
                    f"EvoConfig.{name} is no longer a setting and must be {accepted!r} or absent, got {data[name]!r}"
                )
        data = {key: value for key, value in data.items() if key not in RETIRED}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown EvoConfig fields: {', '.join(unknown)}")
        config = cls(**data)
        config.validate()
        return config

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_NAME
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> EvoConfig:
        path = Path(directory) / CONFIG_NAME
        if not path.is_file():
            raise ModelNotFoundError(f"{path} not found: not an evomem model directory")
        data = read_json_object(path)
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise InvalidInputError(f"{path}: {error}; fix the setting or save the model again") from None
