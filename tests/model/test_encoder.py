"""EvoEncoder on tiny random encoder and decoder backbones."""

from __future__ import annotations

import pytest
import torch
from conftest import randomize_evo_weights, small_config
from transformers import AutoModel

from evomem import EvoConfig, EvoEncoder, LatentQueue
from evomem.model.packing import ReadRow, SegmentRead
from evomem.model.stream import encode_stream, plan_packs

TEXTS = [
    "Alice: I adopted a beagle called Pepper.",
    "Bob: That is lovely, how old is she?",
    "Alice: She is three and very shy.",
    "Bob: I started a new job at a bakery downtown.",
    "Alice: Which bakery is it?",
    "Bob: Crumb and Co, on the early shift.",
    "Alice: She loves the park near my flat.",
    "Bob: I make the sourdough there now.",
    "Alice: I am training for a half marathon.",
    "Bob: Good luck with the training!",
]


def _stream(encoder: EvoEncoder, batching: bool) -> tuple[torch.Tensor, LatentQueue]:
    config = encoder.config
    queue = LatentQueue(config.num_query_tokens, config.queue_steps, encoder.dim)
    with torch.inference_mode():
        vectors = encode_stream(encoder, queue, encoder.tokenize(TEXTS), segment_batching=batching)
    return vectors, queue


def _static(directory, texts: list[str], pooling: str, tokenizer) -> torch.Tensor:
    model = AutoModel.from_pretrained(directory).eval()
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt")["input_ids"]
            if pooling == "last" and ids[0, -1] != tokenizer.eos_token_id:
                ids = torch.cat([ids, torch.tensor([[tokenizer.eos_token_id]])], dim=1)
            hidden = model(input_ids=ids).last_hidden_state[0]
            out.append(hidden.mean(0) if pooling == "mean" else hidden[-1])
    return torch.nn.functional.normalize(torch.stack(out), dim=-1)


def test_untrained_retrieval_path_equals_static_backbone(tiny_dir):
    encoder = EvoEncoder(small_config(tiny_dir))
    with torch.inference_mode():
        vectors = encoder.encode_queries(encoder.new_queue(), TEXTS[:3])
    static = _static(tiny_dir, TEXTS[:3], encoder.info.pooling, encoder.tokenizer)
    assert torch.allclose(vectors, static, atol=1e-5)


def test_memory_changes_the_representation(tiny_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    vectors, queue = _stream(encoder, batching=True)
    with torch.inference_mode():
        empty = encoder.encode_queries(encoder.new_queue(), [TEXTS[-1]])
        with_memory = encoder.encode_queries(queue, [TEXTS[-1]])
    assert (empty - with_memory).abs().max() > 1e-3
    assert vectors.shape == (len(TEXTS), encoder.dim)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-5)


def test_queue_keeps_capacity_and_counts_steps(tiny_dir):
    encoder = EvoEncoder(small_config(tiny_dir))
    _, queue = _stream(encoder, batching=True)
    assert queue.step == len(TEXTS)
    assert len(queue) == encoder.config.capacity


@pytest.mark.parametrize("randomized", [False, True])
def test_batched_path_with_k1_matches_sequential(tiny_dir, randomized):
    encoder = EvoEncoder(small_config(tiny_dir, pack_max_segments=1))
    if randomized:
        randomize_evo_weights(encoder)
    batched, queue_b = _stream(encoder, batching=True)
    sequential, queue_s = _stream(encoder, batching=False)
    assert torch.allclose(batched, sequential, atol=1e-5)
    assert torch.allclose(queue_b.latents, queue_s.latents, atol=1e-5)


def test_packing_is_block_causal(tiny_dir):
    """The first segment of a pack sees only memory and itself, so packing cannot change its latents."""
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    ids = encoder.tokenize(TEXTS[:3])
    memory = LatentQueue(*encoder.queue_shape, torch.randn(4, encoder.dim), step=2).block()  # steps 0, 0, 1, 1
    with torch.inference_mode():
        packed = encoder.write_memory(memory, ids)
        alone = encoder.write_memory(memory, ids[:1])
        pair = encoder.write_memory(memory, ids[:2])
    assert packed.shape == (3, encoder.config.num_query_tokens, encoder.dim)
    assert torch.allclose(packed[0], alone[0], atol=1e-5)
    assert torch.allclose(packed[1], pair[1], atol=1e-5)
    assert (packed[1] - alone[0]).abs().max() > 1e-4


def test_segment_batching_packs_segments_that_share_a_snapshot(tiny_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    lengths = [len(ids) for ids in encoder.tokenize(TEXTS)]
    sizes = plan_packs(lengths, encoder.config.num_query_tokens, encoder.text_budget, encoder.config.pack_max_segments)
    assert sum(sizes) == len(TEXTS) and 1 < len(sizes) < len(TEXTS) and sizes[0] > 1
    batched, _ = _stream(encoder, batching=True)
    sequential, _ = _stream(encoder, batching=False)
    # segments 0 and 1 read memories written from the same context either way; later ones read packed latents
    assert torch.allclose(batched[:2], sequential[:2], atol=1e-5)
    assert not torch.allclose(batched, sequential, atol=1e-3)


def test_plan_packs_respects_budget_and_limit():
    assert plan_packs([10, 10, 10, 10], 2, 30, 16) == [2, 2]
    assert plan_packs([10] * 5, 0, 1000, 2) == [2, 2, 1]
    assert plan_packs([50, 5], 0, 20, 4) == [1, 1]
    assert plan_packs([], 2, 30, 4) == []


def test_merged_inference_equals_adapter_path(tiny_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    ids = encoder.tokenize(TEXTS[:4])
    memory = LatentQueue(*encoder.queue_shape, torch.randn(4, encoder.dim), step=5).block()  # steps 3, 3, 4, 4
    rows = [ReadRow(memory, [SegmentRead(row, (0, 4)) for row in ids])]
    with torch.no_grad():
        merged = encoder.represent(rows)[0]
        merged_latents = encoder.write_memory(memory, ids)
    with torch.enable_grad():
        adapter = encoder.represent(rows)[0].detach()
        adapter_latents = encoder.write_memory(memory, ids)
    assert torch.allclose(merged, adapter, atol=1e-5)
    assert torch.allclose(merged_latents, adapter_latents.detach(), atol=1e-5)


def test_gradients_reach_both_adapters_and_projections(tiny_dir):
    encoder = EvoEncoder(small_config(tiny_dir, lora_dropout=0.0))
    randomize_evo_weights(encoder)
    encoder.train()
    ids = encoder.tokenize(TEXTS[:3])
    latents = encoder.write_memory(encoder.new_queue().block(), ids)
    memory = LatentQueue(*encoder.queue_shape, latents.reshape(-1, encoder.dim), step=3).block()
    (vectors,) = encoder.represent([ReadRow(memory, [SegmentRead(ids[0], (0, len(memory)))])])
    vectors.sum().backward()
    grads = {name for name, p in encoder.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    for needed in ("lora_A.memory", "lora_A.retrieval", "query_tokens", "latent_proj", "memory_head", "embed_proj"):
        assert any(needed in name for name in grads), needed


def test_save_and_load_roundtrip(tiny_dir, tmp_path):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    encoder.save_pretrained(tmp_path / "model")
    loaded = EvoEncoder.from_pretrained(tmp_path / "model")
    assert loaded.fingerprint() == encoder.fingerprint()
    assert loaded.config == encoder.config
    vectors, _ = _stream(encoder, batching=True)
    again, _ = _stream(loaded, batching=True)
    assert torch.allclose(vectors, again, atol=1e-6)


def test_save_with_backbone_is_self_contained(tiny_bert_dir, tmp_path):
    encoder = EvoEncoder(small_config(tiny_bert_dir))
    encoder.save_pretrained(tmp_path / "model", save_backbone=True)
    loaded = EvoEncoder.from_pretrained(tmp_path / "model")
    assert loaded.backbone_dir == (tmp_path / "model" / "backbone").resolve()
    assert loaded.fingerprint() == encoder.fingerprint()


def test_fingerprint_tracks_weights_and_config(tiny_bert_dir):
    first = EvoEncoder(small_config(tiny_bert_dir))
    same = EvoEncoder(small_config(tiny_bert_dir))
    assert first.fingerprint() == same.fingerprint()
    other_config = EvoEncoder(small_config(tiny_bert_dir, queue_steps=5))
    assert other_config.fingerprint() != first.fingerprint()
    assert randomize_evo_weights(same).fingerprint() != first.fingerprint()


def test_memory_and_segment_must_fit_positions(tiny_bert_dir):
    with pytest.raises(ValueError, match="must fit"):
        EvoEncoder(small_config(tiny_bert_dir, num_query_tokens=16, queue_steps=32, pack_max_tokens=2048))


def test_rejects_pickled_weights(tmp_path, tiny_bert_dir):
    (tmp_path / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="never loads pickled"):
        EvoEncoder(small_config(tmp_path))


def test_inference_from_threads_matches_sequential(tiny_bert_dir):
    from concurrent.futures import ThreadPoolExecutor

    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)))
    expected, _ = _stream(encoder, batching=True)
    with ThreadPoolExecutor(4) as pool:  # memory and retrieval passes of several streams interleave
        results = list(pool.map(lambda _: _stream(encoder, batching=True)[0], range(8)))
    assert all(torch.allclose(result, expected, atol=1e-6) for result in results)


def test_configs_saved_with_the_retired_extra_setting_still_load(tiny_bert_dir):
    saved = {**small_config(tiny_bert_dir).to_dict(), "extra": {}}  # as evomem wrote configs before
    config = EvoConfig.from_dict(saved)
    assert config == small_config(tiny_bert_dir) and "extra" not in config.to_dict()
