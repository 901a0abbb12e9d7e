"""``budget:`` — a fixed number of training samples split between stages, and turned into a flag of each.

Each split's shares must sum to 1 (e.g. β = 0.2 RL is ``{midtrain: 0.8, rl: 0.2}``); ``to_args`` converts a
stage's samples into the value of one of its flags, ``ceil(share * total_samples * per_sample / samples_per_step)``:
a step count (``samples_per_step``), or another unit of the same compute (``per_sample``). The official
mid-training vs RL runs count the budget in RL prompts and give mid-training about 20k tokens per prompt of
its share (recipes/paper/midtrain_vs_rl/README.md), i.e. ``{arg: max_train_tokens, per_sample: 19814}``.
"""

from __future__ import annotations

import math
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.schema import BUDGET_KEYS, check_keys

SHARE_TOLERANCE = 1e-6


def check_budget(raw: Any, bodies: dict, variants_of: dict[str, list[str]]) -> dict | None:
    """Validate the compute split: each split's shares sum to 1; return stage -> (samples, arg, steps)."""
    if raw is None:
        return None
    check_keys(raw, BUDGET_KEYS, "budget")
    total = raw.get("total_samples")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise ConfigError("budget.total_samples: required; a positive integer number of training samples")
    splits = raw.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise ConfigError("budget.splits: required; split name -> {stage: share}, shares summing to 1")
    per_stage: dict[str, dict[str, Any]] = {}
    for split_name, shares in splits.items():
        where = f"budget.splits.{split_name}"
        if not isinstance(shares, dict) or not shares:
            raise ConfigError(f"{where}: a mapping stage -> share (a fraction of total_samples)")
        for stage_name, share in shares.items():
            if stage_name not in bodies:
                raise ConfigError(f"{where}.{stage_name}: no stage named {stage_name!r}; the stages are "
                                  f"{', '.join(bodies)}")
            if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
                raise ConfigError(f"{where}.{stage_name}: a share is a number in (0, 1], got {share!r}")
            if stage_name in per_stage:
                raise ConfigError(f"{where}.{stage_name}: the stage is already in split "
                                  f"{per_stage[stage_name]['split']!r}; a stage belongs to one split")
            per_stage[stage_name] = {"split": split_name, "share": float(share),
                                     "samples": int(round(share * total))}
        share_sum = sum(float(s) for s in shares.values())
        if abs(share_sum - 1.0) > SHARE_TOLERANCE:
            raise ConfigError(
                f"{where}: shares sum to {share_sum:g}, not 1; a split must spend exactly budget.total_samples "
                f"({total}) — e.g. β = 0.2 RL is {{midtrain: 0.8, rl: 0.2}}"
            )
    to_args = raw.get("to_args") or {}
    if not isinstance(to_args, dict):
        raise ConfigError("budget.to_args: a mapping stage -> {arg: <flag name>, samples_per_step: <int>, "
                          "per_sample: <number>}")
    for key, conv in to_args.items():
        where = f"budget.to_args.{key}"
        targets = variants_of.get(key) or ([key] if key in bodies else None)
        if targets is None:
            raise ConfigError(f"{where}: no stage named {key!r}; the stages are {', '.join(bodies)}")
        check_keys(conv, ("arg", "samples_per_step", "per_sample"), where)
        arg = conv.get("arg")
        if not isinstance(arg, str) or not arg:
            raise ConfigError(f"{where}.arg: required; the flag that receives the budget (e.g. max_steps)")
        per_step = conv.get("samples_per_step", 1)
        if not isinstance(per_step, int) or isinstance(per_step, bool) or per_step <= 0:
            raise ConfigError(f"{where}.samples_per_step: a positive integer (samples consumed by one step)")
        per_sample = conv.get("per_sample", 1)
        if not isinstance(per_sample, (int, float)) or isinstance(per_sample, bool) or not per_sample > 0:
            raise ConfigError(f"{where}.per_sample: a positive number (units of {arg} per budget sample)")
        for target in targets:
            if target not in per_stage:
                raise ConfigError(f"{where}: stage {target!r} is in no budget split, so it has no budget to convert")
            per_stage[target].update(arg=arg, samples_per_step=per_step, per_sample=per_sample,
                                     value=math.ceil(round(per_stage[target]["samples"] * per_sample, 6) / per_step))
    return {"total_samples": total, "stages": per_stage}
