"""Training stages keep their recipe's global batch, whatever the number of processes that runs them.

A stage recipe's batch settings (``per_device_train_batch_size`` x ``gradient_accumulation_steps``) are
sized for the process count written in the pipeline YAML (``num_processes``; 1 when absent), as verl's
``train_batch_size`` is a global figure. When the stage runs on another count — the accelerate config's
``num_processes`` (8 in accelerate_configs/ddp.yaml), ``--num-processes`` or ``--placement`` — the plan
derives the per-process micro-batch and the accumulation from that count, so every optimizer step sees the
same rows. A count that does not divide the global batch is refused at plan time, naming the stage.

For GRPO the process count still changes results (TRL seeds each rank's sampling by its rank), so it
enters the stage's hash when it differs from the recipe's; for SFT the same rows reach every step, so
it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import load_yaml_mapping, merge_recipe

TRAIN_TYPES = ("sft", "grpo")
TRL_DEFAULTS = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "num_generations": 6,
                "num_iterations": 1, "max_length": 1024}  # TrainingArguments / our GRPO paper defaults


@dataclass(frozen=True)
class StageBatch:
    """A training stage's global batch and how it is laid out on ``processes`` processes."""

    rows: int  # rows per optimizer step over all processes (packed sequences / documents, or completions)
    per_device: int
    accumulation: int
    processes: int
    reference_processes: int
    line: str  # "global batch: ...", the same for every process count
    script_flags: dict[str, int]  # flags appended to the stage's command for this layout


def accelerate_processes(root: Path, accelerate_config: str | None) -> int:
    """``num_processes`` of an accelerate config file (1 when absent or unreadable)."""
    if accelerate_config is None or not (root / accelerate_config).is_file():
        return 1
    try:
        value = load_yaml_mapping(root / accelerate_config, "accelerate config").get("num_processes", 1)
    except ConfigError:
        return 1
    return value if isinstance(value, int) and value > 0 else 1


def check_process_count(value: Any, flag: str = "--num-processes") -> int:
    """A process count from the command line or a YAML: a positive integer, else a one-line error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag}: a positive integer number of processes (GPUs or CPU ranks), got {value!r}")
    return value


def stage_fields(stage, root: Path) -> dict[str, Any] | None:
    """The training settings a stage runs with: its recipe, its recipe_overrides, then its args.

    None when the recipe is written by an input stage (known only at run time).
    """
    if not stage.recipe or "${" in stage.recipe or not (root / stage.recipe).is_file():
        return None
    fields = load_yaml_mapping(root / stage.recipe, "stage recipe")
    if stage.recipe_overrides:
        fields = merge_recipe(fields, stage.recipe_overrides)
    return {**fields, **{k.replace("-", "_"): v for k, v in stage.args.items()}}


def _int(fields: dict, key: str, where: str) -> int:
    value = fields.get(key, TRL_DEFAULTS.get(key))
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def plan_batch(stage, root: Path, processes: int, reference_processes: int) -> StageBatch | None:
    """The stage's global batch laid out on ``processes`` processes; ConfigError if it cannot be."""
    fields = stage_fields(stage, root)
    if fields is None:
        return None
    where = f"{stage.where} (stage {stage.name!r})"
    per_device = _int(fields, "per_device_train_batch_size", where)
    accumulation = _int(fields, "gradient_accumulation_steps", where)
    rows = per_device * accumulation * reference_processes
    if rows % processes:
        divisors = [str(d) for d in range(1, rows + 1) if rows % d == 0][:12]
        raise ConfigError(
            f"{where}: its global batch of {rows:,} rows per optimizer step does not split over {processes} "
            f"processes; use a process count that divides {rows:,} ({', '.join(divisors)}, ...)"
        )
    per_process = rows // processes
    new_per_device = max(d for d in range(1, per_device + 1) if per_process % d == 0)
    new_accumulation = per_process // new_per_device
    flags: dict[str, int] = {}
    if new_per_device != per_device:
        flags["per_device_train_batch_size"] = new_per_device
    if new_accumulation != accumulation:
        flags["gradient_accumulation_steps"] = new_accumulation
    if stage.type == "grpo":
        line = _grpo_line(fields, rows, per_device * reference_processes, new_per_device * processes, flags, where)
    else:
        line = _sft_line(fields, rows)
    return StageBatch(rows, new_per_device, new_accumulation, processes, reference_processes, line, flags)


def _grpo_line(fields: dict, rows: int, micro_ref: int, micro_new: int, flags: dict[str, int], where: str) -> str:
    generations = _int(fields, "num_generations", where)
    if fields.get("generation_batch_size") is not None:
        rollout = _int(fields, "generation_batch_size", where)
    elif fields.get("steps_per_generation") is not None:
        rollout = micro_ref * _int(fields, "steps_per_generation", where)
    else:
        rollout = rows  # TRL: steps_per_generation = gradient_accumulation_steps
    if rollout % micro_new:
        raise ConfigError(f"{where}: the rollout of {rollout:,} completions does not split into micro-batches of "
                          f"{micro_new} completions over all processes; change generation_batch_size")
    if fields.get("steps_per_generation") is not None:
        flags["steps_per_generation"] = rollout // micro_new
    updates = rollout / rows * _int(fields, "num_iterations", where)
    return (f"global batch: {rows / generations:,.6g} prompts x {generations} generations = {rows:,} completions "
            f"per optimizer step; rollout {rollout // generations:,} prompts ({rollout:,} completions), "
            f"{updates:g} updates per rollout")


def _sft_line(fields: dict, rows: int) -> str:
    max_length = fields.get("max_length", TRL_DEFAULTS["max_length"])
    if fields.get("packing"):
        return (f"global batch: {rows:,} packed sequences x {max_length:,} tokens = {rows * max_length:,} tokens "
                f"per optimizer step")
    return (f"global batch: {rows:,} documents per optimizer step (unpacked, up to {max_length:,} tokens each: "
            f"<= {rows * max_length:,} tokens)")
