"""Tiny end-to-end runs of the real stage scripts: SFT learns, checkpoints load and resume, GRPO trains.

Each run is a few steps of a ~0.2M-parameter model on the 57 official problems (seconds on one core).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from interplay_hf.train.compute import stage_compute
from interplay_hf.versions import versions_comment

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def stage_data(tmp_path_factory, official_rows, tiny_tokenizer):
    """A saved DatasetDict in the data layer's schema (text/prompt/completion + gold columns) and a tokenizer."""
    from datasets import Dataset, DatasetDict

    from interplay_hf.data.text import (
        answer_from_solution,
        make_completion,
        make_prompt,
    )

    root = tmp_path_factory.mktemp("stage")
    prompts = [make_prompt(r["problem"], r["question"]) for r in official_rows]
    completions = [make_completion(r["solution"]) for r in official_rows]
    train = Dataset.from_dict(
        {
            "text": [p + c for p, c in zip(prompts, completions)],
            "prompt": prompts,
            "completion": completions,
            "solution": [r["solution"] for r in official_rows],
            "answer": [answer_from_solution(r["solution"])[1] for r in official_rows],
            "op": [r["op"] for r in official_rows],
        }
    )
    DatasetDict({"train": train, "validation": train.select(range(0, 57, 7))}).save_to_disk(root / "data")
    tiny_tokenizer.save_pretrained(root / "tok")
    return root


def sft_argv(root: Path, out: Path, **overrides) -> list[str]:
    fields = {
        "model_preset": "qwen2-300k",
        "tokenizer_name_or_path": str(root / "tok"),
        "dataset_path": str(root / "data"),
        "output_dir": str(out),
        "packing": True,
        "packing_strategy": "wrapped",
        "max_length": 256,
        "per_device_train_batch_size": 4,
        "learning_rate": 3e-3,
        "warmup_steps": 2,
        "max_steps": 24,
        "logging_steps": 4,
        "save_strategy": "no",
        "bf16": False,
        "activation_checkpointing": False,
        "use_cpu": True,
        "report_to": "none",
        "disable_tqdm": True,
        "heldout_steps": 12,
        "seed": 0,
    }
    fields.update(overrides)
    recipe = out.parent / f"{out.name}.yaml"
    recipe.write_text(yaml.safe_dump(fields), encoding="utf-8")
    return ["--config", str(recipe)]


def log_history(out: Path) -> list[dict]:
    return json.loads((out / "trainer_state.json").read_text())["log_history"]


def test_pretraining_lowers_the_loss_and_saves_a_loadable_model(stage_data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interplay_hf.train.sft import cli

    out = tmp_path / "pretrain"
    assert cli(sft_argv(stage_data, out, packing_document_mask=True)) == 0
    history = log_history(out)
    losses = [h["loss"] for h in history if "loss" in h]
    heldout = [h["heldout_ce"] for h in history if "heldout_ce" in h]
    assert len(losses) >= 5 and losses[-1] < losses[0] - 0.5
    assert len(heldout) == 2 and heldout[-1] < heldout[0]  # held-out per-document CE at steps 12 and 24
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer) and model.generation_config.eos_token_id == [3, 9]
    assert (out / "model.safetensors").is_file() and not (out / "README.md").exists()
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["model_preset"] == "qwen2-300k" and recipe["packing_document_mask"] is True
    assert f"# {versions_comment()}\n" in (out / "recipe.yaml").read_text()  # library versions, as a comment
    assert_eval_keeps_the_recorded_tokenizer(out, tmp_path)
    compute = stage_compute(out)  # packed: 24 steps x 4 sequences x 256 tokens on one process, 6N per token
    assert (compute.kind, compute.tokens, compute.flops_per_parameter_token) == ("sft", 24 * 4 * 256, 6)
    assert compute.parameters == sum(p.numel() for p in model.parameters())
    assert compute.flops == 6 * compute.parameters * compute.tokens


def assert_eval_keeps_the_recorded_tokenizer(stage: Path, tmp_path: Path) -> None:
    """The stage records its tokenizer's fingerprint; eval loads the saved one and refuses another."""
    from interplay_hf.errors import ConfigError
    from interplay_hf.evaluation.loading import load_tokenizer
    from interplay_hf.tokenizer import recorded_fingerprint, save_released_tokenizer, tokenizer_fingerprint

    assert recorded_fingerprint(stage) == (tokenizer_fingerprint(load_tokenizer(str(stage))), stage / "recipe.yaml")
    assert "(not the released tokenizer)" in (stage / "recipe.yaml").read_text()
    save_released_tokenizer(tmp_path / "released")
    with pytest.raises(ConfigError, match=r"^--tokenizer: this tokenizer .* is not the one .*recipe.yaml records"):
        load_tokenizer(str(stage), tokenizer=str(tmp_path / "released"))


def test_a_killed_run_resumes_from_its_last_complete_checkpoint(stage_data, tmp_path):
    from interplay_hf.train.sft import cli

    out = tmp_path / "resume"
    argv = sft_argv(stage_data, out, max_steps=4, save_strategy="steps", save_steps=2, heldout_split="none")
    assert cli(argv) == 0
    # Simulate a kill: the final save never finished (no trainer_state.json) and nothing at the top level.
    (out / "checkpoint-4" / "trainer_state.json").unlink()
    for name in ("model.safetensors", "trainer_state.json", "train_results.json", "recipe.yaml"):
        (out / name).unlink()
    # Mark checkpoint-2's state: a resumed run carries its log history forward.
    state_path = out / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    state["log_history"].append({"resume_marker": 1.0, "step": 2})
    state_path.write_text(json.dumps(state))

    assert cli(argv) == 0  # the same command again
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert any("resume_marker" in h for h in state["log_history"])
    assert (out / "checkpoint-4" / "trainer_state.json").is_file()


def test_push_to_hub_goes_through_the_hub_layer_checked_before_training(stage_data, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from interplay_hf.errors import ConfigError
    from interplay_hf.hub.push import TrainedStagePush
    from interplay_hf.train.config import parse_stage_args
    from interplay_hf.train.sft import cli

    out = tmp_path / "pushed"
    argv = sft_argv(stage_data, out, max_steps=2, heldout_split="none", push_to_hub=True, hub_model_id="me/tiny")
    # Offline (conftest): refused before the model loads, nothing written.
    assert cli(argv, pusher=TrainedStagePush()) == 2
    assert "hub_model_id me/tiny: HF_HUB_OFFLINE=1 is set" in capsys.readouterr().err and not out.exists()
    # Without the entry point's pusher the Trainer's own push is not a fallback.
    assert cli(argv) == 2
    assert "interplay-hf push OUTPUT_DIR" in capsys.readouterr().err and not out.exists()
    _, bad_args, _ = parse_stage_args("sft", sft_argv(stage_data, tmp_path / "bad", push_to_hub=True, hub_model_id="tiny"))
    with pytest.raises(ConfigError, match="hub_model_id 'tiny' must look like"):
        TrainedStagePush().check(bad_args)
    # Online but unreachable: the stage trains, then our push (not the Trainer's) fails in one line, stage kept.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    assert cli(argv, pusher=TrainedStagePush()) == 1  # a network failure (exit 1), not an input mistake (2)
    err = capsys.readouterr().err
    assert "cannot reach the Hub at http://127.0.0.1:9 to push me/tiny" in err and "hf_xxx" not in err
    assert (out / "model.safetensors").is_file() and (out / "recipe.yaml").is_file()
    assert yaml.safe_load((out / "recipe.yaml").read_text())["push_to_hub"] is False  # a re-run does not push


def test_midtraining_continues_from_a_checkpoint_with_a_sample_budget(stage_data, tmp_path, tiny_model_dir):
    from interplay_hf.train.sft import cli

    out = tmp_path / "midtrain"
    argv = sft_argv(
        stage_data, out, model_preset=None, model_name_or_path=str(tiny_model_dir), tokenizer_name_or_path=None,
        max_steps=-1, max_train_samples=16, packing=False, heldout_split="none",
    )
    assert cli(argv) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 4  # 16 documents / 4 per step
    assert "max_train_samples=16" in (out / "recipe.yaml").read_text().splitlines()[0]


def test_lora_adapters_through_use_peft(stage_data, tmp_path, tiny_model_dir):
    from interplay_hf.train.sft import cli

    out = tmp_path / "lora"
    argv = sft_argv(
        stage_data, out, model_preset=None, model_name_or_path=str(tiny_model_dir), tokenizer_name_or_path=None,
        max_steps=2, heldout_split="none", use_peft=True, lora_r=4, lora_alpha=8,
    )
    assert cli(argv) == 0
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()


def test_grpo_trains_with_the_mixed_reward_and_saves(stage_data, tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    from interplay_hf.train.grpo import cli

    out = tmp_path / "grpo"
    fields = {
        "model_name_or_path": str(tiny_model_dir),
        "dataset_path": str(stage_data / "data"),
        "output_dir": str(out),
        "reward_funcs": ["mixed"],
        "reward_kwargs": {"mixed": {"alpha": 0.2}},
        "num_generations": 4,
        "per_device_train_batch_size": 4,
        "max_completion_length": 24,
        "max_train_samples": 2,  # 2 prompts x 4 generations / 4 completions per step = 2 steps
        "logging_steps": 1,
        "save_strategy": "no",
        "bf16": False,
        "activation_checkpointing": False,
        "use_cpu": True,
        "report_to": "none",
        "disable_tqdm": True,
        "log_completions": False,
        "heldout_size": 4,
        "heldout_sample_prompts": 2,
        "heldout_max_new_tokens": 16,
    }
    recipe = tmp_path / "grpo.yaml"
    recipe.write_text(yaml.safe_dump(fields), encoding="utf-8")
    assert cli(["--config", str(recipe)]) == 0
    history = log_history(out)
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2
    assert any(k.startswith("rewards/mixed") for h in history for k in h)
    assert any("heldout_strict_acc" in h for h in history)
    AutoModelForCausalLM.from_pretrained(out)
    assert yaml.safe_load((out / "recipe.yaml").read_text())["beta"] == 0.001
    compute = stage_compute(out)  # generation 2N + policy 6N + reference 2N (beta > 0) per rollout token
    tokens = max(h["num_tokens"] for h in history if "num_tokens" in h)
    assert (compute.kind, compute.tokens, compute.flops_per_parameter_token) == ("grpo", tokens, 10)
    assert tokens >= 2 * 4 * 2 * 1  # 2 steps x 4 rollouts, each at least a prompt token and a completion token


def test_sft_through_accelerate_launch(stage_data, tmp_path):
    """The pipeline's way: `interplay-hf train sft` → accelerate launch --config_file accelerate_configs/cpu.yaml."""
    from transformers import AutoModelForCausalLM

    out = tmp_path / "launched"
    argv = sft_argv(stage_data, out, max_steps=2, heldout_split="none")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "interplay_hf.cli", "train", "sft", *argv, "--accelerate-config", "accelerate_configs/cpu.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2
    AutoModelForCausalLM.from_pretrained(out)
    shutil.rmtree(out)
