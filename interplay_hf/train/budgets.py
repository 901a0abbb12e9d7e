"""Compute budgets → optimizer steps, so a recipe says "2B tokens" or "24,400 RL prompts", not a step count.

The paper compares mid-training and RL at a fixed total of samples (122,000, a share β to RL), so the
budget of each stage is a plain recipe field (``max_train_tokens`` / ``max_train_samples``) and the
step count follows from the batch shape. Pure arithmetic: no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def global_batch(per_device: int, world_size: int, grad_accum: int) -> int:
    """Sequences (SFT) or completions (GRPO) per optimizer step."""
    return per_device * world_size * grad_accum


def sft_steps(
    *,
    max_train_tokens: int | None,
    max_train_samples: int | None,
    per_device: int,
    world_size: int,
    grad_accum: int,
    max_length: int | None,
    packing: bool,
    mean_doc_tokens: Callable[[], float],
) -> tuple[int, str] | None:
    """Optimizer steps for an SFT budget, and a one-line account of the arithmetic (``None``: no budget).

    With packing a step holds ``global batch x max_length`` tokens; without, ``global batch`` documents.
    Converting between the two uses the mean tokenized document length (EOS included).
    """
    batch = global_batch(per_device, world_size, grad_accum)
    if max_train_tokens is not None:
        if packing:
            per_step, unit = batch * max_length, f"{batch} x {max_length} packed tokens"
        else:
            mean = mean_doc_tokens()
            per_step, unit = batch * mean, f"{batch} docs x {mean:.1f} mean tokens"
        steps = max(1, math.ceil(max_train_tokens / per_step))
        return steps, f"max_train_tokens={max_train_tokens} / ({unit} per step) -> max_steps={steps}"
    if max_train_samples is not None:
        if packing:
            mean = mean_doc_tokens()
            docs_per_step = batch * max_length / mean
            steps = max(1, math.ceil(max_train_samples / docs_per_step))
            account = f"{batch} x {max_length} packed tokens / {mean:.1f} mean tokens = {docs_per_step:.1f} docs"
        else:
            steps = max(1, math.ceil(max_train_samples / batch))
            account = f"{batch} docs"
        return steps, f"max_train_samples={max_train_samples} / ({account} per step) -> max_steps={steps}"
    return None


def grpo_steps(
    *,
    max_train_samples: int | None,
    per_device: int,
    world_size: int,
    grad_accum: int,
    num_generations: int,
    num_iterations: int = 1,
) -> tuple[int, str] | None:
    """Optimizer steps for a GRPO budget in prompts (``None``: no budget).

    TRL 1.16 turns ``per_device x processes x grad_accum`` completions into one optimizer step, i.e.
    that many / num_generations prompts, and reuses each generation ``num_iterations`` times.
    """
    if max_train_samples is None:
        return None
    completions_per_step = global_batch(per_device, world_size, grad_accum)
    prompts_per_step = completions_per_step / (num_generations * num_iterations)
    steps = max(1, math.ceil(max_train_samples / prompts_per_step))
    return steps, (
        f"max_train_samples={max_train_samples} prompts / ({completions_per_step} completions / "
        f"({num_generations} generations x {num_iterations} iterations) = {prompts_per_step:g} prompts per step) "
        f"-> max_steps={steps}"
    )
