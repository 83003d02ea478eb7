"""Grow a model's LoRA rank without changing what it computes: a starting point for a run with more adapter capacity.

    python scripts/grow_lora.py SOURCE_DIR OUTPUT_DIR --rank 32

Each factor keeps its trained rows (A) and columns (B); the new rows of A are a fresh LoRA init and the new
columns of B are zero, so every delta ``B A`` is unchanged. ``lora_alpha`` grows with the rank so the scale
``lora_alpha / lora_r`` stays the same. The script checks that both models give the same vectors before saving.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from evomem.model.config import EvoConfig
from evomem.model.encoder import EvoEncoder

TEXTS = ["I moved to Lisbon last spring.", "She said the blue one was hers.", "What did Anna adopt?"]


def grown(source: EvoEncoder, rank: int) -> EvoEncoder:
    """An encoder with LoRA rank ``rank`` whose adapters compute what ``source``'s do."""
    old = source.config.lora_r
    if rank <= old:
        raise SystemExit(f"the source's rank is {old}: give a larger --rank")
    settings = source.config.to_dict() | {"lora_r": rank, "lora_alpha": source.config.lora_alpha * rank / old}
    torch.manual_seed(0)
    target = EvoEncoder(EvoConfig.from_dict(settings), source.backbone_dir)
    state, trained = target.evo_state_dict(), source.evo_state_dict()
    for name, value in trained.items():
        if ".lora_A." in name:
            state[name][:old] = value
        elif ".lora_B." in name:
            state[name][:, :old] = value
            state[name][:, old:] = 0
        else:
            state[name] = value
    target.load_evo_state_dict(state)
    return target.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--rank", type=int, required=True)
    args = parser.parse_args()
    source = EvoEncoder.from_pretrained(args.source)
    target = grown(source, args.rank)
    with torch.inference_mode():
        difference = max(
            (encoder_a - encoder_b).abs().max().item()
            for encoder_a, encoder_b in zip(_read(source), _read(target), strict=True)
        )
    if difference > 1e-5:
        raise SystemExit(f"the grown model differs from the source by {difference:.2e}")
    target.save_pretrained(args.output)
    print(f"{args.output}: rank {args.rank}, largest difference {difference:.1e}, fingerprint {target.fingerprint()}")


def _read(encoder: EvoEncoder) -> list[torch.Tensor]:
    """Segment vectors, latents and query vectors of a short stream."""
    from evomem.model.stream import encode_stream

    queue = encoder.new_queue()
    vectors = encode_stream(encoder, queue, encoder.tokenize(TEXTS))
    return [vectors, queue.latents, encoder.encode_queries(queue, TEXTS[-1:])]


if __name__ == "__main__":
    main()
