"""An exact cache of the memory's keys and values.

A latent attends only to the latents written at its own step and sits at its ring slot (``packing.py``), so in
every layer its keys and values are a function of its write group (the group's latents and slots) and the
model's weights alone. They are computed once per group and model and kept in an LRU bounded in bytes; a pass
then runs only the text tokens through the backbone, against the cached keys and values of the memory each row
reads. The encoder clears the cache whenever its weights may change.

This holds where positions enter at the input (absolute position embeddings) or by rotating queries and keys
(rotary): a bias computed inside attention from query-key offsets (ALiBi, relative buckets, DeBERTa) would be
computed for the text alone, so those backbones run uncached (``exact_for``).
"""

from __future__ import annotations

import hashlib
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch

from ..errors import InvalidInputError
from .packing import MemoryBlock

DEFAULT_MAX_BYTES = 128 * 2**20
DEFAULT_MAX_BLOCKS = 8
EXACT_MODEL_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "electra", "llama", "qwen2", "qwen3", "mistral"}

# keys and values of groups: (groups, layers, 2, heads, tokens, head_dim)
GroupCompute = Callable[[list[MemoryBlock]], torch.Tensor]


def exact_for(config: Any) -> bool:
    """Whether a backbone's text tokens see its memory through the memory's keys and values alone."""
    absolute = getattr(config, "position_embedding_type", "absolute") == "absolute"
    return config.model_type in EXACT_MODEL_TYPES and absolute


def cache_argument(model: torch.nn.Module) -> str:
    """The keyword under which the backbone takes a transformers ``Cache`` (renamed in transformers 5)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class Recorder:
    """Stands in for a transformers ``Cache``: keeps each layer's keys and values and hands them back unchanged."""

    def __init__(self) -> None:
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args, **kwargs):
        self.layers[layer_idx] = keys, values
        return keys, values

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return 0

    def stacked(self) -> torch.Tensor:
        """(batch, layers, 2, heads, tokens, head_dim)."""
        layers = [torch.stack(self.layers[i], dim=1) for i in range(len(self.layers))]
        return torch.stack(layers, dim=1)


class Prefix:
    """Stands in for a transformers ``Cache``: puts each row's memory keys and values before the layer's own."""

    def __init__(self, kv: torch.Tensor):
        self.kv = kv  # (layers, 2, batch, heads, W, head_dim)

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args, **kwargs):
        return torch.cat([self.kv[layer_idx, 0], keys], dim=2), torch.cat([self.kv[layer_idx, 1], values], dim=2)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.kv.shape[-2]


def write_groups(block: MemoryBlock) -> list[MemoryBlock]:
    """The block's write groups in order (latents of one step are consecutive, as in a ``LatentQueue``)."""
    steps, counts = torch.unique_consecutive(block.steps.cpu(), return_counts=True)
    if steps.unique().shape[0] != steps.shape[0]:
        raise InvalidInputError("the latents of one write step must be consecutive in a memory block")
    bounds = [0, *torch.cumsum(counts, 0).tolist()]
    return [block.part(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]


def group_key(model: str, group: MemoryBlock) -> bytes:
    """What a group's keys and values depend on besides the weights: the model's name, its latents and slots."""
    digest = hashlib.blake2b(model.encode(), digest_size=20)
    digest.update(group.embeds.detach().cpu().contiguous().numpy().tobytes())
    digest.update(group.slots.cpu().numpy().tobytes())
    return digest.digest()


def block_key(model: str, block: MemoryBlock) -> bytes:
    """What a whole block's keys and values depend on: its groups' keys, and the steps that make the groups."""
    digest = hashlib.blake2b(b"block:" + model.encode(), digest_size=20)
    for part in (block.embeds.detach(), block.steps, block.slots):
        digest.update(part.cpu().contiguous().numpy().tobytes())
    return digest.digest()


class KVCache:
    """Keys and values of write groups per model (adapter), least recently used dropped beyond ``max_bytes``.

    Beside them, the last ``max_blocks`` whole memory blocks read again unchanged (a namespace's queries between
    two writes) keep their groups' keys and values joined, so such a read skips the per-group look-ups.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_blocks: int = DEFAULT_MAX_BLOCKS):
        self.max_bytes = max_bytes
        self.max_blocks = max_blocks
        self.nbytes = 0
        self._entries: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._blocks: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """The number of write groups held."""
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._blocks.clear()
            self.nbytes = 0

    def _get(self, entries: OrderedDict[bytes, torch.Tensor], key: bytes) -> torch.Tensor | None:
        """An entry of ``entries`` (groups or joined blocks), marked as the most recently used."""
        with self._lock:
            kv = entries.get(key)
            if kv is not None:
                entries.move_to_end(key)
            return kv

    def _put(self, key: bytes, kv: torch.Tensor) -> None:
        size = kv.numel() * kv.element_size()
        with self._lock:
            if key in self._entries or size > self.max_bytes:
                return
            self._entries[key] = kv
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.nbytes -= dropped.numel() * dropped.element_size()

    def _keep_joined(self, key: bytes, kv: torch.Tensor) -> None:
        with self._lock:
            self._blocks[key] = kv
            while len(self._blocks) > self.max_blocks:
                self._blocks.popitem(last=False)

    def prefix(self, model: str, blocks: Sequence[MemoryBlock | None], compute: GroupCompute) -> Prefix:
        """The keys and values of each row's memory block (raw latents), computing the groups not cached yet in
        one batch with ``compute``; rows are padded to the largest block (the mask hides the padding)."""
        keys = [block_key(model, block) if block is not None and len(block) else None for block in blocks]
        joined = {key: self._get(self._blocks, key) for key in keys if key is not None}
        pending = {key: block for key, block in zip(keys, blocks, strict=True) if key and joined[key] is None}
        if pending:
            # keys are None for missing (and empty) blocks: every pending block is a MemoryBlock
            joined.update(self._join(model, cast("dict[bytes, MemoryBlock]", pending), compute))
        rows = [joined[key] if key is not None else None for key in keys]
        if len(rows) == 1 and rows[0] is not None:
            return Prefix(rows[0].unsqueeze(2))  # a query's one row: nothing to pad
        some = next(row for row in rows if row is not None)
        width = max(0 if row is None else row.shape[-2] for row in rows)
        padded = []
        for row in rows:
            room = width - (0 if row is None else row.shape[-2])
            parts = [] if row is None else [row]
            if room:
                parts.append(some.new_zeros((*some.shape[:-2], room, some.shape[-1])))
            padded.append(torch.cat(parts, dim=-2))
        return Prefix(torch.stack(padded, dim=2))

    def _join(self, model: str, blocks: dict[bytes, MemoryBlock], compute: GroupCompute) -> dict[bytes, torch.Tensor]:
        """Each block's groups' keys and values joined in order, computing the missing groups in one batch; a
        block all of whose groups were cached is kept joined (a block with a new group is read once, in ingest)."""
        rows = {key: write_groups(block) for key, block in blocks.items()}
        keys = {key: [group_key(model, group) for group in groups] for key, groups in rows.items()}
        found: dict[bytes, torch.Tensor] = {}
        missing: dict[bytes, MemoryBlock] = {}
        for key, groups in rows.items():
            for group, group_id in zip(groups, keys[key], strict=True):
                if group_id not in found and group_id not in missing:
                    kv = self._get(self._entries, group_id)
                    if kv is None:
                        missing[group_id] = group
                    else:
                        found[group_id] = kv
        if missing:
            computed = compute(list(missing.values()))
            for (group_id, group), kv in zip(missing.items(), computed, strict=True):
                found[group_id] = kv[..., : group.embeds.shape[0], :].clone()  # a copy: the batch is not kept alive
                self._put(group_id, found[group_id])
        joined = {}
        for key, group_ids in keys.items():
            joined[key] = torch.cat([found[group_id] for group_id in group_ids], dim=-2)
            if not missing.keys() & set(group_ids):
                self._keep_joined(key, joined[key])
        return joined
