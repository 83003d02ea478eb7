"""The inference path (``EvoEncoder.from_pretrained`` without ``trainable``): no peft, and for BERT backbones
evomem's own model and tokenizer. It must compute what the trainable encoder computes, within 1e-5."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from conftest import randomize_evo_weights, small_config
from transformers import AutoTokenizer

from evomem import EvoEncoder, InvalidInputError
from evomem.model import lora
from evomem.model.backbone import load_backbone
from evomem.model.bert import Bert
from evomem.model.loading import DEFAULT_WEIGHTS
from evomem.model.stream import encode_stream
from evomem.model.tokens import FastTokenizer

TEXTS = [
    "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.",
    "Melanie: That's great! I painted a sunrise over the lake last year.",
    "Leo: Ich arbeite jetzt in der Bäckerei, naïve café, 東京で働いています。",
    "a",
    "",
    "Caroline: " + "I keep thinking about the adoption agencies I researched. " * 30,
    "tabs\tand\nnew lines\r\n and   spaces, emoji 🙂 and accents: Ångström, façade",
]
QUERIES = ["What did Melanie paint?", "Where does Leo work now?", "who researched adoption agencies"]


def _outputs(encoder: EvoEncoder) -> dict[str, torch.Tensor]:
    """Everything inference computes: segment vectors along a stream, the latents, queries read with them."""
    queue = encoder.new_queue()
    with torch.inference_mode():
        segments = encode_stream(encoder, queue, encoder.tokenize(TEXTS * 3))
        return {
            "segments": segments,
            "latents": queue.block().embeds,
            "queries": encoder.encode_queries(queue, QUERIES),
        }


def _assert_same(fast: EvoEncoder, reference: EvoEncoder) -> None:
    assert fast.fingerprint() == reference.fingerprint()  # a store written by one opens with the other
    assert fast.tokenize(TEXTS) == reference.tokenize(TEXTS)
    ours, theirs = _outputs(fast), _outputs(reference)
    for name in theirs:
        assert ours[name].shape == theirs[name].shape, name
        assert torch.allclose(ours[name], theirs[name], atol=1e-5), (name, (ours[name] - theirs[name]).abs().max())


def test_tiny_models_compute_the_same_without_peft(tiny_dir, tmp_path):
    trained = randomize_evo_weights(EvoEncoder(small_config(tiny_dir)), seed=3)
    trained.save_pretrained(tmp_path / "model")
    fast = EvoEncoder.from_pretrained(tmp_path / "model")
    assert not fast.trainable and not hasattr(fast, "backbone")
    assert isinstance(fast._plain_backbone[0], Bert) == (tiny_dir.name.startswith("tiny-bert"))
    _assert_same(fast, EvoEncoder.from_pretrained(tmp_path / "model", trainable=True))


@pytest.mark.slow
def test_the_shipped_default_computes_the_same_on_the_fast_path():
    fast = EvoEncoder.from_pretrained(DEFAULT_WEIGHTS)
    assert isinstance(fast._plain_backbone[0], Bert) and isinstance(fast.tokenizer, FastTokenizer)
    _assert_same(fast, EvoEncoder.from_pretrained(DEFAULT_WEIGHTS, trainable=True))


def test_the_fast_tokenizer_gives_transformers_ids_and_offsets(tiny_bert_dir):
    fast, reference = FastTokenizer.load(tiny_bert_dir), AutoTokenizer.from_pretrained(tiny_bert_dir)
    for limit in (3, 8, 128):
        options = {"add_special_tokens": True, "truncation": True, "max_length": limit}
        assert fast(TEXTS, **options)["input_ids"] == reference(TEXTS, **options)["input_ids"]
    for text in TEXTS:
        plain = {"add_special_tokens": False, "return_offsets_mapping": True}
        ours, theirs = fast(text, **plain), reference(text, **plain)
        assert ours["input_ids"] == theirs["input_ids"]
        assert ours["offset_mapping"] == [tuple(span) for span in theirs["offset_mapping"]]


@pytest.mark.parametrize("kind", ["fast", "transformers"])
def test_tokenizers_serve_threads_at_once(tiny_bert_dir, kind):
    """The server encodes tenants' writes and searches in parallel threads, with different truncation lengths."""
    tokenizer = FastTokenizer.load(tiny_bert_dir) if kind == "fast" else load_backbone(tiny_bert_dir)[1]
    options = {"add_special_tokens": True, "truncation": True}
    expected = {limit: tokenizer(TEXTS, max_length=limit, **options)["input_ids"] for limit in (4, 9, 128)}

    def run(limit: int) -> bool:
        return all(tokenizer(TEXTS, max_length=limit, **options)["input_ids"] == expected[limit] for _ in range(50))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, [4, 9, 128, 4, 9, 128, 4, 9]))


def test_an_inference_encoder_refuses_to_train_and_checks_its_adapters(encoder, model_dir):
    assert not encoder.trainable
    with pytest.raises(InvalidInputError, match="trainable=True"):
        encoder.train()
    state = encoder.evo_state_dict()
    name = next(key for key in state if ".query.lora_A.memory." in key)
    with pytest.raises(InvalidInputError, match="shape"):
        encoder.load_evo_state_dict({**state, name: state[name][:, :-1]})
    with pytest.raises(InvalidInputError, match="same layers"):
        encoder.load_evo_state_dict({key: value for key, value in state.items() if key != name})
    with pytest.raises(InvalidInputError, match="no linear layer"):
        encoder.load_evo_state_dict({**state, name.replace(".query.", ".nowhere."): state[name]})
    embedding_lora = {"backbone.base_model.model.embeddings.word_embeddings.lora_embedding_A.memory": state[name]}
    with pytest.raises(InvalidInputError, match="linear layers only"):
        lora.merged(encoder._plain_backbone[0], embedding_lora, "memory", 2.0)
    fresh = EvoEncoder.from_pretrained(model_dir, trainable=True)
    fresh.train()  # goes on training from the saved weights
    assert fresh.evo_state_dict().keys() == state.keys()


@pytest.mark.slow
def test_opening_a_store_and_searching_imports_neither_transformers_nor_peft(tmp_path):
    script = f"""
import sys
from evomem import EvoMemory
with EvoMemory({str(tmp_path / "store")!r}) as memory:
    memory.add_messages([{{"content": "I adopted a beagle called Pepper.", "name": "Maya"}}], "maya")
    assert memory.search("What is the dog called?", "maya", k=1)
loaded = sorted(name for name in ("transformers", "peft", "sentence_transformers") if name in sys.modules)
print(",".join(loaded) or "none")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "none", result.stdout
    assert result.stderr.strip() == "", result.stderr  # and no warning on a normal run
