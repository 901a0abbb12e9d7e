"""The args of a planned stage are flags of the command they go to, so a misspelt flag fails at plan time
rather than when the stage starts, hours into a pipeline.

Training stages are checked against the fields of their TRL script's dataclasses, eval stages against
:class:`~interplay_hf.evaluation.config.EvalConfig`, ``interplay-hf`` stages against the argparse parser of their
sub-command. This is the pipeline layer's one import of the command line (tests/test_layers.py lists it).
"""

from __future__ import annotations

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.schema import STAGE_TYPES, Plan, PlannedStage, StageType
from interplay_hf.pipeline.value_check import check_stage_values


def check_stage_fields(plan: Plan) -> None:
    """Every arg of a training or eval stage is a field of its script, so a typo fails now, not after a launch.

    Imports TRL (seconds) only when the plan has sft/grpo stages; interplay-hf stages are checked against the
    argparse parser of their sub-command.
    """
    from dataclasses import fields

    eval_fields: set[str] | None = None
    for stage in plan.stages:
        if stage.type in ("sft", "grpo"):
            from interplay_hf.train.config import check_known_keys, stage_dataclasses

            check_known_keys([k.replace("-", "_") for k in stage.args], stage_dataclasses(stage.type),
                             f"{stage.where}.args")
        elif stage.type == "eval":
            if eval_fields is None:
                from interplay_hf.evaluation.config import EvalConfig

                eval_fields = {f.name for f in fields(EvalConfig)}
            for key in stage.args:
                if key.replace("-", "_") not in eval_fields:
                    raise ConfigError(f"{stage.where}.args.{key}: not a flag of interplay_hf.evaluation.run; "
                                      f"flags: {', '.join(sorted(eval_fields))}")
        elif STAGE_TYPES[stage.type].program == "interplay-hf":
            _check_cli_args(stage, STAGE_TYPES[stage.type])
        check_stage_values(stage, plan.root)


def _check_cli_args(stage: PlannedStage, stage_type: StageType) -> None:
    """Args of an ``interplay-hf`` stage are flags of its sub-command (or its positional arguments)."""
    from interplay_hf.cli import subcommand_flags

    flags = subcommand_flags(stage_type.base)
    for key in stage.args:
        if key not in stage_type.positional and "--" + key.replace("_", "-") not in flags:
            raise ConfigError(f"{stage.where}.args.{key}: not a flag of `interplay-hf {' '.join(stage_type.base)}`; "
                              f"flags: {', '.join(sorted(f[2:] for f in flags if f.startswith('--') and f != '--help'))}")
