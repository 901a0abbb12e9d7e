"""Shared-prompt (cascade) attention: a prompt's keys and values stored once and read once per step for all its rows.

Evaluation draws n samples of a problem, GRPO ``num_generations`` of a prompt: every row of a problem attends to
the same prompt. A flat KV cache copies the prompt to each row and each row reads its copy at every step, so a step
reads the prompt n times; with short completions that is most of the memory a step moves. Here the cache holds

* ``prefix``: each distinct prompt's keys/values once, ``[prompts, kv_heads, width, head_dim]`` (left pads masked);
* ``suffix``: each row's own generated keys/values, ``[rows, kv_heads, capacity, head_dim]``, written in place;

and a query attends to both parts separately: the rows of one prompt are gathered into one matrix, so the prefix is
read once per prompt, and each row reads its own suffix. The two partial softmaxes are combined by log-sum-exp
(``combine``), which is exact up to the summation order (tested against one softmax over the concatenation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RowGroups:
    """Where each row sits in its prompt's group: ``slots[p, r]`` is the row at rank r of prompt p (padded with a
    real row of the same prompt, whose result is never read back); row b is at ``(owner[b], rank[b])``."""

    slots: torch.Tensor  # [prompts, width]
    owner: torch.Tensor  # [rows]
    rank: torch.Tensor  # [rows]

    @classmethod
    def of(cls, owner: torch.Tensor, prompts: int) -> RowGroups:
        """Groups for ``owner[b]`` = the prompt index of row b (every prompt owns at least one row)."""
        order = torch.argsort(owner, stable=True)
        counts = torch.bincount(owner, minlength=prompts)
        width = int(counts.max())
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(owner)
        rank[order] = torch.arange(len(owner), device=owner.device) - starts[owner[order]]
        slots = order[starts].unsqueeze(1).repeat(1, width)  # pad with each prompt's first row
        slots[owner, rank] = torch.arange(len(owner), device=owner.device)
        return cls(slots, owner, rank)


def combine(out_a, max_a, sum_a, out_b, max_b, sum_b):
    """Softmax-weighted values over two disjoint key sets from each set's unnormalised output (``exp(s - max) @ V``),
    running max and exp-sum: the log-sum-exp merge of flash/cascade attention."""
    new_max = torch.maximum(max_a, max_b)
    scale_a, scale_b = torch.exp(max_a - new_max), torch.exp(max_b - new_max)
    return torch.addcmul(out_a * scale_a, out_b, scale_b) / torch.addcmul(sum_a * scale_a, sum_b, scale_b)


def partial_softmax(scores: torch.Tensor, values: torch.Tensor):
    """(unnormalised output, max, exp-sum) of attention with ``scores`` [..., q, keys] over ``values`` [..., keys, d];
    statistics in float32."""
    scores = scores.float()
    peak = scores.amax(-1, keepdim=True)
    weights = torch.exp(scores - peak)
    return torch.matmul(weights.to(values.dtype), values).float(), peak, weights.sum(-1, keepdim=True)


class CascadeCache:
    """Per-layer prefix and suffix keys/values of a decode batch, and the row-to-prompt groups."""

    def __init__(self, prefix_keys: list[torch.Tensor], prefix_values: list[torch.Tensor], prefix_mask: torch.Tensor,
                 owner: torch.Tensor, capacity: int) -> None:
        self.prefix_keys, self.prefix_values = prefix_keys, prefix_values
        # additive mask over prompt positions: 0 where a token is, -inf on left pads; [prompts, 1, 1, width]
        self.prefix_bias = torch.zeros(prefix_mask.shape, dtype=torch.float32, device=prefix_mask.device)
        self.prefix_bias = self.prefix_bias.masked_fill(prefix_mask == 0, float("-inf"))[:, None, None, :]
        self.owner = owner
        self.groups = RowGroups.of(owner, len(prefix_mask))
        rows, (_, kv_heads, _, head_dim) = len(owner), prefix_keys[0].shape
        self.suffix_keys = [k.new_empty(rows, kv_heads, capacity, head_dim) for k in prefix_keys]
        self.suffix_values = [v.new_empty(rows, kv_heads, capacity, head_dim) for v in prefix_values]
        self.capacity, self.length = capacity, 0

    def append(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Write this step's ``[rows, kv_heads, head_dim]`` keys/values of ``layer`` (length moves in ``advance``)."""
        self.suffix_keys[layer][:, :, self.length] = keys
        self.suffix_values[layer][:, :, self.length] = values

    def advance(self) -> None:
        self.length += 1
        if self.length > self.capacity:
            raise RuntimeError(f"suffix cache capacity {self.capacity} exceeded")

    def keep_rows(self, keep: torch.Tensor) -> None:
        """Keep rows ``keep`` (finished rows leave); prompts left without rows leave the prefix too."""
        filled = self.length
        for store in (self.suffix_keys, self.suffix_values):
            for i, buffer in enumerate(store):
                kept = buffer.new_empty(len(keep), *buffer.shape[1:])
                kept[:, :, :filled] = buffer[keep, :, :filled]
                store[i] = kept
        owner = self.owner[keep]
        alive = torch.zeros(len(self.prefix_bias), dtype=torch.bool, device=owner.device)
        alive[owner] = True
        if not bool(alive.all()):
            survivors = alive.nonzero().squeeze(-1)
            renumber = torch.cumsum(alive, 0) - 1
            owner = renumber[owner]
            self.prefix_keys = [k[survivors] for k in self.prefix_keys]
            self.prefix_values = [v[survivors] for v in self.prefix_values]
            self.prefix_bias = self.prefix_bias[survivors]
        self.owner = owner
        self.groups = RowGroups.of(owner, len(self.prefix_bias))

    def attend(self, layer: int, query: torch.Tensor, scale: float) -> torch.Tensor:
        """Attention output ``[rows, heads, head_dim]`` of ``query`` ``[rows, heads, head_dim]`` over the row's prompt
        and its own suffix (the current token included: ``append`` this layer first)."""
        rows, heads, head_dim = query.shape
        prompts, kv_heads, width = len(self.prefix_bias), self.prefix_keys[layer].shape[1], self.groups.slots.shape[1]
        group = heads // kv_heads
        query = query * scale
        # prefix: [prompts, kv, width * group, d] x [prompts, kv, d, prompt width], one read of each prompt
        grouped = query[self.groups.slots].view(prompts, width, kv_heads, group, head_dim)
        grouped = grouped.permute(0, 2, 1, 3, 4).reshape(prompts, kv_heads, width * group, head_dim)
        scores = torch.matmul(grouped, self.prefix_keys[layer].transpose(-1, -2)) + self.prefix_bias
        out, peak, total = partial_softmax(scores, self.prefix_values[layer])
        merged = torch.cat([out, peak, total], dim=-1).view(prompts, kv_heads, width, group, head_dim + 2)
        merged = merged[self.groups.owner, :, self.groups.rank].view(rows, heads, head_dim + 2)  # back to rows
        out_p, max_p, sum_p = merged[..., :head_dim], merged[..., head_dim:-1], merged[..., -1:]
        # suffix: each row's own generated positions, [rows, kv, group, d] x [rows, kv, d, steps]
        end = self.length + 1
        per_row = query.view(rows, kv_heads, group, head_dim)
        scores = torch.matmul(per_row, self.suffix_keys[layer][:, :, :end].transpose(-1, -2))
        out_s, max_s, sum_s = (t.reshape(rows, heads, -1)
                               for t in partial_softmax(scores, self.suffix_values[layer][:, :, :end]))
        return combine(out_p, max_p, sum_p, out_s, max_s, sum_s).to(query.dtype)
