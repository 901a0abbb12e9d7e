"""A KV cache for our decode loop that writes each step in place instead of re-copying the whole cache.

transformers' ``DynamicLayer`` grows by ``torch.cat`` at every step, so a step copies every cached key and value
of the batch (~15% of a CPU decode step on the mini models). ``PreallocatedLayer`` allocates one buffer for the
batch's longest possible sequence (the prompt width plus ``max_new_tokens`` is known before the first step),
writes the new column into it and hands attention a view of the filled part: the same values in the same shape,
so the attention output, and the samples, are the ones the concatenating cache gives (tested in fp32).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` backed by a ``[batch, heads, capacity, head_dim]`` buffer filled left to right."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        batch, heads, _, head_dim = key_states.shape
        self.device = key_states.device
        self._keys = key_states.new_empty(batch, heads, self.capacity, head_dim)
        self._values = value_states.new_empty(batch, value_states.shape[1], self.capacity, value_states.shape[-1])
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache capacity {self.capacity} exceeded ({end} positions)")
        self._keys[:, :, self.length : end] = key_states
        self._values[:, :, self.length : end] = value_states
        self.length = end
        self._views()
        return self.keys, self.values

    def _views(self) -> None:
        self.keys, self.values = self._keys[:, :, : self.length], self._values[:, :, : self.length]

    def get_seq_length(self) -> int:
        return self.length

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows ``indices`` (rows that stopped leave; a shared prompt's row is copied to its samples)."""
        if self.length == 0:
            return
        self._keys, self._values = (self._selected(buffer, indices) for buffer in (self._keys, self._values))
        self._views()

    def _selected(self, buffer: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """A new buffer holding rows ``indices`` of ``buffer``: only the filled positions are copied."""
        kept = buffer.new_empty(len(indices), *buffer.shape[1:])
        kept[:, :, : self.length] = buffer[indices, :, : self.length]
        return kept

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.length:
            self.batch_select_indices(torch.arange(self._keys.shape[0], device=self.device).repeat_interleave(repeats))


def preallocated_cache(config: Any, capacity: int) -> DynamicCache:
    """A ``DynamicCache`` for ``config`` whose full-attention layers are ``PreallocatedLayer``s of ``capacity``
    positions (sliding-window or other special layers keep transformers' own classes)."""
    cache = DynamicCache(config=config)
    cache.layers = [PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache
