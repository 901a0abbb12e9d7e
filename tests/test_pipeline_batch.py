"""Training stages keep their recipe's global batch for any process count; bad counts fail at plan time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.pipeline.run import run_pipeline

REPO = Path(__file__).resolve().parent.parent
PAPER = sorted((REPO / "recipes" / "paper").glob("*/pipeline.yaml"))


def _script_value(command: list[str], flag: str, recipe: dict, default: int) -> int:
    """The value a TRL script sees: the last occurrence on the command line, else the recipe's."""
    values = [command[i + 1] for i, word in enumerate(command) if word == f"--{flag}"]
    return int(values[-1]) if values else int(recipe.get(flag, default))


@pytest.mark.parametrize("path", PAPER, ids=lambda p: p.parent.name)
def test_paper_pipelines_print_the_same_global_batch_for_1_and_8_processes(path, tmp_path):
    lines = {}
    for processes in (1, 2, 4, 8):
        plan = build_plan(path, tmp_path, num_processes=processes)
        training = [s for s in plan.stages if s.type in ("sft", "grpo")]
        assert training
        lines[processes] = [s.batch_line for s in training]
        for stage in training:
            assert stage.batch_line.startswith("global batch: ")
            recipe = yaml.safe_load((REPO / stage.recipe).read_text(encoding="utf-8"))
            per_device = _script_value(stage.command, "per_device_train_batch_size", recipe, 8)
            accumulation = _script_value(stage.command, "gradient_accumulation_steps", recipe, 1)
            rows = recipe["per_device_train_batch_size"] * recipe.get("gradient_accumulation_steps", 1)
            assert per_device * accumulation * processes == rows, stage.name
            assert stage.command[stage.command.index("--num_processes") + 1] == str(processes)
    assert lines[1] == lines[2] == lines[4] == lines[8]


def test_the_paper_rl_batch_is_the_official_one_on_8_gpus(tmp_path):
    """verl: 1,024 prompts x 6 rollouts per generation batch, mini-batches of 256 prompts: 4 updates per rollout."""
    plan = build_plan(REPO / "recipes/paper/extrapolation/pipeline.yaml", tmp_path)  # ddp.yaml: 8 processes
    rl = plan.stage("rl.edge")
    assert rl.processes == 8
    assert rl.batch_line == ("global batch: 256 prompts x 6 generations = 1,536 completions per optimizer step; "
                             "rollout 1,024 prompts (6,144 completions), 4 updates per rollout")
    assert rl.command[-2:] == ["--gradient_accumulation_steps", "4"]
    assert plan.stage("pretrain").batch_line == (
        "global batch: 128 packed sequences x 2,048 tokens = 262,144 tokens per optimizer step")


def test_the_process_count_is_hashed_for_grpo_only(tmp_path):
    path = REPO / "recipes/paper/extrapolation/pipeline.yaml"
    one, eight = build_plan(path, tmp_path, num_processes=1), build_plan(path, tmp_path, num_processes=8)
    for a, b in zip(one.stages, eight.stages):
        if a.type == "grpo" or "rl" in a.inputs or a.base in ("eval", "edge", "report", "push"):
            continue  # GRPO samples one stream per rank; its dependants follow it
        assert a.hash == b.hash, a.name
    assert one.stage("rl.edge").hash != eight.stage("rl.edge").hash
    assert one.stage("pretrain").hash == eight.stage("pretrain").hash


def test_a_count_that_does_not_divide_the_batch_fails_at_plan_time_naming_the_stage(tmp_path):
    path = REPO / "recipes/paper/extrapolation/pipeline.yaml"
    with pytest.raises(ConfigError, match=r"stage 'pretrain'.*128 rows.*over 6 processes"):
        build_plan(path, tmp_path, num_processes=6)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="--num-processes: a positive integer"):
            build_plan(path, tmp_path, num_processes=bad)


def test_dry_run_prints_the_global_batch_of_every_training_stage(tmp_path):
    out: list[str] = []
    path = REPO / "recipes/paper/midtrain_vs_rl/pipeline.yaml"
    assert run_pipeline(path, tmp_path, dry_run=True, num_processes=4, say=out.append) == 0
    text = "\n".join(out)
    plan = build_plan(path, tmp_path)
    training = [s for s in plan.stages if s.type in ("sft", "grpo")]
    assert text.count("      global batch: ") == len(training) == 9
    assert "# on 4 processes" in text
