"""The steps every training script shares: logging, auto-resume, data, tokenizer, model, finishing up.

Kept as small functions so that ``sft.py`` and ``grpo.py`` read top to bottom in the order of the work.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol

from interplay_hf.errors import ConfigError

logger = logging.getLogger("interplay_hf.train")
CHECKPOINT_COMPLETE_FILE = "trainer_state.json"  # the Trainer writes it last into checkpoint-N/


def setup_logging(training_args) -> None:
    """Python, transformers and datasets logging at the Trainer's per-process level."""
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def last_checkpoint(training_args) -> str | None:
    """The checkpoint to resume from: ``resume_from_checkpoint`` if given, else the newest *complete* one.

    Re-running a killed command therefore continues where it stopped. transformers 5 writes
    ``checkpoint-N/`` in place (no temp dir + rename), with ``trainer_state.json`` last, so a folder
    without it is a save that was interrupted: skip it (the run will rewrite it when it gets there).
    """
    if training_args.resume_from_checkpoint:
        from interplay_hf.train.stage_output import names_a_checkpoint

        path = str(training_args.resume_from_checkpoint)
        if not names_a_checkpoint(path):
            return newest_complete_checkpoint(training_args.output_dir)
        if not Path(path).is_dir():
            raise ConfigError(f"resume_from_checkpoint: {path} is not a checkpoint directory.")
        return path
    return newest_complete_checkpoint(training_args.output_dir)


def newest_complete_checkpoint(output_dir: str) -> str | None:
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    root = Path(output_dir)
    if not root.is_dir():
        return None
    steps = []
    for child in root.iterdir():
        name = child.name
        if child.is_dir() and name.startswith(PREFIX_CHECKPOINT_DIR + "-") and name.split("-")[-1].isdigit():
            steps.append((int(name.split("-")[-1]), child))
    for _step, child in sorted(steps, reverse=True):
        if (child / CHECKPOINT_COMPLETE_FILE).is_file():
            logger.info("Resuming from %s", child)
            return str(child)
        logger.warning("Ignoring incomplete checkpoint %s (no %s)", child, CHECKPOINT_COMPLETE_FILE)
    return None


def load_stage_dataset(script_args):
    """The stage's ``DatasetDict``: a directory from ``interplay-hf data build`` (sharded or not), or a Hub id."""
    import datasets

    from interplay_hf.data.build import load_built

    # Transforms (TRL's tokenization, our packing) go to a temporary cache, not beside the arrow files of the
    # input dataset, which would otherwise fill with cache-*.arrow files the stage has no business writing there.
    datasets.disable_caching()
    path = script_args.dataset_path
    dataset = load_built(path) if Path(path).is_dir() else datasets.load_dataset(path)
    if isinstance(dataset, datasets.Dataset):
        dataset = datasets.DatasetDict({script_args.dataset_train_split: dataset})
    if script_args.dataset_train_split not in dataset:
        raise ConfigError(
            f"dataset_train_split: {path} has no split {script_args.dataset_train_split!r} (splits: {sorted(dataset)})."
        )
    return dataset


def tokenizer_from_args(script_args, model_args, training_args):
    """The stage tokenizer: ``tokenizer_name_or_path``, else the model's own (same subfolder/revision).

    A model trained from scratch needs the released special tokens at ids 0-9; a checkpoint whose stage recorded
    its tokenizer (recipe.yaml) keeps that one, so a released-tokenizer model is never continued with ours."""
    from interplay_hf.tokenizer import (
        check_special_tokens,
        check_trained_with,
        load_saved_tokenizer,
        make_format_tags_decodable,
    )

    if script_args.tokenizer_name_or_path:
        source, kwargs = script_args.tokenizer_name_or_path, {}
    else:
        source = model_args.model_name_or_path
        kwargs = {"revision": model_args.model_revision}
        if script_args.model_subfolder:
            kwargs["subfolder"] = script_args.model_subfolder
    tokenizer = load_saved_tokenizer(source, trust_remote_code=training_args.trust_remote_code, **kwargs)
    check_special_tokens(tokenizer, str(Path(source) / kwargs.get("subfolder", "")),
                         required=bool(script_args.model_preset))
    if not script_args.model_preset:
        check_trained_with(tokenizer, Path(model_args.model_name_or_path) / (script_args.model_subfolder or ""),
                           "tokenizer_name_or_path" if script_args.tokenizer_name_or_path else "model_name_or_path")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return make_format_tags_decodable(tokenizer)


def model_from_args(script_args, model_args, training_args, tokenizer):
    """A preset built from scratch (seeded) or a pretrained checkpoint; generation stops at ``</answer>``."""
    from interplay_hf.models import build_model, load_pretrained
    from interplay_hf.tokenizer import stop_token_ids

    if script_args.model_preset:
        model = build_model(
            script_args.model_preset,
            tokenizer=tokenizer,
            seed=training_args.seed,
            dtype=model_args.dtype,
            attn_implementation=model_args.attn_implementation,
        )
    else:
        model = load_pretrained(
            model_args.model_name_or_path,
            subfolder=script_args.model_subfolder,
            revision=model_args.model_revision,
            dtype=model_args.dtype,
            trust_remote_code=training_args.trust_remote_code,
            attn_implementation=model_args.attn_implementation,
        )
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
            raise ConfigError(
                f"tokenizer_name_or_path: the tokenizer has {len(tokenizer)} tokens but the model only "
                f"{model.get_input_embeddings().weight.shape[0]} embeddings; use the model's own tokenizer."
            )
    stops = stop_token_ids(tokenizer)
    existing = model.generation_config.eos_token_id
    existing = [existing] if isinstance(existing, int) else list(existing or [])
    if script_args.stop_at_answer_close:
        model.generation_config.eos_token_id = list(dict.fromkeys([*stops, *existing]))
    else:  # rollouts end at EOS only, also for a checkpoint whose saved generation config stops at </answer>
        model.generation_config.eos_token_id = [t for t in dict.fromkeys([*stops[:1], *existing])
                                                if t == tokenizer.eos_token_id or t not in stops]
    return model


def mean_document_tokens(train_dataset, tokenizer, text_field: str, limit: int = 2000) -> float:
    """Mean tokenized length (EOS included) of the first ``limit`` training documents."""
    sample = train_dataset.select(range(min(limit, len(train_dataset))))
    if "prompt" in sample.column_names and text_field not in sample.column_names:
        texts = [p + c for p, c in zip(sample["prompt"], sample["completion"])]
    else:
        texts = list(sample[text_field])  # datasets 4 returns a lazy Column, which tokenizers reject
    lengths = [len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return sum(lengths) / max(len(lengths), 1)


def apply_budget(stage: str, script_args, training_args, train_dataset=None, tokenizer=None) -> str | None:
    """Turn the recipe's budget into ``max_steps`` (SFT: ``max_train_tokens`` or documents; GRPO: prompts) and
    return the arithmetic, which goes into the log and ``recipe.yaml``."""
    from interplay_hf.train.budgets import grpo_steps, sft_steps

    shape = {"max_train_samples": script_args.max_train_samples, "per_device": training_args.per_device_train_batch_size,
             "world_size": world_size(training_args), "grad_accum": training_args.gradient_accumulation_steps}
    if stage == "grpo":
        result = grpo_steps(**shape, num_generations=training_args.num_generations,
                            num_iterations=training_args.num_iterations)
    else:
        result = sft_steps(**shape, max_train_tokens=script_args.max_train_tokens, max_length=training_args.max_length,
                           packing=training_args.packing,
                           mean_doc_tokens=lambda: mean_document_tokens(train_dataset, tokenizer,
                                                                        training_args.dataset_text_field))
    if result is None:
        return None
    training_args.max_steps, note = result
    logger.info("Budget: %s", note)
    return note


def skip_trl_model_card(trainer) -> None:
    """TRL writes a README.md model card at every checkpoint; it is wrong for from-scratch models (a Hub
    base model, TRL citations), so the hub layer renders ours (`interplay-hf card`) instead."""
    trainer.create_model_card = lambda *args, **kwargs: None


def world_size(training_args) -> int:
    return max(1, int(training_args.world_size))


def finish(trainer, train_result, script_args, training_args, model_args, comments: list[str]) -> None:
    """Metrics and state, the final model + tokenizer at the top of output_dir, and recipe.yaml."""
    from interplay_hf.tokenizer import fingerprint_comment
    from interplay_hf.train.config import save_recipe
    from interplay_hf.versions import versions_comment

    metrics = {**train_result.metrics, "world_size": world_size(training_args)}  # train/compute.py reads it
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    trainer.save_model(training_args.output_dir)
    if trainer.accelerator.is_main_process:
        save_recipe(os.path.join(training_args.output_dir, "recipe.yaml"), script_args, training_args, model_args,
                    [*comments, fingerprint_comment(trainer.processing_class), versions_comment()])
        logger.info("Model, tokenizer and recipe.yaml saved to %s", training_args.output_dir)
    trainer.accelerator.wait_for_everyone()


class StagePusher(Protocol):
    """Pushes a finished stage for ``push_to_hub: true`` (the Hub layer's ``TrainedStagePush``)."""

    def check(self, training_args: Any) -> None: ...

    def __call__(self, training_args: Any) -> None: ...


def stage_cli(kind: str, main, argv: list[str] | None = None, pusher: StagePusher | None = None) -> int:
    """``python -m interplay_hf.train.<kind>``: parse, check, train, push, under the CLI error policy (one line,
    no traceback). ``pusher`` comes from the script's ``__main__`` block: the Hub layer sits above training."""
    from interplay_hf.guard.policy import pop_debug_flag, run_guarded
    from interplay_hf.train.config import parse_stage_args
    from interplay_hf.train.stage_output import is_main_rank, stage_lock

    argv, debug = pop_debug_flag(list(sys.argv[1:] if argv is None else argv))

    def parse_check_train():
        script_args, training_args, model_args = parse_stage_args(kind, argv)
        check_one_job(training_args)
        push = take_push_request(training_args, pusher)
        with stage_lock(training_args):
            main(script_args, training_args, model_args)
            if push is not None and is_main_rank():
                push(training_args)
        return 0

    return run_guarded(f"interplay-hf train {kind}", parse_check_train, debug=debug)


def take_push_request(training_args, pusher: StagePusher | None) -> StagePusher | None:
    """Check a ``push_to_hub: true`` before any compute and take it from the Trainer, which would push every
    checkpoint with its own card and pickled arguments; ``pusher`` uploads the finished stage once instead.
    The stage's recipe.yaml therefore records ``push_to_hub: false``: re-running it does not push again."""
    if not training_args.push_to_hub:
        return None
    if pusher is None:
        raise ConfigError("push_to_hub: run the stage with `interplay-hf train` or `python -m interplay_hf.train.<kind>`"
                          ", or push it afterwards with `interplay-hf push OUTPUT_DIR --repo-id ...`")
    pusher.check(training_args)
    training_args.push_to_hub = False
    return pusher


def check_one_job(training_args) -> None:
    """Refuse processes that a launcher started together but that do not form one distributed job.

    accelerate enables FSDP/DeepSpeed only with an accelerator: on a CPU-only machine an FSDP config starts
    its processes as independent single-process runs (each would train alone into the same output_dir).
    """
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if launched > 1 and world_size(training_args) == 1:
        raise ConfigError(
            f"the launcher started {launched} processes, but they do not form one distributed job (an FSDP or "
            "DeepSpeed accelerate config on a machine without GPUs); each would train alone into the same "
            f"output_dir. For CPU ranks use accelerate_configs/cpu.yaml with --multi_gpu --num_processes {launched}."
        )
