"""Fine-tuning a chat model end to end, as recipes/finetune/ does with real instruct models, on a tiny local one:
chat-format data → GRPO with LoRA through the real script → adapter saved → merged → evaluated through the
chat template with pass@k per op and regime.

The tiny model is a ~60k-parameter Qwen2 whose tokenizer has a ChatML template (like Qwen2.5-Instruct's),
so every chat code path runs; its samples are noise and only the plumbing is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from interplay_hf.data import generate_problem
from interplay_hf.data.chat import DEFAULT_SYSTEM_PROMPT, make_chat_prompt, to_chat_format

pytestmark = pytest.mark.slow

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def chat_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A saved tiny Qwen2 (hidden 32, 2 layers) + a copy of the tiny tokenizer with ChatML tokens and template."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    path = tmp_path_factory.mktemp("tiny_chat_model")
    tiny_tokenizer.save_pretrained(path)  # a copy: the session fixture stays untouched
    tok = AutoTokenizer.from_pretrained(path)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML
    tok.eos_token = "<|im_end|>"
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory) -> Path:
    """RL prompts (rl columns → chat) and an eval set spanning two regimes, both saved with save_to_disk."""
    from datasets import Dataset, DatasetDict

    root = tmp_path_factory.mktemp("chat_data")
    rl_columns = ("prompt", "answer", "gold_graph", "solution", "op", "context", "mode", "id")

    def rows(op: int, seeds) -> list[dict]:
        return [generate_problem(op=op, context="zoo", mode="normalforward", seed=s).to_row() for s in seeds]

    train = Dataset.from_list([{c: r[c] for c in rl_columns} for r in rows(2, range(4))]).map(to_chat_format)
    DatasetDict({"train": train}).save_to_disk(root / "rl")
    evals = {f"eval_op{op}_zoo": Dataset.from_list(rows(op, range(100, 102))).map(to_chat_format) for op in (2, 11)}
    DatasetDict(evals).save_to_disk(root / "eval")
    return root


def test_chat_data_holds_conversational_prompts_and_gold(chat_data):
    from datasets import load_from_disk

    train = load_from_disk(str(chat_data / "rl"))["train"]
    assert train.column_names == ["prompt", "answer", "gold_graph", "solution", "op", "context", "mode", "id"]
    row = generate_problem(op=2, context="zoo", mode="normalforward", seed=0).to_row()
    assert train[0]["prompt"] == make_chat_prompt(row["problem"], row["question"])


def test_grpo_lora_on_chat_data_then_merge_then_chat_eval(chat_model_dir, chat_data, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from interplay_hf.evaluation.cli import eval_main
    from interplay_hf.train.grpo import cli as grpo_cli

    out = tmp_path / "grpo"
    recipe = dict(
        model_name_or_path=str(chat_model_dir),
        dataset_path=str(chat_data / "rl"),
        output_dir=str(out),
        # The prompts are chat messages already: passed to TRL as they are (it applies the chat template).
        prompt_format="plain",
        reward_funcs=["mixed"],
        reward_kwargs={"mixed": {"alpha": 0.2}},
        use_peft=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        lora_target_modules=LORA_MODULES,
        learning_rate=1e-3,
        num_generations=4,
        per_device_train_batch_size=4,
        max_completion_length=12,
        max_train_samples=2,  # 2 prompts x 4 generations / 4 completions per step = 2 steps
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        bf16=False,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        log_completions=False,
        heldout_split="none",
        seed=0,
    )
    (tmp_path / "grpo.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    assert grpo_cli(["--config", str(tmp_path / "grpo.yaml")]) == 0

    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert any(k.startswith("rewards/mixed") for h in state["log_history"] for k in h)
    # LoRA: the stage saves the adapter (not full weights) plus the chat tokenizer, and checkpoint-2/ likewise.
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == set(LORA_MODULES) and adapter["r"] == 4
    assert (out / "adapter_model.safetensors").is_file() and (out / "checkpoint-2" / "adapter_config.json").is_file()
    assert AutoTokenizer.from_pretrained(out).chat_template == CHATML

    # Base + adapter → merged weights a plain from_pretrained (and the evaluation) can load; the README's
    # one-line merge (AutoPeftModelForCausalLM finds the base through adapter_config.json) gives the same weights.
    base = AutoModelForCausalLM.from_pretrained(chat_model_dir)
    merged = PeftModel.from_pretrained(base, out).merge_and_unload()
    assert not any("lora" in name for name, _ in merged.named_parameters())
    auto_merged = AutoPeftModelForCausalLM.from_pretrained(out).merge_and_unload().state_dict()
    assert all(torch.equal(v, auto_merged[k]) for k, v in merged.state_dict().items())
    merged_dir = tmp_path / "merged"
    merged.save_pretrained(merged_dir)
    AutoTokenizer.from_pretrained(out).save_pretrained(merged_dir)

    eval_dir = tmp_path / "eval"
    argv = ["--model", str(merged_dir), "--data", str(chat_data / "eval"), "--n", "2", "--k", "1,2",
            "--max-new-tokens", "8", "--chance-samples", "0", "--no-plots", "--output-dir", str(eval_dir)]
    assert eval_main(argv) == 0
    results = json.loads((eval_dir / "results.json").read_text())
    assert results["sampling"]["chat"] is True  # conversational prompts went through the chat template
    summary = results["summary"]
    assert set(summary["per_op"]) == {"2", "11"}
    assert set(summary["per_regime"]) == {"ID", "OOD-edge"}
    assert set(summary["overall"]["process_pass@k"]) == {"1", "2"}
    assert all(p["n"] == 2 for p in results["problems"]) and len(results["problems"]) == 4
    samples = [json.loads(line) for line in (eval_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 * (2 + 1)  # n samples + the greedy one per problem, reply only (no prompt echo)
    assert all(DEFAULT_SYSTEM_PROMPT not in s["completion"] for s in samples)


def test_sft_warmup_on_chat_prompt_completion_pairs_with_lora(chat_model_dir, tmp_path):
    """The optional warm-up (recipes/finetune/*/sft_warmup_lora.yaml): chat prompt/completion SFT, LoRA, 2 steps."""
    from datasets import Dataset, DatasetDict

    from interplay_hf.train.sft import cli as sft_cli

    rows = [generate_problem(op=2, context="zoo", mode="normalforward", seed=s).to_row() for s in range(4)]
    sft_columns = ("prompt", "completion", "op", "context", "id")
    train = Dataset.from_list([{c: r[c] for c in sft_columns} for r in rows]).map(to_chat_format)
    DatasetDict({"train": train}).save_to_disk(tmp_path / "sft_data")
    out = tmp_path / "sft"
    recipe = dict(
        model_name_or_path=str(chat_model_dir), dataset_path=str(tmp_path / "sft_data"), output_dir=str(out),
        completion_only_loss=True, packing=False, max_length=1024, use_peft=True, lora_r=4, lora_alpha=8,
        lora_target_modules=LORA_MODULES, learning_rate=1e-3, per_device_train_batch_size=2, max_steps=2,
        logging_steps=1, save_strategy="no", bf16=False, use_cpu=True, report_to="none", disable_tqdm=True,
        heldout_split="none",
    )
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    assert sft_cli(["--config", str(tmp_path / "sft.yaml")]) == 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and any("loss" in h for h in state["log_history"])
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
