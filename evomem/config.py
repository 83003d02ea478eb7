"""EvoConfig: the hyper-parameters of an evolvable encoder, saved as JSON beside its weights."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_NAME = "evomem_config.json"


@dataclass
class EvoConfig:
    """Settings of an EvoEncoder.

    The memory holds ``capacity = num_query_tokens * queue_steps`` latents: every segment writes
    ``num_query_tokens`` (K) latents and each lives for ``queue_steps`` (L) segments.
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
    extra: dict = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        """C, the number of latent vectors the memory keeps."""
        return self.num_query_tokens * self.queue_steps

    def validate(self) -> None:
        """Raise ValueError when a setting is out of range."""
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
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"EvoConfig.{name} must be a positive integer, got {value!r}")
        if not 0 <= self.segment_overlap_tokens < self.segment_max_tokens // 2:
            raise ValueError(
                "EvoConfig.segment_overlap_tokens must be in [0, segment_max_tokens / 2), "
                f"got {self.segment_overlap_tokens}"
            )
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"EvoConfig.lora_dropout must be in [0, 1), got {self.lora_dropout}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), also the input of the model fingerprint."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> EvoConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown EvoConfig fields: {', '.join(unknown)}")
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
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} not found: not an evomem model directory") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
        return cls.from_dict(data)
