"""The reward functions run unchanged inside TRL's GRPOTrainer (1 step, tiny local Qwen2, CPU, offline)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from interplay_hf.rewards import get_reward_funcs

_ROWS_FILE = Path(__file__).parent / "fixtures" / "official_rows.jsonl"
ROWS = [json.loads(line) for line in _ROWS_FILE.read_text("utf-8").splitlines() if line.strip()]


def _prompt(row: dict) -> str:
    return f"<question> {(row['problem'].strip() + ' ' + row['question'].strip()).strip()} </question> <solution>"


def _build_tiny_model(path: Path) -> Path:
    """Fallback when the shared fixtures are unavailable: a ~50k-parameter Qwen2 and a byte-level BPE."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["[UNK]", "[PAD]", "[BOS]", "[EOS]", "<question>", "</question>", "<solution>", "</solution>"]
    specials += ["<answer>", "</answer>"]
    backend = Tokenizer(models.BPE(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    texts = [_prompt(r) + " " + r["solution"] for r in ROWS]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False)
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]", eos_token="[EOS]"
    )
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def model_dir(request, tmp_path_factory) -> Path:
    try:
        return request.getfixturevalue("tiny_model_dir")
    except Exception:  # noqa: BLE001 - shared fixture not usable in this checkout
        return _build_tiny_model(tmp_path_factory.mktemp("verify_tiny_model"))


@pytest.mark.slow
def test_rewards_run_inside_grpo_trainer(model_dir, tmp_path, monkeypatch):
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    rows = ROWS[:4]
    dataset = Dataset.from_list(
        [
            {"prompt": _prompt(r), "solution": r["solution"], "answer": r["answer"], "mode": r["mode"], "op": r["op"]}
            for r in rows
        ]
    )
    from trl.trainer.utils import get_callable_name

    names = ["mixed", "strict", "process", "outcome", "format"]
    reward_funcs = get_reward_funcs(names, {"mixed": {"alpha": 0.2}})
    assert [get_callable_name(f) for f in reward_funcs] == [f"{name}_reward" for name in names]
    seen: list[list] = []

    def spy_reward(completions, **kwargs):
        """Records what TRL hands to reward functions (to check our functions see the same)."""
        seen.append([completions, sorted(kwargs)])
        return [0.0] * len(completions)

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=12,
        max_steps=1,
        learning_rate=1e-5,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        dataloader_num_workers=0,
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=[*reward_funcs, spy_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

    assert seen, "TRL never called the reward functions"
    completions, keys = seen[0]
    assert {"solution", "answer", "mode", "prompts", "completion_ids", "trainer_state"} <= set(keys)
    assert len(completions) == 4 and all(isinstance(c, str) for c in completions)
    logged = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    for name in names:
        value = logged[f"rewards/{name}_reward/mean"]
        assert 0.0 <= value <= 1.0 and not math.isnan(value)
