"""Stage recipes: parsing with TRL's parser, our defaults, budgets, and every user error before a model loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from interplay_hf.errors import ConfigError
from interplay_hf.train import budgets
from interplay_hf.train.config import parse_stage_args, resolved_recipe

REPO_ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def stage_dataset(tmp_path_factory) -> Path:
    """A saved DatasetDict with the columns SFT and GRPO read (the pre-launch checks open it)."""
    from datasets import Dataset, DatasetDict

    path = tmp_path_factory.mktemp("stage_data") / "data"
    row = {"text": "t", "prompt": "p", "completion": "c", "solution": "s", "answer": "1", "gold_graph": "{}"}
    DatasetDict({"train": Dataset.from_list([row] * 4)}).save_to_disk(str(path))
    return path


@pytest.fixture
def paths(tmp_path, stage_dataset):
    """A dataset, and a folder with the files the pre-launch checks look for in a model/tokenizer folder
    (parsing never loads the model; the checks read the weights' header, so that is a real, empty one)."""
    from safetensors.torch import save_file

    (tmp_path / "data").symlink_to(stage_dataset, target_is_directory=True)
    (tmp_path / "tok").mkdir()
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / "tok" / name).write_text("{}")
    save_file({}, str(tmp_path / "tok" / "model.safetensors"))
    return tmp_path


def write_recipe(path: Path, **fields) -> str:
    path.write_text(yaml.safe_dump(fields), encoding="utf-8")
    return str(path)


def sft_recipe(paths, **extra) -> str:
    fields = {
        "model_preset": "qwen2-300k",
        "tokenizer_name_or_path": str(paths / "tok"),
        "dataset_path": str(paths / "data"),
        "output_dir": str(paths / "out"),
        "use_cpu": True,
        "report_to": "none",
    }
    fields.update(extra)
    return write_recipe(paths / "sft.yaml", **fields)


def grpo_recipe(paths, **extra) -> str:
    fields = {
        "model_name_or_path": str(paths / "tok"),
        "dataset_path": str(paths / "data"),
        "output_dir": str(paths / "out"),
        "reward_funcs": ["mixed"],
        "reward_kwargs": {"mixed": {"alpha": 0.2}},
        "per_device_train_batch_size": 6,
        "use_cpu": True,
    }
    fields.update(extra)
    return write_recipe(paths / "grpo.yaml", **fields)


# --- parsing and precedence -------------------------------------------------------------------------


def test_command_line_overrides_the_recipe(paths):
    script, train, model = parse_stage_args(
        "sft", ["--config", sft_recipe(paths, learning_rate=1e-3), "--learning_rate", "5e-4", "--max_steps", "7"]
    )
    assert train.learning_rate == 5e-4 and train.max_steps == 7
    assert script.model_preset == "qwen2-300k" and model.model_name_or_path is None


def test_grpo_paper_defaults_apply_only_where_the_recipe_is_silent(paths):
    _, train, _ = parse_stage_args("grpo", ["--config", grpo_recipe(paths, beta=0.04)])
    assert train.beta == 0.04  # the recipe wins
    assert train.learning_rate == 1e-6 and train.num_generations == 6 and train.loss_type == "dapo"
    assert train.temperature == 1.0 and train.epsilon == 0.2 and train.log_completions is True
    assert train.use_bias_correction_kl is False  # verl's low_var_kl has no importance-ratio factor
    _, train, _ = parse_stage_args("grpo", ["--config", grpo_recipe(paths), "--beta", "0.0"])
    assert train.beta == 0.0  # the command line wins


def test_cpu_precision_is_bf16_autocast_where_the_cpu_has_native_bf16_unless_set(paths, monkeypatch):
    from interplay_hf.train import config

    for native in (True, False):
        monkeypatch.setattr(config, "cpu_has_native_bf16", lambda native=native: native)
        script, train, _ = parse_stage_args("sft", ["--config", sft_recipe(paths)])
        assert train.bf16 is native and train.mixed_precision == ("bf16" if native else "no")
        assert "bf16" in script.recipe_keys  # the decision is written to the run's recipe.yaml
    monkeypatch.setattr(config, "cpu_has_native_bf16", lambda: True)
    assert parse_stage_args("sft", ["--config", sft_recipe(paths, bf16=False)])[1].bf16 is False  # the recipe wins
    assert parse_stage_args("grpo", ["--config", grpo_recipe(paths), "--bf16", "false"])[1].bf16 is False
    assert config.trains_on_cpu({"use_cpu": False}, []) is False and config.trains_on_cpu({}, ["--use_cpu", "true"])
    assert config.trains_on_cpu({"use_cpu": True}, ["--use-cpu=false"]) is False  # the command line wins
    assert config.trains_on_cpu({"use_cpu": False}, ["--use_cpu", "--bf16", "true"])  # a bare flag is true
    script, train, _ = parse_stage_args("grpo", ["--config", grpo_recipe(paths)])
    assert script.decode_loop is True  # GRPO rollouts through train/rollouts.py unless switched off


def test_reward_kwargs_parse_from_yaml_and_json(paths):
    script, _, _ = parse_stage_args("grpo", ["--config", grpo_recipe(paths)])
    assert script.reward_kwargs == {"mixed": {"alpha": 0.2}}
    script, _, _ = parse_stage_args(
        "grpo", ["--config", grpo_recipe(paths), "--reward_kwargs", '{"mixed": {"alpha": 0.5}}']
    )
    assert script.reward_kwargs == {"mixed": {"alpha": 0.5}}


def test_resolved_recipe_parses_again_to_the_same_values(paths):
    parsed = parse_stage_args("grpo", ["--config", grpo_recipe(paths, max_train_samples=60), "--seed", "3"])
    resolved = resolved_recipe(*parsed)
    assert resolved["seed"] == 3 and resolved["beta"] == 0.001 and resolved["max_train_samples"] == 60
    again = parse_stage_args("grpo", ["--config", write_recipe(paths / "again.yaml", **resolved)])
    assert resolved_recipe(*again) == resolved


# --- user errors: all ConfigError, all before a model is loaded ---------------------------------------


@pytest.mark.parametrize(
    ("extra", "argv", "match"),
    [
        ({"learnin_rate": 1e-3}, [], "unknown field 'learnin_rate'. Did you mean 'learning_rate'"),
        ({}, ["--max_step", "3"], "command line: unknown field 'max_step'. Did you mean 'max_steps'"),
        ({"model_preset": "qwen2-2m"}, [], "model_preset: unknown preset 'qwen2-2m'"),
        ({"dataset_path": "/no/such/dataset"}, [], "dataset_path: dataset '/no/such/dataset' does not exist"),
        ({"dataset_path": None}, [], "dataset_path: required"),
        ({"tokenizer_name_or_path": None}, [], "tokenizer_name_or_path: required with model_preset"),
        ({"model_name_or_path": "x/y"}, [], "model_preset='qwen2-300k' and model_name_or_path='x/y' are both set"),
        ({"max_train_tokens": 0}, [], "max_train_tokens: a budget must be positive"),
        ({"max_train_samples": -5}, [], "max_train_samples: a budget must be positive"),
        ({"max_train_tokens": 10, "max_train_samples": 10}, [], "set one budget"),
        ({"max_train_tokens": 10, "max_steps": 3}, [], "both set the length"),
        ({"packing": True, "packing_strategy": "bfd_split", "packing_document_mask": True}, [], "packing_document_mask"),
    ],
)
def test_sft_config_errors_name_the_field(paths, extra, argv, match):
    with pytest.raises(ConfigError, match=match):
        parse_stage_args("sft", ["--config", sft_recipe(paths, **extra), *argv])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"reward_funcs": ["mixd"]}, "mixd"),
        ({"num_generations": 4}, "num_generations"),
        ({"use_vllm": True}, "use_vllm: vLLM is not installed"),
        ({"max_train_tokens": 100}, "GRPO budgets are in prompts"),
        ({"reward_weights": [1.0, 2.0]}, "reward_weights: 2 weights for 1 reward_funcs"),
    ],
)
def test_grpo_config_errors_name_the_field(paths, extra, match):
    if extra.get("use_vllm"):
        pytest.importorskip("interplay_hf.rewards")
        import importlib.util

        if importlib.util.find_spec("vllm") is not None:
            pytest.skip("vLLM is installed here")
    with pytest.raises(ConfigError, match=match):
        parse_stage_args("grpo", ["--config", grpo_recipe(paths, **extra)])


def test_num_generations_is_checked_for_the_launch_world_size(paths):
    recipe = grpo_recipe(paths, per_device_train_batch_size=3)
    _, train, _ = parse_stage_args("grpo", ["--config", recipe], world_size=2)  # 3 x 2 x 1 = one group of 6
    assert train.generation_batch_size == 6
    with pytest.raises(ConfigError, match=r"generation_batch_size \(9\) must be divisible by num_generations \(6\)"):
        parse_stage_args("grpo", ["--config", recipe], world_size=3)
    with pytest.raises(ConfigError, match="num_generations"):
        parse_stage_args("grpo", ["--config", recipe])  # one process: 3 completions


def test_train_command_rejects_a_missing_accelerate_config(paths, capsys):
    from interplay_hf.cli import main

    code = main(["train", "sft", "--config", sft_recipe(paths), "--accelerate-config", "accelerate_configs/nope.yaml"])
    assert code == 2
    assert "--accelerate-config accelerate_configs/nope.yaml: no such file" in capsys.readouterr().err


def test_train_command_dry_run_prints_the_accelerate_launch_line(paths, capsys):
    from interplay_hf.cli import main

    recipe = sft_recipe(paths)
    assert main(["train", "sft", "--config", recipe, "--num-processes", "2", "--dry-run", "--", "--seed", "1"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "accelerate.commands.launch --config_file" in line and "cpu.yaml --multi_gpu --num_processes 2 -m" in line
    assert line.endswith(f"-m interplay_hf.train.sft --config {recipe} --seed 1")


@pytest.mark.parametrize(("config", "one_process"), [
    ("cpu.yaml", True), ("ddp.yaml", False), ("fsdp.yaml", False), ("zero2.yaml", False), ("multi_node.yaml", False),
])
def test_one_launch_rule_for_multi_gpu(config, one_process):
    """`interplay-hf train` and pipeline stages share one builder: --multi_gpu exactly when the config alone would
    start a single process and more than one is asked for."""
    from interplay_hf.launch import AccelerateLaunch, starts_one_process

    root = Path(__file__).resolve().parents[1]
    assert starts_one_process(root / "accelerate_configs" / config) is one_process
    words = AccelerateLaunch("m", ("--x",), f"accelerate_configs/{config}", 2, root=root).words()
    assert ("--multi_gpu" in words) is one_process
    assert words[-3:] == ["-m", "m", "--x"] and words[words.index("--num_processes") + 1] == "2"
    assert "--multi_gpu" not in AccelerateLaunch("m", (), f"accelerate_configs/{config}", 1, root=root).words()


def test_errors_surface_before_any_model_is_built(paths, monkeypatch):
    """main() never reaches model construction on a bad recipe (cli() returns 2)."""
    from interplay_hf import models
    from interplay_hf.train.sft import cli

    def boom(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(models, "build_model", boom)
    monkeypatch.setattr(models, "load_pretrained", boom)
    assert cli(["--config", sft_recipe(paths, max_train_tokens=-1)]) == 2


@pytest.mark.slow
def test_module_entry_prints_config_errors_without_traceback(paths):
    result = subprocess.run(
        [sys.executable, "-m", "interplay_hf.train.sft", "--config", sft_recipe(paths, model_preset="qwen2-9m")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "error: model_preset: unknown preset 'qwen2-9m'" in result.stderr
    assert "Traceback" not in result.stderr


# --- budgets ----------------------------------------------------------------------------------------


def test_token_budget_with_packing_uses_global_batch_times_max_length():
    steps, note = budgets.sft_steps(
        max_train_tokens=1_000_000, max_train_samples=None, per_device=8, world_size=2, grad_accum=4,
        max_length=512, packing=True, mean_doc_tokens=lambda: pytest.fail("not needed"),
    )
    assert steps == 31 and "max_steps=31" in note  # ceil(1e6 / (8 x 2 x 4 x 512))


def test_sample_budgets_for_sft_and_grpo():
    steps, _ = budgets.sft_steps(
        max_train_tokens=None, max_train_samples=1000, per_device=8, world_size=1, grad_accum=1,
        max_length=512, packing=True, mean_doc_tokens=lambda: 128.0,
    )
    assert steps == 32  # 8 x 512 / 128 = 32 documents per step
    steps, _ = budgets.sft_steps(
        max_train_tokens=None, max_train_samples=1000, per_device=8, world_size=1, grad_accum=1,
        max_length=512, packing=False, mean_doc_tokens=lambda: 128.0,
    )
    assert steps == 125
    # The paper's RL step: 256 prompts x 6 rollouts = 1,536 completions.
    steps, _ = budgets.grpo_steps(max_train_samples=24_400, per_device=48, world_size=1, grad_accum=32, num_generations=6)
    assert steps == 96


# --- accelerate configs and the document-mask collator ----------------------------------------------


@pytest.mark.parametrize("name", ["cpu", "ddp", "fsdp", "zero2", "zero3", "multi_node"])
def test_accelerate_configs_are_valid(name):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(REPO_ROOT / "accelerate_configs" / f"{name}.yaml"))
    assert config.num_processes >= 1
    assert config.use_cpu is (name == "cpu")


def test_document_mask_collator_restarts_positions_after_eos():
    from interplay_hf.train.packing import DocumentMaskCollator

    batch = DocumentMaskCollator(pad_token_id=1, eos_token_id=3)(
        [{"input_ids": [4, 5, 3, 4, 6, 3, 4], "labels": [4, 5, 3, 4, 6, 3, 4]}, {"input_ids": [7, 3, 4]}]
    )
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 0], [0, 1, 0, 1, 2, 3, 4]]
    assert batch["labels"].tolist() == [[4, 5, 3, -100, 6, 3, -100], [7, 3, -100, -100, -100, -100, -100]]
    assert "attention_mask" not in batch  # transformers derives the block-diagonal mask from position_ids


# --- GRPO data wiring ---------------------------------------------------------------------------------


def _grpo_script_args(**overrides):
    from interplay_hf.train.config import GRPOStageArguments

    return GRPOStageArguments(dataset_path="d", **overrides)


def test_grpo_prompts_keep_the_gold_columns_for_the_rewards(tiny_tokenizer):
    from datasets import Dataset

    from interplay_hf.train.grpo import prompt_dataset

    rows = Dataset.from_dict(
        {"text": ["t"], "question_prompt": ["<question> q </question> <solution>"], "completion": [" c"],
         "solution": ["Define a as b; so b = 1. Answer: 1."], "answer": ["1"], "gold_graph": ["{}"], "op": [2]}
    )  # fmt: skip
    out = prompt_dataset(rows, _grpo_script_args(dataset_prompt_column="question_prompt"), tiny_tokenizer)
    assert out.column_names == ["prompt", "solution", "answer", "gold_graph", "op"]
    assert out[0]["prompt"] == "<question> q </question> <solution>"  # plain text: no chat template
    with pytest.raises(ConfigError, match="dataset_prompt_column: no column 'prompt'"):
        prompt_dataset(rows, _grpo_script_args(), tiny_tokenizer)


def test_chat_models_get_conversational_prompts(tiny_tokenizer):
    import copy

    from datasets import Dataset

    from interplay_hf.train.grpo import prompt_dataset

    chat = copy.deepcopy(tiny_tokenizer)
    chat.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    rows = Dataset.from_dict({"prompt": ["<question> q </question> <solution>"], "answer": ["1"]})
    out = prompt_dataset(rows, _grpo_script_args(), chat)
    # the system prompt + step-format instruction of `prompt_format: chat` data
    assert [m["role"] for m in out[0]["prompt"]] == ["system", "user"]
    assert out[0]["prompt"][1]["content"].startswith("q\n\n")
    free = prompt_dataset(Dataset.from_dict({"prompt": ["What is 2?"], "answer": ["2"]}), _grpo_script_args(), chat)
    assert free[0]["prompt"] == [{"role": "user", "content": "What is 2?"}]
    plain = prompt_dataset(rows, _grpo_script_args(prompt_format="plain"), chat)
    assert plain[0]["prompt"] == "<question> q </question> <solution>"
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    chat_rows = Dataset.from_dict({"prompt": [messages], "answer": ["1"]})
    assert prompt_dataset(chat_rows, _grpo_script_args(), chat)[0]["prompt"] == messages  # not wrapped twice


def test_document_masked_packs_give_each_document_its_own_logits(tiny_tokenizer, official_rows):
    """Packed with restarted positions (and no cache, as SFTTrainer calls the model) = each document alone."""
    import torch

    from interplay_hf.data.text import make_text
    from interplay_hf.models import build_model
    from interplay_hf.train.packing import DocumentMaskCollator

    model = build_model("qwen2-300k", tokenizer=tiny_tokenizer, seed=0).eval()
    docs = [tiny_tokenizer(make_text(r["problem"], r["question"], r["solution"]) + "[EOS]")["input_ids"] for r in official_rows[:3]]
    batch = DocumentMaskCollator(pad_token_id=1, eos_token_id=3)([{"input_ids": [t for d in docs for t in d]}])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([d])).logits[0] for d in docs])
        causal = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
    assert torch.allclose(packed, alone, atol=1e-4)
    assert not torch.allclose(causal, alone, atol=1e-2)  # plain causal packs see the previous documents


def test_pretraining_texts_yield_prompts_and_gold_solutions_for_strict_accuracy(official_rows):
    from interplay_hf.data.text import make_prompt, make_text
    from interplay_hf.train.callbacks import split_model_text
    from interplay_hf.verify import verify

    row = official_rows[10]
    split = split_model_text(make_text(row["problem"], row["question"], row["solution"]))
    assert split["prompt"] == make_prompt(row["problem"], row["question"])
    assert split["answer"] == str(row["answer"])
    gold_completion = " " + row["solution"].rsplit("Answer:", 1)[0].strip() + f" </solution> <answer> {row['answer']}"
    assert verify(gold_completion, gold_solution=split["solution"], gold_answer=split["answer"]).process_verified
    assert split_model_text("no tags here") is None


def test_heldout_documents_render_chat_rows_through_the_chat_template(tiny_tokenizer):
    import copy

    from datasets import Dataset

    from interplay_hf.train.callbacks import heldout_texts

    chat = copy.deepcopy(tiny_tokenizer)
    chat.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    rows = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": "q"}]],
        "completion": [[{"role": "assistant", "content": "a"}]],
    })
    assert heldout_texts(rows, "text", "prompt", chat) == ["<user>q<assistant>a" + chat.eos_token]
    plain = Dataset.from_dict({"prompt": ["<question> q </question> <solution>"], "completion": [" a"]})
    assert heldout_texts(plain, "text", "prompt", chat) == ["<question> q </question> <solution> a" + chat.eos_token]
