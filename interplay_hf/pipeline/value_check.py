"""The values of a planned stage's command checked at plan time by the stage's own parser and validation.

``flag_check`` makes sure each arg is a flag of its command; this makes sure the values would pass the checks the
stage itself runs when it starts (eval ``n: 0`` or ``k`` above ``n``, a NaN temperature, a GRPO reward option out
of range), so ``pipeline --dry-run`` fails on them instead of the stage, after every earlier stage has trained.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.schema import PlannedStage


def _raise(message: str) -> None:
    raise ConfigError(message)


def _module_args(stage: PlannedStage) -> list[str] | None:
    """The words after ``-m <module>`` of an ``accelerate launch`` stage command."""
    command = list(stage.command)
    if "-m" not in command:
        return None
    return command[command.index("-m") + 2:]


def _check_eval(stage: PlannedStage, words: list[str]) -> None:
    from interplay_hf.evaluation.config import EvalConfig, config_from_args
    from interplay_hf.evaluation.runner import build_arg_parser

    parser = build_arg_parser(argparse.ArgumentParser(add_help=False))
    parser.error = _raise  # type: ignore[method-assign]
    config_from_args(EvalConfig, parser.parse_args(words))


def _check_training(stage: PlannedStage, root: Path) -> None:
    """Finite numbers in range and valid reward options in the recipe as the stage will read it (the recipe file,
    its ``recipe_overrides``, the stage's args). TRL's own parse is left to the stage: it checks the hardware
    (bf16 on a GPU recipe) of the machine that plans, which need not be the one that trains."""
    from types import SimpleNamespace

    from interplay_hf.inputs import check_number
    from interplay_hf.train.config import reject_hub_token
    from interplay_hf.train.preflight import check_numeric_ranges
    from interplay_hf.yaml_io import load_yaml_mapping, merge_recipe

    recipe = root / stage.recipe if stage.recipe else None
    values = load_yaml_mapping(recipe) if recipe is not None and recipe.is_file() else {}
    values = merge_recipe(values, stage.recipe_overrides or {})
    values.update({key.replace("-", "_"): value for key, value in stage.args.items()})
    for key, value in values.items():
        if isinstance(value, float):
            check_number(value, key)
    check_numeric_ranges(SimpleNamespace(**values))
    reject_hub_token(values.get("hub_token"))
    if stage.type == "grpo" and ("reward_funcs" in values or "reward_kwargs" in values):
        from interplay_hf.rewards import validate_reward_config

        kwargs = values.get("reward_kwargs")
        validate_reward_config(values.get("reward_funcs") or ["mixed"], kwargs if isinstance(kwargs, dict) else None)


def check_stage_values(stage: PlannedStage, root: Path) -> None:
    """Run the stage's own argument checks on its planned command (no model, no data is read)."""
    words = _module_args(stage)
    if words is None or stage.type not in ("eval", "sft", "grpo"):
        return
    try:
        if stage.type == "eval":
            _check_eval(stage, words)
        else:
            _check_training(stage, root)
    except ConfigError as err:
        raise ConfigError(f"{stage.where}: {err}") from None
