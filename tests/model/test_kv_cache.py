"""The exact key/value cache of the memory: cached and uncached passes agree, and the cache stays bounded."""

from __future__ import annotations

import pytest
import torch
from conftest import randomize_evo_weights, small_config
from test_encoder import TEXTS as ENCODER_TEXTS

from evomem import EvoEncoder, LatentQueue
from evomem.model.kv_cache import KVCache
from evomem.model.stream import encode_stream

TEXTS = ENCODER_TEXTS * 2  # 20 turns: the queue of 4 steps wraps


def _read(encoder: EvoEncoder, cache: KVCache | None, texts=TEXTS, batching=True) -> dict[str, torch.Tensor]:
    """Ingest (memory and representation passes), then queries and the base model's read of the final memory."""
    encoder.kv_cache = cache
    queue = encoder.new_queue()
    with torch.inference_mode():
        vectors = encode_stream(encoder, queue, encoder.tokenize(texts), segment_batching=batching)
        return {
            "vectors": vectors,
            "latents": queue.latents,
            "queries": encoder.encode_queries(queue, texts[:3]),
            "base": encoder.read_with_base(queue, texts[:2]),
        }


def _assert_agree(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    for name in first:
        difference = (first[name] - second[name]).abs().max().item()
        assert difference < 1e-5, (name, difference)


@pytest.mark.parametrize("batching", [True, False])
def test_cached_and_uncached_passes_agree(tiny_dir, batching):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    cache = KVCache()
    _assert_agree(_read(encoder, None, batching=batching), _read(encoder, cache, batching=batching))
    assert len(cache) > 0


def test_each_write_group_is_computed_once_per_model(tiny_bert_dir, monkeypatch):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)))
    computed = []
    group_kv = encoder._group_kv

    def counting(model, groups):
        computed.extend((id(model), group.embeds.numpy().tobytes(), group.slots.numpy().tobytes()) for group in groups)
        return group_kv(model, groups)

    monkeypatch.setattr(encoder, "_group_kv", counting)
    _read(encoder, KVCache())
    assert len(computed) == len(set(computed)) > len(TEXTS)
    queue = LatentQueue(2, 4, encoder.dim, torch.randn(8, encoder.dim), step=9)  # as if loaded from disk
    before = len(computed)
    with torch.inference_mode():
        first = encoder.encode_queries(queue, TEXTS[:1])
        assert len(computed) == before + queue.queue_steps  # lazily, at the first read
        again = encoder.encode_queries(queue, TEXTS[1:2])
        assert len(computed) == before + queue.queue_steps
        encoder.kv_cache = None
        uncached = encoder.encode_queries(queue, TEXTS[:2])
    assert torch.allclose(torch.cat([first, again]), uncached, atol=1e-5)


def test_the_same_latents_at_another_slot_are_another_entry(tiny_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)))
    latents, cache = torch.randn(2, encoder.dim), encoder.kv_cache
    read = {}
    with torch.inference_mode():
        for step in (0, 1):
            for name in ("cached", "uncached"):
                encoder.kv_cache = cache if name == "cached" else None
                memory = LatentQueue(*encoder.queue_shape, latents, step=step + 1)  # both latents at ``step``
                read[name, step] = encoder.encode_queries(memory, TEXTS[:1])
    assert len(cache) == 2
    assert (read["cached", 0] - read["cached", 1]).abs().max() > 1e-4  # the slot is part of what is cached
    for step in (0, 1):
        assert torch.allclose(read["cached", step], read["uncached", step], atol=1e-5)


def test_an_unchanged_memory_is_read_again_joined_and_exactly(tiny_bert_dir, monkeypatch):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)))
    cache = encoder.kv_cache = KVCache(max_blocks=2)
    group_reads = []
    get = cache._get
    monkeypatch.setattr(
        cache, "_get", lambda entries, key: (entries is cache._entries and group_reads.append(key)) or get(entries, key)
    )
    memories = [LatentQueue(*encoder.queue_shape, torch.randn(8, encoder.dim), step=9) for _ in range(3)]
    with torch.inference_mode():
        first = [encoder.encode_queries(memory, TEXTS[:1]) for memory in memories[:2]]  # groups computed
        second = [encoder.encode_queries(memory, TEXTS[:1]) for memory in memories[:2]]  # groups read, joined kept
        reads = len(group_reads)
        third = [encoder.encode_queries(memory, TEXTS[:1]) for memory in memories[:2]]  # the joined blocks
        assert len(group_reads) == reads
        encoder.encode_queries(memories[2], TEXTS[:1])
        encoder.encode_queries(memories[2], TEXTS[:1])  # a third block kept: the oldest is dropped
        assert len(cache._blocks) == 2
        reads = len(group_reads)
        encoder.encode_queries(memories[0], TEXTS[:1])
        assert len(group_reads) == reads + encoder.config.queue_steps  # its groups again
        encoder.kv_cache = None
        uncached = [encoder.encode_queries(memory, TEXTS[:1]) for memory in memories[:2]]
    for answers in (first, second, third):
        assert torch.allclose(torch.cat(answers), torch.cat(uncached), atol=1e-5)


def test_the_cache_stays_within_its_bound_and_stays_exact(tiny_llama_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_llama_dir)))
    reference = _read(encoder, None)
    small = KVCache(max_bytes=5 * 2 * 2 * 2 * 2 * 8 * 4)  # five groups: layers, k/v, kv heads, K, head dim, float32
    _assert_agree(reference, _read(encoder, small))  # groups are dropped in the middle of passes
    assert len(small) == 5 and small.nbytes <= small.max_bytes


def test_new_weights_clear_the_cache(tiny_bert_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)))
    cache = KVCache()
    _read(encoder, cache)
    randomize_evo_weights(encoder, seed=1)
    assert len(cache) == 0
    _assert_agree(_read(encoder, None), _read(encoder, cache))


def test_training_and_grad_paths_run_uncached(tiny_bert_dir):
    encoder = randomize_evo_weights(EvoEncoder(small_config(tiny_bert_dir)))
    cache = encoder.kv_cache
    memory = LatentQueue(*encoder.queue_shape, torch.randn(4, encoder.dim), step=5)  # steps 3, 3, 4, 4
    encoder.encode_queries(memory, TEXTS[:1])  # grad enabled
    encoder.train()
    with torch.no_grad():  # train mode: attention dropout, so nothing is exact to cache
        encoder.encode_queries(memory, TEXTS[:1])
    assert len(cache) == 0


@pytest.mark.slow
def test_default_model_cached_and_uncached_agree(default_encoder):
    from evomem.model.loading import load_encoder

    assert isinstance(default_encoder.kv_cache, KVCache)
    trained = load_encoder(None)
    texts = [f"{text} (turn {i})" for i, text in enumerate(TEXTS * 2)]  # 40 turns: the queue of 32 steps wraps
    _assert_agree(_read(trained, None, texts), _read(trained, KVCache(), texts))
