"""Run a pipeline's training stages on other hardware (a GPU) without changing what they are.

``interplay-hf pipeline <recipe> --placement gpu`` re-targets the ``sft`` and ``grpo`` stages it runs:
another accelerate config, a process count and ``--use_cpu false --bf16 true``; the global batch stays the
recipe's. Where a stage runs is deliberately *not* part of its hash (except a GRPO stage's process count,
which changes its sampling): a base pre-trained on a GPU is skipped as finished when the same pipeline later runs on a
laptop, which then does the RL and evaluation (recipes/mini/README.md). Evaluation and data stages keep
their own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from interplay_hf.errors import ConfigError

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


def placed_plan(path: str | Path, runs_dir: str | Path, name: str, num_processes: int | None = None):
    """The pipeline's plan with its sft/grpo stages re-targeted to placement ``name``.

    The stages keep their global batch on the new process count (:mod:`interplay_hf.pipeline.batch`); SFT
    hashes stay the same, a GRPO hash changes only with its process count (each rank samples its own stream).
    """
    from interplay_hf.pipeline.plan import build_plan

    placement = get_placement(name)
    processes = placement.default_processes if num_processes is None else num_processes
    plan = build_plan(path, runs_dir, processes, PLACED_TYPES)
    if not (plan.root / placement.accelerate_config).is_file():
        raise ConfigError(f"--placement {name}: {placement.accelerate_config} not found under {plan.root}")
    for stage in plan.stages:
        if stage.type in PLACED_TYPES:
            stage.command = placed_command(stage, placement)
            stage.placement = f"{name} ({processes} process{'es' if processes > 1 else ''})"
    return plan


def placed_command(stage, placement: Placement) -> list[str]:
    """The stage's launch with the placement's accelerate config, process count and script flags."""
    flags = tuple(word for key, value in placement.script_args.items() for word in (f"--{key}", value))
    stage.launch = replace(stage.launch, config_file=placement.accelerate_config, num_processes=stage.processes,
                           module_args=(*stage.launch.module_args, *flags))
    return stage.launch.words()
