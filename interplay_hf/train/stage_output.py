"""A training stage's ``output_dir``: never one of the stage's inputs, written by one job at a time, and resumed
only with the settings its checkpoints were trained with.

A re-run resumes from the newest complete checkpoint (``common.last_checkpoint``). With other settings (a new
``max_steps``, batch, learning rate, dataset) that would silently continue the old run and record the new values
in ``recipe.yaml``: the stage refuses in one line instead, or, with ``overwrite_output_dir: true``
(``interplay-hf train ... --overwrite``), deletes its own checkpoints and starts again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from interplay_hf.atomic_io import write_json
from interplay_hf.errors import ConfigError
from interplay_hf.guard.outputs import check_apart, check_folder, output_lock

logger = logging.getLogger("interplay_hf.train")
SETTINGS_FILE = ".stage_settings.json"  # beside the checkpoints; never pushed (upload_plan allows listed files)
# What decides the trained weights (the training arithmetic, data, model and rewards); logging, saving and Hub
# fields may change between a run and its resume.
TRAJECTORY_FIELDS = (
    "dataset_path", "dataset_train_split", "dataset_prompt_column", "dataset_text_field", "model_preset",
    "model_name_or_path", "model_subfolder", "model_revision", "tokenizer_name_or_path", "max_train_tokens",
    "max_train_samples", "heldout_split", "heldout_size", "packing", "packing_strategy", "packing_document_mask",
    "completion_only_loss", "max_length", "per_device_train_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type", "lr_scheduler_kwargs", "warmup_steps",
    "optim", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm", "seed", "data_seed",
    "bf16", "fp16", "label_smoothing_factor", "neftune_noise_alpha", "reward_funcs", "reward_kwargs",
    "num_generations", "num_iterations", "temperature", "top_p", "top_k", "beta", "epsilon", "loss_type",
    "scale_rewards", "max_completion_length", "max_prompt_length", "prompt_format", "stop_at_answer_close",
)


def check_output_dir(script_args: Any, training_args: Any, model_args: Any) -> None:
    """``output_dir`` is a folder (or new) and is not, does not hold and is not inside the dataset, the model or
    the tokenizer the stage reads (mid-training into its own base model would overwrite it)."""
    out = training_args.output_dir
    check_folder(out, "output_dir")
    check_apart(out, [("dataset_path", script_args.dataset_path),
                      ("model_name_or_path", getattr(model_args, "model_name_or_path", None)),
                      ("tokenizer_name_or_path", script_args.tokenizer_name_or_path)], "output_dir")


def is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def stage_lock(training_args: Any) -> contextlib.AbstractContextManager[None]:
    """The lock of ``output_dir``, held by rank 0 for the whole stage (the launcher ends the other ranks when
    rank 0 stops on it): two jobs never interleave their steps in one folder."""
    if not is_main_rank():
        return contextlib.nullcontext()
    return output_lock(training_args.output_dir, "output_dir")


def stage_settings(script_args: Any, training_args: Any, model_args: Any, world_size: int) -> dict[str, Any]:
    """The values of :data:`TRAJECTORY_FIELDS` (after the budget set ``max_steps``) and the world size."""
    settings: dict[str, Any] = {"world_size": world_size}
    for name in TRAJECTORY_FIELDS:
        for obj in (script_args, training_args, model_args):
            if hasattr(obj, name):
                settings[name] = getattr(obj, name)
                break
    return json.loads(json.dumps(settings, sort_keys=True, default=str))  # plain values, as read back from the file


def _saved_settings(out: Path, checkpoint: str) -> dict[str, Any] | None:
    """What the checkpoints were trained with: our settings file, else (older runs) the Trainer's own state."""
    for path, keys in ((out / SETTINGS_FILE, None), (Path(checkpoint) / "trainer_state.json", ("max_steps",))):
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(saved, dict):
            return saved if keys is None else {key: saved[key] for key in keys if key in saved}
    return None


def _differences(saved: dict[str, Any], current: dict[str, Any], from_settings_file: bool) -> list[str]:
    keys = [key for key in sorted(saved) if key in current and saved[key] != current[key]]
    if not from_settings_file and current.get("max_steps", -1) <= 0:
        return []  # an older run without our file, trained by epochs: its step count says nothing
    return keys


# What says "this stage finished" at the top of output_dir (finish() writes them): gone with the old run, so a
# fresh run that dies early does not leave a folder that looks finished with the old run's numbers.
FINISHED_FILES = ("trainer_state.json", "train_results.json", "all_results.json", "recipe.yaml")


def remove_checkpoints(out: Path) -> list[str]:
    """Delete this stage's ``checkpoint-N`` folders, finished-run records and settings file (what the stage wrote;
    nothing else in ``output_dir``)."""
    removed = []
    for child in sorted(out.glob("checkpoint-*")):
        if child.is_dir() and not child.is_symlink() and child.name.split("-", 1)[1].isdigit():
            shutil.rmtree(child)
            removed.append(child.name)
    for name in (*FINISHED_FILES, SETTINGS_FILE):
        if (out / name).is_file():
            (out / name).unlink()
            removed.append(name)
    return removed


def names_a_checkpoint(resume: Any) -> bool:
    """``resume_from_checkpoint`` names a checkpoint (resumed as asked), rather than true or unset (the newest)."""
    return bool(resume) and str(resume).lower() not in ("true", "1", "yes")


def resume_or_refuse(checkpoint: str | None, script_args: Any, training_args: Any, model_args: Any,
                     world_size: int) -> str | None:
    """The checkpoint to resume from, after checking it was trained with the current settings; None to start
    fresh (``overwrite_output_dir``). Rank 0 records the settings the stage now runs with."""
    out = Path(training_args.output_dir)
    current = stage_settings(script_args, training_args, model_args, world_size)
    if getattr(script_args, "overwrite_output_dir", False):
        if is_main_rank():
            removed = remove_checkpoints(out)
            if removed:
                logger.info("overwrite_output_dir: removed %s from %s; starting fresh", ", ".join(removed), out)
        checkpoint = None
    elif checkpoint is not None and not names_a_checkpoint(training_args.resume_from_checkpoint):
        saved = _saved_settings(out, checkpoint) or {}
        differ = _differences(saved, current, (out / SETTINGS_FILE).is_file())
        if differ:
            shown = ", ".join(f"{key} {saved[key]!r} -> {current[key]!r}" for key in differ[:4])
            raise ConfigError(f"output_dir {out}: {Path(checkpoint).name} was trained with other settings ({shown}"
                              f"{', ...' if len(differ) > 4 else ''}); re-run with the same settings to resume it, "
                              "or add --overwrite (overwrite_output_dir: true) to delete its checkpoints and start "
                              "again")
    if is_main_rank():
        write_json(out / SETTINGS_FILE, current)
    return checkpoint
