"""recipes/finetune/: every stage recipe parses with the real TrlParser and resolves without downloading anything —
a Hub model id whose LoRA targets exist in that architecture, valid rewards, an accelerate config that exists, a
batch that holds whole GRPO groups on one GPU and on the accelerate config's process count — and every chat data
recipe is a valid data recipe that asks for chat prompts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from interplay_hf.train.config import _HUB_ID, parse_stage_args

ROOT = Path(__file__).parent.parent
FINETUNE = ROOT / "recipes" / "finetune"
STAGE_RECIPES = sorted(p for p in FINETUNE.glob("*/*.yaml") if p.parent.name != "data")
DATA_RECIPES = sorted((FINETUNE / "data").glob("*.yaml"))
MODELS = {
    "qwen2.5-0.5b-instruct": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b-instruct": "Qwen/Qwen2.5-1.5B-Instruct",
    "llama-3.2-1b-instruct": "meta-llama/Llama-3.2-1B-Instruct",
}
LORA_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
LAUNCH = re.compile(r"accelerate launch --config_file (\S+)(?: --num_processes (\d+))? -m interplay_hf\.train\.(\w+)")


def recipe_id(path: Path) -> str:
    return path.relative_to(FINETUNE).as_posix()


def stage_of(path: Path) -> str:
    return "grpo" if path.name.startswith("grpo") else "sft"


def parse(path: Path, world_size: int | None = None):
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    overrides = ["--use_cpu", "true"]  # bf16 GPU recipes on a CPU-only machine
    if config.get("use_vllm"):
        overrides += ["--use_vllm", "false"]  # vLLM is optional here; its settings are checked separately
    return parse_stage_args(stage_of(path), ["--config", str(path), *overrides], check_paths=False,
                            world_size=world_size)


def launch_of(path: Path) -> tuple[Path, int, str]:
    """(accelerate config, process count, stage module) from the launch command in the recipe's header."""
    match = LAUNCH.search(" ".join(path.read_text(encoding="utf-8").replace("\\\n", " ").split()))
    assert match, f"{recipe_id(path)}: no `accelerate launch --config_file C -m interplay_hf.train.X` in the header"
    config = ROOT / match.group(1)
    processes = int(match.group(2) or yaml.safe_load(config.read_text())["num_processes"])
    return config, processes, match.group(3)


@pytest.fixture(scope="module")
def linear_modules() -> dict[str, set[str]]:
    """Names of the linear layers (last path component) of tiny Qwen2 and Llama models built locally."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    shape = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=1)
    names = {}
    families = {"Qwen/": (Qwen2Config, Qwen2ForCausalLM), "meta-llama/": (LlamaConfig, LlamaForCausalLM)}
    for family, (config_cls, model_cls) in families.items():
        model = model_cls(config_cls(**shape))
        names[family] = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    return names


def test_every_model_has_lora_recipes_for_both_rewards_and_a_warmup():
    names = {recipe_id(p) for p in STAGE_RECIPES}
    for folder in MODELS:
        expected = {"grpo_lora_mixed.yaml", "grpo_lora_strict.yaml", "sft_warmup_lora.yaml"}
        assert {f"{folder}/{name}" for name in expected} <= names
    assert {"qwen2.5-0.5b-instruct/grpo_full_mixed.yaml", "qwen2.5-0.5b-instruct/grpo_full_strict.yaml"} <= names
    assert (FINETUNE / "README.md").is_file()


@pytest.mark.parametrize("path", STAGE_RECIPES, ids=recipe_id)
def test_stage_recipe_parses_and_resolves_offline(path, linear_modules):
    script, train, model = parse(path)
    model_id = model.model_name_or_path
    assert _HUB_ID.match(model_id) and model_id == MODELS[path.parent.name], model_id
    assert model.dtype == "bfloat16" and train.bf16 and train.activation_checkpointing
    assert script.heldout_split is None  # held-out CE/greedy sampling read plain text, not chat messages
    if model.use_peft:
        family = next(f for f in linear_modules if model_id.startswith(f))
        targets = model.lora_target_modules
        targets = {targets} if isinstance(targets, str) else set(targets)
        assert targets == LORA_MODULES and targets <= linear_modules[family]
    else:
        assert "_full_" in path.name
    config, processes, module = launch_of(path)
    assert config.is_file() and module == stage_of(path)
    assert f"--config recipes/finetune/{recipe_id(path)}" in " ".join(path.read_text().split())


@pytest.mark.parametrize("path", [p for p in STAGE_RECIPES if stage_of(p) == "grpo"], ids=recipe_id)
def test_grpo_recipe_rewards_batches_and_vllm(path):
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    script, train, _ = parse(path)
    if path.stem.endswith("_mixed"):
        assert script.reward_funcs == ["mixed"] and script.reward_kwargs == {"mixed": {"alpha": 0.2}}
    else:
        assert path.stem.endswith("_strict") and script.reward_funcs == ["strict"]
    # Chat data: the prompts are messages already and go to TRL as they are.
    assert script.prompt_format == "plain"
    assert config["use_vllm"] is True and config["vllm_mode"] == "colocate"
    assert 0 < config["vllm_gpu_memory_utilization"] < 0.5  # colocated: training keeps the rest
    # TRL's own check that a generation batch holds whole groups, for one GPU and the launch's process count.
    _, processes, _ = launch_of(path)
    ddp_processes = yaml.safe_load((ROOT / "accelerate_configs/ddp.yaml").read_text())["num_processes"]
    for world in sorted({1, processes, ddp_processes}):
        _, launched, _ = parse(path, world_size=world)
        assert launched.num_generations >= 2
        assert launched.generation_batch_size % launched.num_generations == 0
        per_step = train.per_device_train_batch_size * world * train.gradient_accumulation_steps
        assert launched.generation_batch_size == per_step


@pytest.mark.parametrize("path", [p for p in STAGE_RECIPES if stage_of(p) == "sft"], ids=recipe_id)
def test_sft_warmup_trains_on_chat_completions_with_lora(path):
    script, train, model = parse(path)
    assert train.completion_only_loss and model.use_peft and not train.packing
    warmup_data = yaml.safe_load((FINETUNE / "data" / "sft_warmup_chat.yaml").read_text())
    assert script.dataset_path == warmup_data["output_dir"]


@pytest.mark.parametrize("path", DATA_RECIPES, ids=recipe_id)
def test_chat_data_recipe_is_valid_and_asks_for_chat_prompts(path):
    from interplay_hf.data.recipe import load_data_recipe

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["prompt_format"] == "chat"
    assert load_data_recipe(path).prompt_format == "chat"
    eval_seed = yaml.safe_load((ROOT / "recipes/data/eval.yaml").read_text())["eval"]["seed"]
    assert raw.get("eval", {}).get("seed", eval_seed) == eval_seed
