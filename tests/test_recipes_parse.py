"""Every TRL stage recipe under recipes/ parses with the installed TRL (open-r1's recipes broke on renames).

A YAML file is a stage recipe when it sets a stage field (model, dataset, rewards or optimiser keys) and is
not a pipeline (``stages:``) or data recipe. Paths inside recipes point at run directories the pipeline
creates, so their existence is not checked here; everything else (keys, types, presets, rewards, budgets,
TRL's own checks) is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interplay_hf.train.config import parse_stage_args

RECIPES = Path(__file__).parent.parent / "recipes"
STAGE_KEYS = {"model_preset", "model_name_or_path", "reward_funcs", "per_device_train_batch_size", "learning_rate"}


def stage_of(path: Path) -> str | None:
    """'grpo', 'sft' or None (not a stage recipe)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or "stages" in config or not STAGE_KEYS & set(config):
        return None
    return "grpo" if "reward_funcs" in config or path.name.startswith("grpo") else "sft"


STAGE_RECIPES = sorted(p for p in RECIPES.rglob("*.yaml") if stage_of(p))


def test_the_reference_and_quickstart_recipes_are_found():
    names = {p.relative_to(RECIPES).as_posix() for p in STAGE_RECIPES}
    assert "train/pretrain_qwen2-100m.yaml" in names and "train/grpo_qwen2-100m.yaml" in names
    assert {"quickstart/pretrain.yaml", "quickstart/grpo.yaml"} <= names


@pytest.mark.parametrize("path", STAGE_RECIPES, ids=lambda p: p.relative_to(RECIPES).as_posix())
def test_stage_recipe_parses_with_the_real_parser(path):
    import torch

    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    overrides = []
    if config.get("use_vllm"):
        overrides += ["--use_vllm", "false"]  # vLLM is optional: check the rest with transformers generation
    if config.get("bf16") and not torch.cuda.is_available():
        overrides += ["--use_cpu", "true"]  # GPU recipes: transformers rejects bf16 on a CPU-only machine
    script, _, model = parse_stage_args(stage_of(path), ["--config", str(path), *overrides], check_paths=False)
    assert script.dataset_path
    assert script.model_preset or model.model_name_or_path
