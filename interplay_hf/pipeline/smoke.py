"""``interplay-hf pipeline R --smoke``: every stage of a pipeline end to end, at toy scale, on a CPU.

A paper pipeline costs GPU-weeks; its smoke run checks the wiring in minutes: the same stage graph, matrices,
stage recipes and references, with every size cut down — a few hundred problems per training split and one
per (op, context) test set, the ~0.3M-parameter preset for models trained from scratch, a few optimizer steps,
two samples per test problem and short generations — and the training and evaluation stages moved from their
(GPU) accelerate configs to ``accelerate_configs/cpu.yaml`` with the GPU-only flags (bf16, vLLM) off. The run
goes to ``<runs dir>/<name>-smoke/`` so it never touches the real run. Nothing it measures means anything.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from interplay_hf.yaml_io import load_yaml_mapping, merge_recipe

SMOKE_SUFFIX = "-smoke"
CPU_CONFIG = "accelerate_configs/cpu.yaml"
TRAIN_ROWS = 240  # rows of every training split
BUDGET_SAMPLES = 20  # a budget's total samples (mid-training documents + RL prompts of each split)
TRAIN_STEPS = {"sft": 3, "grpo": 2}  # optimizer steps of a training stage without a budget
TEST_ROWS = 1  # problems per test set (per op and context)
TINY_PRESET = "qwen2-300k"
SFT_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "max_length": 512,
    "bf16": False, "use_cpu": True, "activation_checkpointing": False, "dataset_num_proc": 1, "logging_steps": 1,
    "save_steps": 1000, "report_to": "none", "heldout_size": 4, "heldout_sample_prompts": 2,
    "heldout_max_new_tokens": 32,
}
GRPO_ARGS: dict[str, Any] = {
    "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "num_generations": 2,
    "max_completion_length": 32, "bf16": False, "use_cpu": True, "use_vllm": False, "activation_checkpointing": False,
    "logging_steps": 1, "save_steps": 1000, "report_to": "none", "log_completions": False, "heldout_size": 4,
    "heldout_sample_prompts": 2, "heldout_max_new_tokens": 32,
}
# Per-run plots off (the report stage still plots): they cost more than the sampling at this scale.
EVAL_ARGS: dict[str, Any] = {"n": 2, "k": [1, 2], "max_new_tokens": 48, "bootstrap_resamples": 50,
                             "chance_samples": 8, "backend": "hf", "plots": False}
TOKENIZER_ARGS: dict[str, Any] = {"max_texts": TRAIN_ROWS}


def smoke_pipeline(data: dict, root: Path) -> dict:
    """The pipeline YAML (as loaded) cut down to a smoke run; the stage graph is unchanged."""
    out = copy.deepcopy(data)
    out["name"] = f"{data.get('name')}{SMOKE_SUFFIX}"
    out["description"] = "smoke run (toy sizes, CPU) of: " + str(data.get("description") or data.get("name"))
    defaults = dict(out.get("defaults") or {})
    defaults["accelerate_config"] = CPU_CONFIG
    defaults.pop("num_processes", None)
    out["defaults"] = defaults
    if isinstance(out.get("budget"), dict) and "total_samples" in out["budget"]:
        out["budget"]["total_samples"] = BUDGET_SAMPLES
    return out


def budgeted_stages(data: dict) -> set[str]:
    """Stages (or matrix base names) whose length the pipeline's ``budget:`` sets."""
    budget = data.get("budget")
    to_args = budget.get("to_args") if isinstance(budget, dict) else None
    return set(to_args) if isinstance(to_args, dict) else set()


def smoke_stage(body: dict, root: Path, budgeted: bool = False) -> dict:
    """One concrete stage (matrix variant merged) cut down to its smoke version; ``budgeted``: its length is
    set by the pipeline's budget (scaled down), so no step count is added."""
    body = copy.deepcopy(body)
    kind = body.get("type")
    for key in ("accelerate_config", "num_processes"):
        body.pop(key, None)
    args = body.get("args") if isinstance(body.get("args"), dict) else {}
    if kind == "data":
        # Deep merge: the stage's own overrides (a null drops a split) stay; every remaining split shrinks.
        body["recipe_overrides"] = merge_recipe(body.get("recipe_overrides") or {}, _data_overrides(body, root),
                                                keep_nulls=True)
    elif kind == "tokenizer" and args.get("numbers") != "released":  # the released one trains nothing
        body["args"] = {**args, **TOKENIZER_ARGS}
    elif kind in ("sft", "grpo"):
        fields = {**_recipe(body.get("recipe"), root), **args}
        smoke = dict(SFT_ARGS if kind == "sft" else GRPO_ARGS)
        smoke.update({} if budgeted else _length(kind, fields, smoke))
        if fields.get("model_preset") or args.get("model_preset"):
            smoke["model_preset"] = TINY_PRESET
        if kind == "grpo":
            # A generation batch of 4 completions (2 prompts x 2): set it the way the recipe sets it.
            smoke["steps_per_generation" if "steps_per_generation" in fields else "generation_batch_size"] = (
                1 if "steps_per_generation" in fields else 4)
        body["args"] = {**args, **smoke}
    elif kind == "eval":
        body["args"] = {**args, **EVAL_ARGS}
    elif kind == "select_edge":  # pass@k at the k the smoke evaluation can measure
        sampling = {} if "results" in args else {"n": EVAL_ARGS["n"], "max_new_tokens": EVAL_ARGS["max_new_tokens"]}
        body["args"] = {**args, **sampling, "k": max(EVAL_ARGS["k"])}
    return body


def _length(kind: str, fields: dict, smoke: dict) -> dict[str, Any]:
    """A few steps, expressed the way the stage sets its length (a budget flag conflicts with max_steps)."""
    steps = TRAIN_STEPS[kind]
    if fields.get("max_train_tokens") is not None:
        return {"max_train_tokens": steps * smoke["per_device_train_batch_size"] * smoke.get("max_length", 512)}
    if fields.get("max_train_samples") is not None:
        return {}  # set by the pipeline's budget, which the smoke run scales down
    return {"max_steps": steps}


def _recipe(recipe: Any, root: Path) -> dict:
    if not isinstance(recipe, str) or "${" in recipe or not (root / recipe).is_file():
        return {}
    return load_yaml_mapping(root / recipe, "stage recipe")


def _smoke_size(size: Any) -> Any:
    """TRAIN_ROWS rows; a ``tokenizer`` stays (it measures token shares, and keeps the stage graph's reference)."""
    if isinstance(size, dict) and "tokenizer" in size:
        return {"examples": TRAIN_ROWS, "tokens": None, "pilot": None, "chars_per_token": None}
    return TRAIN_ROWS


def _data_overrides(body: dict, root: Path) -> dict:
    """Every split of the data recipe at TRAIN_ROWS rows, its test sets at TEST_ROWS, one process."""
    recipe = merge_recipe(_recipe(body.get("recipe"), root), body.get("recipe_overrides") or {})
    overrides: dict[str, Any] = {"num_proc": 1}
    if isinstance(recipe.get("splits"), dict):
        overrides["splits"] = {name: {"size": _smoke_size(split.get("size"))} for name, split in recipe["splits"].items()
                               if isinstance(split, dict)}
    if isinstance(recipe.get("eval"), dict):
        overrides["eval"] = {"size": TEST_ROWS}
    return overrides
