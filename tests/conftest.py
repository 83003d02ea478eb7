"""Shared fixtures: tiny random backbones built from a config, the real default model, a real Chroma server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, LlamaConfig, LlamaModel

from evomem import EvoConfig, EvoEncoder
from evomem.model.backbone import resolve_backbone_dir

if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores (the README): one torch thread each
    torch.set_num_threads(1)

DEFAULT_BACKBONE = "embedded:all-MiniLM-L6-v2"
sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside this file (workers, service_servers)


def _save_tiny(directory: Path, model, eos: bool) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(resolve_backbone_dir(DEFAULT_BACKBONE))
    if eos:
        tokenizer.eos_token = tokenizer.sep_token
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64
    )
    return _save_tiny(tmp_path_factory.mktemp("tiny-bert"), BertModel(config, add_pooling_layer=False), eos=False)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=2048,
        eos_token_id=102,
        pad_token_id=0,
    )
    return _save_tiny(tmp_path_factory.mktemp("tiny-llama"), LlamaModel(config), eos=True)


@pytest.fixture(params=["bert", "llama"])
def tiny_dir(request, tiny_bert_dir, tiny_llama_dir) -> Path:
    return tiny_bert_dir if request.param == "bert" else tiny_llama_dir


def small_config(backbone: Path | str, **overrides) -> EvoConfig:
    """A small memory so tests exercise a full, wrapping queue quickly."""
    settings = {
        "backbone": str(backbone),
        "num_query_tokens": 2,
        "queue_steps": 4,
        "segment_max_tokens": 32,
        "segment_overlap_tokens": 4,
        "pack_max_tokens": 128,
        "pack_max_segments": 4,
    }
    settings.update(overrides)
    return EvoConfig(**settings)


def randomize_evo_weights(encoder: EvoEncoder, seed: int = 0) -> EvoEncoder:
    """Give LoRA and projections random values, as after training, so tests see every path matter."""
    generator = torch.Generator().manual_seed(seed)
    state = encoder.evo_state_dict()
    noisy = {name: tensor + 0.05 * torch.randn(tensor.shape, generator=generator) for name, tensor in state.items()}
    encoder.load_evo_state_dict(noisy)
    return encoder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert_dir) -> Path:
    """A tiny evomem model saved to disk, for tests whose child processes load it by path."""
    return EvoEncoder(small_config(tiny_bert_dir)).save_pretrained(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def encoder(model_dir) -> EvoEncoder:
    """The encoder saved in ``model_dir``, loaded in this process."""
    return EvoEncoder.from_pretrained(model_dir)


@pytest.fixture(scope="session")
def default_encoder() -> EvoEncoder:
    return EvoEncoder(EvoConfig())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on 127.0.0.1 with a free port, stopped after the session."""
    executable = shutil.which("chroma")
    if executable is None:
        pytest.fail("the `chroma` command (from the chromadb package) is not on PATH")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    with open(data / "server.log", "wb") as log:
        process = subprocess.Popen(
            [executable, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"chroma server did not start: {(data / 'server.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield "127.0.0.1", port
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> str:
    """A real PostgreSQL server (from the PyPI package pgserver) in a temporary directory, stopped after the
    session; its URL reaches it over a Unix socket."""
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Left out of the fast loop with ``system`` tests: a test that takes the real default model is ``slow``, a
    property-based one ``fuzz``."""
    for item in items:
        if "default_encoder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.fuzz)
