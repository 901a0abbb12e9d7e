"""GRPO stage: RL with process-aware rewards (interplay_hf.rewards) on a pre-/mid-trained model, with TRL's GRPOTrainer.

    accelerate launch --config_file accelerate_configs/cpu.yaml -m interplay_hf.train.grpo \\
        --config recipes/quickstart/grpo.yaml --output_dir runs/quickstart/grpo [--field value ...]

Where a recipe is silent, the paper's settings apply (config.GRPO_PAPER_DEFAULTS: lr 1e-6, temperature
1.0, KL 0.001 with the low-variance estimator, clip 0.2, token-mean loss, 6 generations). Prompts are
the dataset's ``prompt`` column; the gold columns (solution, answer, gold_graph) reach the rewards.
"""

from __future__ import annotations

import sys

from interplay_hf.train.callbacks import NonFiniteLossGuard, add_heldout_eval, split_heldout
from interplay_hf.train.common import (
    StagePusher,
    apply_budget,
    finish,
    last_checkpoint,
    load_stage_dataset,
    model_from_args,
    setup_logging,
    skip_trl_model_card,
    stage_cli,
    tokenizer_from_args,
    world_size,
)
from interplay_hf.train.stage_output import resume_or_refuse

# Columns the rewards and logs may use; the rest (text, completion, ...) stays out of the rollout batches.
PASSED_COLUMNS = ("solution", "answer", "gold_graph", "op", "context", "id", "mode")


def main(script_args, training_args, model_args) -> None:
    from transformers import set_seed
    from trl import GRPOTrainer, get_peft_config

    from interplay_hf.rewards import check_reward_columns, get_reward_funcs
    from interplay_hf.train.rollouts import DecodeLoopGRPOTrainer

    set_seed(training_args.seed)
    setup_logging(training_args)
    checkpoint = last_checkpoint(training_args)

    dataset = load_stage_dataset(script_args)
    train_split, heldout = split_heldout(dataset, script_args, training_args.seed)

    tokenizer = tokenizer_from_args(script_args, model_args, training_args)
    train_dataset = prompt_dataset(train_split, script_args, tokenizer)
    check_reward_columns(script_args.reward_funcs, train_dataset.column_names, script_args.dataset_path)
    budget_note = apply_budget("grpo", script_args, training_args)
    checkpoint = resume_or_refuse(checkpoint, script_args, training_args, model_args, world_size(training_args))

    model = model_from_args(script_args, model_args, training_args, tokenizer)
    reward_funcs = get_reward_funcs(script_args.reward_funcs, script_args.reward_kwargs)

    trainer_class = DecodeLoopGRPOTrainer if script_args.decode_loop else GRPOTrainer
    trainer = trainer_class(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    skip_trl_model_card(trainer)
    add_heldout_eval(
        trainer, heldout, train_split, script_args, tokenizer, "text", chat_prompts(script_args, tokenizer)
    )

    guard = NonFiniteLossGuard()
    trainer.add_callback(guard)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    guard.raise_if_tripped(training_args.output_dir)  # before finish(): NaN weights are never saved as the model
    finish(trainer, train_result, script_args, training_args, model_args, [budget_note] if budget_note else [])
    trainer.end()


def prompt_dataset(train_dataset, script_args, tokenizer):
    """``prompt`` (plain text, or a user message for chat models) plus the gold columns for the rewards."""
    from interplay_hf.errors import ConfigError

    column = script_args.dataset_prompt_column
    if column not in train_dataset.column_names:
        raise ConfigError(
            f"dataset_prompt_column: no column {column!r} in {script_args.dataset_path} "
            f"(columns: {train_dataset.column_names})."
        )
    keep = [column, *[c for c in PASSED_COLUMNS if c in train_dataset.column_names and c != column]]
    train_dataset = train_dataset.select_columns(keep)
    if column != "prompt":
        train_dataset = train_dataset.rename_column(column, "prompt")
    already_chat = len(train_dataset) > 0 and not isinstance(train_dataset[0]["prompt"], str)
    if chat_prompts(script_args, tokenizer) and not already_chat:
        # The same system prompt and step-format instruction as `prompt_format: chat` data (data/chat.py).
        from interplay_hf.data.chat import as_chat_prompt

        train_dataset = train_dataset.map(lambda row: {"prompt": as_chat_prompt(row["prompt"])})
    return train_dataset


def chat_prompts(script_args, tokenizer) -> bool:
    """Wrap plain-text prompts into a user message? (``prompt_format``; auto: iff a chat template exists).
    Prompts that already are message lists (chat datasets) are used as they are either way."""
    if script_args.prompt_format == "auto":
        return bool(getattr(tokenizer, "chat_template", None))
    return script_args.prompt_format == "conversational"


def cli(argv: list[str] | None = None, pusher: StagePusher | None = None) -> int:
    return stage_cli("grpo", main, argv, pusher)


if __name__ == "__main__":  # the entry point: `push_to_hub: true` goes through the Hub layer
    from interplay_hf.hub.push import TrainedStagePush

    sys.exit(cli(pusher=TrainedStagePush()))
