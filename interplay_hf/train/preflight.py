"""Checks that need no model, run before ``accelerate launch`` (and again in each rank before loading).

TRL and transformers accept many impossible settings (a batch of 0, a negative learning rate) and fail
minutes later, deep in a launched process; a dataset without the split or column a stage reads, or a
model folder without weights, fails only after the model loads. Here each becomes one line naming the
field and the fix, in a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.inputs import check_number
from interplay_hf.models import check_saved_weights
from interplay_hf.train.stage_output import names_a_checkpoint

# field -> (lowest allowed, whether the bound itself is allowed, what the value means); None values are skipped.
_RANGES: dict[str, tuple[float, bool, str]] = {
    "per_device_train_batch_size": (1, True, "sequences per device and step"),
    "per_device_eval_batch_size": (1, True, "sequences per device in evaluation"),
    "gradient_accumulation_steps": (1, True, "micro-batches per optimizer step"),
    "learning_rate": (0, False, "the peak learning rate"),
    "weight_decay": (0, True, "the AdamW weight decay"),
    "max_grad_norm": (0, True, "the gradient clipping norm (0 = off)"),
    "num_train_epochs": (0, False, "passes over the data; or set max_steps"),
    "warmup_steps": (0, True, "warm-up steps (a fraction < 1 of the run, or a count)"),
    "logging_steps": (0, False, "steps between logs"),
    "save_steps": (0, False, "steps between checkpoints"),
    "seed": (0, True, "the random seed"),
    "max_length": (1, True, "tokens per sequence"),
    "num_generations": (2, True, "completions per prompt (GRPO needs 2 to compare)"),
    "max_completion_length": (1, True, "new tokens per completion"),
    "temperature": (0, False, "the sampling temperature"),
    "beta": (0, True, "the KL coefficient"),
    "epsilon": (0, True, "the clipping range"),
    "num_iterations": (1, True, "optimisation passes per generation batch"),
}
# field -> (low, high, low open, high open, what it means): two-sided ranges.
_BETWEEN: dict[str, tuple[float, float, bool, bool, str]] = {
    "top_p": (0, 1, True, False, "the nucleus mass; 1 = off"),
    "adam_beta1": (0, 1, False, True, "AdamW's first-moment decay"),
    "adam_beta2": (0, 1, False, True, "AdamW's second-moment decay"),
    "warmup_ratio": (0, 1, False, False, "the warm-up share of the run"),
    "min_p": (0, 1, False, False, "the minimum token probability"),
}


def check_finite_fields(*arg_objects: Any) -> None:
    """No float field of the parsed arguments is NaN or infinite: ``nan`` passes every ``x < low`` test and
    trains NaN weights (``temperature: .nan``, ``beta: .inf``, ``learning_rate: .nan``)."""
    import dataclasses

    for args in arg_objects:
        for f in dataclasses.fields(args) if dataclasses.is_dataclass(args) else ():
            value = getattr(args, f.name, None)
            if isinstance(value, float):
                check_number(value, f.name)


def check_numeric_ranges(training_args: Any, *other_args: Any) -> None:
    """The numeric TRL/transformers arguments we use are finite and lie in their meaningful ranges."""
    check_finite_fields(training_args, *other_args)
    for name, (low, inclusive, meaning) in _RANGES.items():
        value = getattr(training_args, name, None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        check_number(value, name, low=low, low_open=not inclusive, meaning=meaning)
    for name, (low, high, low_open, high_open, meaning) in _BETWEEN.items():
        value = getattr(training_args, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_number(value, name, low=low, high=high, low_open=low_open, high_open=high_open, meaning=meaning)
    max_steps = getattr(training_args, "max_steps", -1)
    if isinstance(max_steps, int) and max_steps == 0:
        raise ConfigError("max_steps: 0 trains nothing; give a positive number, or -1 to use num_train_epochs.")


def check_model_dir(value: str | None, field_name: str) -> None:
    """A local model folder holds a config and safetensors weights (or is a LoRA adapter)."""
    if not value or not Path(value).is_dir():
        return
    path = Path(value)
    if (path / "adapter_config.json").is_file():
        return
    if not (path / "config.json").is_file():
        raise ConfigError(f"{field_name}: {value} has no config.json; point it at a saved model folder "
                          "(a training stage's output_dir or checkpoint-N).")
    if not any(path.glob("*.safetensors")) and not (path / "model.safetensors.index.json").is_file():
        extra = " (it holds *.bin weights: only safetensors are loaded)" if any(path.glob("*.bin")) else ""
        raise ConfigError(f"{field_name}: {value} has no *.safetensors weights{extra}; point it at a finished "
                          "stage or checkpoint folder.")
    check_saved_weights(path, field_name)


def check_tokenizer_dir(value: str | None, field_name: str) -> None:
    if not value or not Path(value).is_dir():
        return
    if not any((Path(value) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise ConfigError(f"{field_name}: {value} holds no tokenizer (no tokenizer.json); build one with "
                          "`interplay-hf tokenizer` or point it at a model folder.")


def stage_columns(stage: str, script_args: Any, training_args: Any) -> list[tuple[str, ...]]:
    """Column groups the stage reads from its training split: each group needs one of its names."""
    if stage == "grpo":
        return [(script_args.dataset_prompt_column,)]
    if getattr(training_args, "completion_only_loss", None):
        return [(script_args.dataset_prompt_column,), ("completion",)]
    return [(training_args.dataset_text_field,)]


def check_dataset(stage: str, script_args: Any, training_args: Any) -> None:
    """A local dataset has the training split, it is not empty, and it has the columns the stage reads."""
    path = script_args.dataset_path
    if not path or not Path(path).is_dir():
        return  # a Hub id: checked by the loader
    from interplay_hf.data.saved import load_built

    dataset = load_built(path)  # memory-mapped: no copy of the data
    splits = sorted(dataset) if hasattr(dataset, "keys") else []
    split = script_args.dataset_train_split
    if split not in splits:
        raise ConfigError(f"dataset_train_split: {path} has no split {split!r} (splits: {splits}).")
    train = dataset[split]
    if len(train) == 0:
        raise ConfigError(f"dataset_train_split: split {split!r} of {path} is empty; rebuild it with more rows.")
    columns = train.column_names
    for group in stage_columns(stage, script_args, training_args):
        if not set(group) & set(columns):
            raise ConfigError(f"{path} split {split!r} has no column {group[0]!r} (columns: {columns}); "
                              "set the column field of the recipe or rebuild the data with it.")
    if stage == "grpo":
        from interplay_hf.rewards import check_reward_columns

        check_reward_columns(script_args.reward_funcs, columns, f"{path} split {split!r}")


def check_resume(training_args: Any) -> None:
    resume = getattr(training_args, "resume_from_checkpoint", None)
    if names_a_checkpoint(resume) and not Path(str(resume)).is_dir():
        raise ConfigError(f"resume_from_checkpoint: {resume} is not a checkpoint folder; give a checkpoint-N "
                          "folder, or drop it (a re-run resumes from the newest checkpoint in output_dir).")


def check_before_launch(stage: str, script_args: Any, training_args: Any, model_args: Any) -> None:
    """Everything above, in the order a user would fix it (paths only where they already exist)."""
    from interplay_hf.train.stage_output import check_output_dir

    check_numeric_ranges(training_args, script_args, model_args)
    check_resume(training_args)
    check_output_dir(script_args, training_args, model_args)
    check_model_dir(model_args.model_name_or_path, "model_name_or_path")
    check_tokenizer_dir(script_args.tokenizer_name_or_path, "tokenizer_name_or_path")
    check_dataset(stage, script_args, training_args)
