"""SFT stage: pre-training on packed text from scratch, or mid-training from a checkpoint, with TRL's SFTTrainer.

    accelerate launch --config_file accelerate_configs/cpu.yaml -m interplay_hf.train.sft \\
        --config recipes/quickstart/pretrain.yaml --output_dir runs/quickstart/pretrain [--field value ...]

Pre-training names a ``model_preset`` (random init) and a ``tokenizer_name_or_path``; mid-training sets
``model_name_or_path`` to the previous stage's directory and another dataset and budget. Re-running
the same command resumes from the newest complete checkpoint in ``output_dir``.
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


def main(script_args, training_args, model_args) -> None:
    from transformers import set_seed
    from trl import SFTTrainer, get_peft_config

    set_seed(training_args.seed)
    setup_logging(training_args)
    checkpoint = last_checkpoint(training_args)

    dataset = load_stage_dataset(script_args)
    train_split, heldout = split_heldout(dataset, script_args, training_args.seed)
    train_dataset = select_training_columns(train_split, script_args, training_args)

    tokenizer = tokenizer_from_args(script_args, model_args, training_args)
    budget_note = apply_budget("sft", script_args, training_args, train_dataset, tokenizer)
    checkpoint = resume_or_refuse(checkpoint, script_args, training_args, model_args, world_size(training_args))
    if training_args.packing and training_args.packing_strategy == "bfd" and script_args.packing_document_mask:
        from interplay_hf.train.packing import pack_whole_documents

        train_dataset = pack_whole_documents(train_dataset, tokenizer, training_args.dataset_text_field,
                                             training_args.max_length, training_args.dataset_num_proc)
        training_args.packing = False  # packed already: TRL's bfd would flatten the batch and refuse our collator

    model = model_from_args(script_args, model_args, training_args, tokenizer)

    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        data_collator=document_mask_collator(script_args, tokenizer),
        peft_config=get_peft_config(model_args),
    )
    skip_trl_model_card(trainer)
    add_heldout_eval(trainer, heldout, train_split, script_args, tokenizer, training_args.dataset_text_field)

    guard = NonFiniteLossGuard()
    trainer.add_callback(guard)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    guard.raise_if_tripped(training_args.output_dir)  # before finish(): NaN weights are never saved as the model
    finish(trainer, train_result, script_args, training_args, model_args, [budget_note] if budget_note else [])
    trainer.end()


def select_training_columns(train_dataset, script_args, training_args):
    """Language modelling on ``dataset_text_field`` (EOS appended by TRL), or prompt/completion pairs
    when ``completion_only_loss: true``. Dropping the other columns keeps TRL from guessing the format.
    """
    from interplay_hf.errors import ConfigError

    columns = train_dataset.column_names
    if training_args.completion_only_loss:
        prompt = script_args.dataset_prompt_column
        if prompt not in columns or "completion" not in columns:
            raise ConfigError(
                f"completion_only_loss: needs columns {prompt!r} (dataset_prompt_column) and 'completion'; "
                f"{script_args.dataset_path} has {columns}."
            )
        train_dataset = train_dataset.select_columns([prompt, "completion"])
        return train_dataset.rename_column(prompt, "prompt") if prompt != "prompt" else train_dataset
    if training_args.dataset_text_field not in columns:
        raise ConfigError(
            f"dataset_text_field: no column {training_args.dataset_text_field!r} in {script_args.dataset_path} "
            f"(columns: {columns})."
        )
    return train_dataset.select_columns([training_args.dataset_text_field])


def document_mask_collator(script_args, tokenizer):
    """Our per-document-attention collator for wrapped packs, or None for TRL's own collator."""
    from interplay_hf.train.packing import DocumentMaskCollator

    if not script_args.packing_document_mask:
        return None
    return DocumentMaskCollator(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)


def cli(argv: list[str] | None = None, pusher: StagePusher | None = None) -> int:
    return stage_cli("sft", main, argv, pusher)


if __name__ == "__main__":  # the entry point: `push_to_hub: true` goes through the Hub layer
    from interplay_hf.hub.push import TrainedStagePush

    sys.exit(cli(pusher=TrainedStagePush()))
