"""Every pipeline recipe under recipes/ plans (a dry run) without running anything, and stays consistent."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interplay_hf.pipeline.plan import build_plan
from interplay_hf.pipeline.run import run_pipeline
from interplay_hf.pipeline.schema import BUDGET_KEYS, STAGE_KEYS, STAGE_TYPES, TOP_LEVEL_KEYS
from interplay_hf.yaml_io import merge_recipe

REPO = Path(__file__).resolve().parent.parent
RECIPES = REPO / "recipes"


def pipeline_recipes() -> list[Path]:
    """YAML files under recipes/ that are pipelines (a top-level `stages:` mapping)."""
    found = []
    for path in sorted(RECIPES.rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("stages"), dict):
            found.append(path)
    return found


PIPELINES = pipeline_recipes()
MINI = sorted(p for p in PIPELINES if p.parent.name == "mini")


def test_the_recipe_folders_hold_the_expected_pipelines():
    names = {str(p.relative_to(RECIPES)) for p in PIPELINES}
    assert {"quickstart/pipeline.yaml", "paper/extrapolation/pipeline.yaml", "paper/context/pipeline.yaml",
            "paper/midtrain_vs_rl/pipeline.yaml", "paper/process_reward/pipeline.yaml"} <= names
    assert [p.stem for p in MINI] == ["study"]  # the four mini experiments share one pipeline and its base


@pytest.mark.slow  # imports TRL once to check every training flag against the scripts' fields
@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: str(p.relative_to(RECIPES)))
def test_every_pipeline_recipe_plans_without_running(path, tmp_path):
    lines: list[str] = []
    assert run_pipeline(path, runs_dir=tmp_path, dry_run=True, say=lines.append) == 0
    plan = build_plan(path, tmp_path)
    assert plan.root == REPO
    assert all(f"] {s.name}  (" in lines[0] for s in plan.stages)
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: str(p.relative_to(RECIPES)))
def test_data_stages_with_overrides_are_valid_data_recipes(path, tmp_path):
    from interplay_hf.data.recipe import recipe_from_dict

    for stage in build_plan(path, tmp_path).stages:
        if stage.type != "data" or "${" in stage.recipe:
            continue
        recipe = yaml.safe_load((REPO / stage.recipe).read_text(encoding="utf-8"))
        recipe_from_dict(merge_recipe(recipe, stage.recipe_overrides or {}))


def test_the_v1_mini_study_compares_arms_that_differ_only_in_the_intervention(tmp_path):
    """Each v1 finding's two arms share every input but the one the claim is about (recipes/mini/v1/findings.yaml)."""
    plan = build_plan(RECIPES / "mini" / "v1" / "study.yaml", tmp_path)
    args = {s.name: s.args for s in plan.stages}
    assert args["rl.edge"]["dataset_train_split"] == "rl_edge" and args["rl.id"]["dataset_train_split"] == "rl_id"
    assert {k: v for k, v in args["rl.edge_mixed"].items() if not k.startswith("reward")} == {
        k: v for k, v in args["rl.edge"].items() if not k.startswith("reward")}
    assert args["ctx.b0"]["model_name_or_path"] != args["ctx.b10"]["model_name_or_path"]
    assert {k: v for k, v in args["ctx.b0"].items() if k != "model_name_or_path"} == {
        k: v for k, v in args["ctx.b10"].items() if k != "model_name_or_path"}
    assert plan.stage("rl_mid").args["max_train_samples"] * 2 == 320  # half of rl.edge's prompts (grpo.yaml)


def test_the_paper_budget_reproduces_the_train_recipes_budgets(tmp_path):
    """RL prompts for GRPO; mid-training paid in tokens, 19,814.4 per prompt of its share (the official ratio)."""
    plan = build_plan(RECIPES / "paper/midtrain_vs_rl/pipeline.yaml", tmp_path)
    for variant in ("light", "medium", "heavy"):
        for stage_name, key in ((f"mid.{variant}", "max_train_tokens"), (f"rl.{variant}", "max_train_samples")):
            stage = plan.stage(stage_name)
            recipe = yaml.safe_load((REPO / stage.recipe).read_text(encoding="utf-8"))
            assert stage.args[key] == recipe[key], stage_name
        mid, rl = plan.stage(f"mid.{variant}").args, plan.stage(f"rl.{variant}").args
        assert mid["max_train_tokens"] == round((122000 - rl["max_train_samples"]) * 19814.4)
    assert plan.stage("mid.full_mid").args["max_train_tokens"] == 2_417_356_800
    assert plan.stage("rl.full_rl").args["max_train_samples"] == 122000


def test_the_schema_documentation_names_every_key_and_stage_type():
    readme = (RECIPES / "quickstart" / "README.md").read_text(encoding="utf-8")
    for key in [*TOP_LEVEL_KEYS, *STAGE_KEYS, *BUDGET_KEYS, *STAGE_TYPES]:
        assert f"`{key}`" in readme, key


def test_gpu_placement_retargets_training_stages_and_keeps_the_sft_hashes(tmp_path):
    """Pre-train the mini base on a GPU, then run the rest on a CPU: the CPU run must skip what the GPU did."""
    from interplay_hf.errors import ConfigError
    from interplay_hf.pipeline.placement import placed_plan

    recipe = RECIPES / "mini" / "v1" / "study.yaml"
    cpu = build_plan(recipe, tmp_path)
    gpu = placed_plan(recipe, tmp_path, "gpu")
    for placed, local in zip(gpu.stages, cpu.stages):
        # A GRPO stage samples one stream per rank, so its process count (2 -> 1) is part of its hash (and of its
        # dependants'); pre-training is the same run on any count, so a GPU-trained base is skipped on the CPU.
        if placed.type in ("data", "tokenizer", "sft"):
            assert placed.hash == local.hash, placed.name
        elif placed.type == "grpo":
            assert placed.hash != local.hash, placed.name
        assert placed.batch_line == local.batch_line  # ... and every global batch is the recipe's
    pre = gpu.stage("pretrain").command
    assert pre[:6] == ["accelerate", "launch", "--config_file", "accelerate_configs/ddp.yaml", "--num_processes", "1"]
    assert pre[-6:] == ["--gradient_accumulation_steps", "2", "--use_cpu", "false", "--bf16", "true"]  # 2 ranks -> 1
    assert pre[pre.index("-m"):-6] == cpu.stage("pretrain").command[cpu.stage("pretrain").command.index("-m"):]
    assert gpu.stage("eval_base").command == cpu.stage("eval_base").command  # evaluation stays on the CPU
    assert gpu.stage("pretrain").placement == "gpu (1 process)" and cpu.stage("pretrain").placement is None
    two = placed_plan(recipe, tmp_path, "gpu", num_processes=2)
    assert "--gradient_accumulation_steps" not in two.stage("rl.edge").command  # same world size: same batch
    assert [s.hash for s in two.stages] == [s.hash for s in cpu.stages]
    with pytest.raises(ConfigError, match="unknown placement 'tpu'"):
        placed_plan(recipe, tmp_path, "tpu")
