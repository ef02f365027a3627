"""Several tasks' upper layers as one batched computation.

On a short message the upper layers of a task are mostly fixed per-operation cost, not arithmetic: a BERT
layer issues some thirty small operations whatever the number of tokens. Stacking the weights of N tasks
(``[N, in, out]``) runs the N tasks' layers with batched matrix products — the operation count of one task,
the arithmetic of N — and gives each task exactly the result of its own layers (the same kernels on the same
numbers; bench/classify_bench.py and tests/models/test_stacked.py measure both).

Only BERT-family layers are stacked (query/key/value, attention output with LayerNorm, a GELU intermediate,
output with LayerNorm — BERT, RoBERTa, XLM-R, E5); any other architecture runs each task's own modules.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: the weights of one stacked layer: [N, in, out] matrices and [N, 1, out] vectors
_PARTS = ("wqkv", "bqkv", "wo", "bo", "g1", "b1", "wi", "bi", "wout", "bout", "g2", "b2")


def stackable(layers: nn.ModuleList, config: Any) -> bool:
    """Whether ``layers`` are plain BERT-family layers this module reproduces exactly."""
    if getattr(config, "hidden_act", None) != "gelu" or getattr(config, "is_decoder", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    for layer in layers:
        try:
            attention = layer.attention
            parts = (
                attention.self.query,
                attention.self.key,
                attention.self.value,
                attention.output.dense,
                layer.intermediate.dense,
                layer.output.dense,
            )
            norms = (attention.output.LayerNorm, layer.output.LayerNorm)
        except AttributeError:
            return False
        if not all(isinstance(p, nn.Linear) for p in parts) or not all(isinstance(n, nn.LayerNorm) for n in norms):
            return False
        if getattr(layer, "add_cross_attention", False) or getattr(layer, "chunk_size_feed_forward", 0):
            return False
    return True


class StackedLayers:
    """The upper layers of N tasks, weights stacked along a leading task axis."""

    def __init__(self, stacks: Sequence[nn.ModuleList], config: Any) -> None:
        self.size = len(stacks)
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.eps = config.layer_norm_eps
        self.layers: list[dict[str, torch.Tensor]] = []
        with torch.no_grad():
            for index in range(len(stacks[0])):
                per_task = [self._weights(stack[index]) for stack in stacks]
                self.layers.append({k: torch.stack([w[k] for w in per_task]).contiguous() for k in _PARTS})

    @staticmethod
    def _weights(layer: nn.Module) -> dict[str, torch.Tensor]:
        s, o = layer.attention.self, layer.attention.output
        return {
            "wqkv": torch.cat([s.query.weight, s.key.weight, s.value.weight]).t(),
            "bqkv": torch.cat([s.query.bias, s.key.bias, s.value.bias])[None],
            "wo": o.dense.weight.t(),
            "bo": o.dense.bias[None],
            "g1": o.LayerNorm.weight[None],
            "b1": o.LayerNorm.bias[None],
            "wi": layer.intermediate.dense.weight.t(),
            "bi": layer.intermediate.dense.bias[None],
            "wout": layer.output.dense.weight.t(),
            "bout": layer.output.dense.bias[None],
            "g2": layer.output.LayerNorm.weight[None],
            "b2": layer.output.LayerNorm.bias[None],
        }

    def __call__(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``hidden`` [N, T, H] (task i's input in row i) → [N, T, H]; ``mask`` [1, 1, T, T] bool or None."""
        n, t, h = hidden.shape
        d = h // self.heads
        x = hidden
        for w in self.layers:
            qkv = torch.baddbmm(w["bqkv"], x, w["wqkv"]).view(n, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            attended = attended.transpose(1, 2).reshape(n, t, h)
            x = self._norm(torch.baddbmm(w["bo"], attended, w["wo"]) + x, w["g1"], w["b1"])
            inner = F.gelu(torch.baddbmm(w["bi"], x, w["wi"]))
            x = self._norm(torch.baddbmm(w["bout"], inner, w["wout"]) + x, w["g2"], w["b2"])
        return x

    def _norm(self, x: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """LayerNorm with each task's own gain and bias (one task: the fused kernel, exactly as nn.LayerNorm)."""
        if self.size == 1:
            return F.layer_norm(x, (self.hidden,), gain[0, 0], bias[0, 0], self.eps)
        return torch.addcmul(bias, F.layer_norm(x, (self.hidden,), eps=self.eps), gain)


class StackCache:
    """Stacked layers per group of task models, built on first use (a few groups: the stacks copy weights).

    Keys hold weak references, so a model unloaded by a hot swap can never be confused with a new one that
    happens to reuse its ``id``; the least recently used group is dropped beyond ``capacity``.
    """

    def __init__(self, config: Any, capacity: int = 4) -> None:
        self.config = config
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, ...], tuple[tuple[weakref.ref[nn.Module], ...], StackedLayers]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, models: Sequence[nn.Module], layers: Sequence[nn.ModuleList]) -> StackedLayers:
        key = tuple(id(m) for m in models)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and all(ref() is m for ref, m in zip(entry[0], models, strict=True)):
                self._entries.move_to_end(key)
                return entry[1]
        stacked = StackedLayers(layers, self.config)
        with self._lock:
            self._entries[key] = (tuple(weakref.ref(m) for m in models), stacked)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return stacked

    def __len__(self) -> int:
        return len(self._entries)
