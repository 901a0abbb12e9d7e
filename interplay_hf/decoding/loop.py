"""Our decode loop: what evaluation and GRPO rollouts both sample with.

What makes it faster than ``model.generate`` on small models:

* each distinct prompt of a batch is prefilled once, by the model's own forward (evaluation draws n samples a
  problem, GRPO ``num_generations`` a prompt);
* for a Qwen2 model, each step runs ``fused_qwen2.FusedQwen2``: the model's computation as a short list of tensor
  ops over its weights (no per-module Python), with the prompt's keys/values stored once and read once per step for
  all its rows (``cascade``); other models run their own forward over an in-place flat KV cache (``kv_cache``),
  with one logged line saying why;
* a row that stops leaves the batch with its cache rows, and the draw is taken from the last logits directly
  (no logits processors or stopping criteria).

The contract (docs/evaluation.md, tested): the fused step's next-token log-probs are the model forward's to 1e-4
in fp32, pass@k equals ``generate``'s within the paired 95% interval, and a sample depends only on its seed, never on
the batch it is decoded in. (The model-forward path draws exactly what ``generate`` with
``decoding.draw.CounterSampler`` draws, in fp32.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from interplay_hf.decoding import fused_qwen2
from interplay_hf.decoding.draw import draw_tokens, row_streams
from interplay_hf.decoding.kv_cache import preallocated_cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodeSettings:
    """How rows are drawn and when they end (``stop_ids`` are kept as the row's last token)."""

    max_new_tokens: int
    temperature: float
    top_p: float
    stop_ids: tuple[int, ...]
    pad_id: int


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded input ids and attention mask of ``prompts``, on ``device``."""
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[pad_id] * (width - len(p)) + list(p) for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return input_ids.to(device), attention_mask.to(device)


def decode(model: Any, prompts: Sequence[Sequence[int]], seeds: Sequence[int | None],
           settings: DecodeSettings) -> list[list[int]]:
    """Generated ids per prompt (up to and including its stop token, or ``max_new_tokens`` of them); a row
    with seed None (or temperature 0) is greedy."""
    device = model.device
    distinct: dict[tuple[int, ...], int] = {}
    owner = torch.tensor([distinct.setdefault(tuple(p), len(distinct)) for p in prompts], device=device)
    input_ids, attention_mask = left_pad(list(distinct), settings.pad_id, device)
    row_seeds, greedy_rows, all_greedy = row_streams(seeds, settings.temperature, device)
    draw = _Draw(row_seeds, greedy_rows, all_greedy, settings)
    reason = fused_qwen2.refusal(model)
    with torch.inference_mode():
        if reason is None:
            return _decode_fused(model, input_ids, attention_mask, owner, draw, settings)
        _log_fallback(reason)
        return _decode_transformers(model, input_ids, attention_mask, owner, draw, settings)


_logged: set[str] = set()


def _log_fallback(reason: str) -> None:
    if reason not in _logged:
        _logged.add(reason)
        logger.warning("decode loop: the fused Qwen2 step does not support %s; decoding with the model's own "
                       "forward", reason)


class _Draw:
    """Each row's token at each step, and which rows stop; rows leave with ``keep``."""

    def __init__(self, row_seeds, greedy_rows, all_greedy: bool, settings: DecodeSettings) -> None:
        self.row_seeds, self.greedy_rows, self.all_greedy, self.settings = row_seeds, greedy_rows, all_greedy, settings
        self.stop_ids = torch.tensor(settings.stop_ids, device=row_seeds.device)

    def __call__(self, logits: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens, stopped) of this step."""
        if self.all_greedy:
            tokens = logits.argmax(-1)
        else:
            tokens = draw_tokens(logits, self.row_seeds, step, self.settings.temperature, self.settings.top_p,
                                 self.greedy_rows)
        return tokens, torch.isin(tokens, self.stop_ids)

    def keep(self, keep: torch.Tensor) -> None:
        self.row_seeds = self.row_seeds[keep]
        self.greedy_rows = None if self.greedy_rows is None else self.greedy_rows[keep]


def _steps(logits, draw: _Draw, max_new_tokens: int, rows_total: int, feed, leave):
    """The loop both paths share: draw, record, drop finished rows (``leave(keep)``), feed the rest
    (``feed(tokens, step)`` returns the next logits)."""
    rows = list(range(rows_total))  # batch position -> prompt index
    out: list[list[int]] = [[] for _ in range(rows_total)]
    for step in range(max_new_tokens):
        tokens, done = draw(logits, step)
        for row, token in zip(rows, tokens.tolist()):
            out[row].append(token)
        if step == max_new_tokens - 1:
            break
        if done.any():
            keep = (~done).nonzero().squeeze(-1)
            if keep.numel() == 0:
                break
            rows = [rows[i] for i in keep.tolist()]
            tokens = tokens[keep]
            draw.keep(keep)
            leave(keep)
        logits = feed(tokens, step)
    return out


def _decode_fused(model, input_ids, attention_mask, owner, draw: _Draw, settings: DecodeSettings):
    """The fused Qwen2 step over a cascade cache (the prompt's keys/values once per prompt)."""
    step_fn = fused_qwen2.FusedQwen2(model, input_ids.shape[1] + settings.max_new_tokens)
    logits, cache = step_fn.prefill(input_ids, attention_mask, owner, settings.max_new_tokens)
    logits = logits[owner]
    positions = attention_mask.sum(-1)[owner]  # the first generated token's position: the prompt's length
    state = {"positions": positions}

    def leave(keep):
        cache.keep_rows(keep)
        state["positions"] = state["positions"][keep]

    def feed(tokens, step):
        return step_fn.step(tokens, state["positions"] + step, cache)

    return _steps(logits, draw, settings.max_new_tokens, len(owner), feed, leave)


def _decode_transformers(model, input_ids, attention_mask, owner, draw: _Draw, settings: DecodeSettings):
    """The model's own forward over an in-place flat KV cache (each row holds a copy of its prompt)."""
    position_ids = (attention_mask.cumsum(-1) - 1).clamp_(min=0)  # left pads at 0, as generate
    cache = preallocated_cache(model.config, input_ids.shape[1] + settings.max_new_tokens)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=cache,
                   use_cache=True, logits_to_keep=1).logits[:, -1]
    cache.batch_select_indices(owner)  # each sample gets its prompt's cache rows
    state = {"mask": attention_mask[owner], "positions": position_ids[owner][:, -1:]}

    def leave(keep):
        cache.batch_select_indices(keep)
        state["mask"], state["positions"] = state["mask"][keep], state["positions"][keep]

    def feed(tokens, step):
        state["mask"] = torch.cat([state["mask"], state["mask"].new_ones(len(tokens), 1)], dim=-1)
        state["positions"] = state["positions"] + 1
        return model(input_ids=tokens.unsqueeze(-1), attention_mask=state["mask"], position_ids=state["positions"],
                     cache=cache, use_cache=True).logits[:, -1]

    return _steps(logits[owner], draw, settings.max_new_tokens, len(owner), feed, leave)
