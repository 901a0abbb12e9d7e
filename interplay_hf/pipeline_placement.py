"""Run a pipeline's training stages on other hardware (a GPU) without changing what they are.

``interplay-hf pipeline <recipe> --placement gpu`` re-targets the ``sft`` and ``grpo`` stages it runs:
another accelerate config, a process count, ``--use_cpu false --bf16 true``, and a gradient-accumulation
factor that keeps the global batch the recipe asked for. Where a stage runs is deliberately *not* part of
its hash: a base pre-trained on a GPU is skipped as finished when the same pipeline later runs on a
laptop, which then does the RL and evaluation (recipes/mini/README.md). Evaluation and data stages keep
their own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import load_yaml_mapping

PLACED_TYPES = ("sft", "grpo")


@dataclass(frozen=True)
class Placement:
    name: str
    accelerate_config: str  # relative to the repository root
    script_args: dict[str, str] = field(default_factory=dict)
    default_processes: int = 1
    summary: str = ""


PLACEMENTS = {
    "gpu": Placement(
        "gpu", "accelerate_configs/ddp.yaml", {"use_cpu": "false", "bf16": "true"}, 1,
        "training stages on CUDA GPUs (DDP, bf16); --num-processes = GPUs (default 1)",
    ),
}


def get_placement(name: str) -> Placement:
    if name not in PLACEMENTS:
        raise ConfigError(f"--placement: unknown placement {name!r}; choose one of {', '.join(PLACEMENTS)}")
    return PLACEMENTS[name]


def apply_placement(plan, name: str, num_processes: int | None = None) -> None:
    """Rewrite the commands of the plan's sft/grpo stages for placement ``name`` (hashes unchanged)."""
    placement = get_placement(name)
    processes = placement.default_processes if num_processes is None else num_processes
    if processes < 1:
        raise ConfigError(f"--num-processes: a positive integer, got {processes}")
    if not (plan.root / placement.accelerate_config).is_file():
        raise ConfigError(f"--placement {name}: {placement.accelerate_config} not found under {plan.root}")
    for stage in plan.stages:
        if stage.type in PLACED_TYPES:
            stage.command = placed_command(stage, placement, processes, plan.root)
            stage.placement = f"{name} ({processes} process{'es' if processes > 1 else ''})"


def placed_command(stage, placement: Placement, processes: int, root: Path) -> list[str]:
    """The stage's ``accelerate launch`` command with the placement's launcher and script flags."""
    command = stage.command
    script = command[command.index("-m"):]
    launcher = ["accelerate", "launch", "--config_file", placement.accelerate_config, "--num_processes",
                str(processes)]
    extra = dict(placement.script_args)
    planned = stage.hash_parts.get("launch", {}).get("num_processes") or 1
    if planned != processes:
        if planned % processes:
            raise ConfigError(
                f"--num-processes {processes}: stage {stage.name!r} is planned on {planned} processes; use a "
                f"divisor of {planned} so that gradient accumulation keeps its global batch"
            )
        extra["gradient_accumulation_steps"] = str(_accumulation(stage, root) * planned // processes)
    for key, value in extra.items():
        script += [f"--{key}", value]
    return launcher + script


def _accumulation(stage, root: Path) -> int:
    """gradient_accumulation_steps the stage would run with: its args, else its recipe, else 1."""
    if "gradient_accumulation_steps" in stage.args:
        return int(stage.args["gradient_accumulation_steps"])
    if stage.recipe and "${" not in stage.recipe and (root / stage.recipe).is_file():
        return int(load_yaml_mapping(root / stage.recipe).get("gradient_accumulation_steps", 1))
    return 1
