"""Stage recipes: our extra fields, parsing with TRL's ``TrlParser``, and checks that run before a model loads.

A stage recipe is one YAML mapping parsed into three dataclasses, as in TRL's own scripts:
``(SFTStageArguments | GRPOStageArguments, SFTConfig | GRPOConfig, ModelConfig)``. Our fields live in
one base dataclass (:class:`StageArguments`); GRPO adds only its reward fields. Every field can be
overridden on the command line (``--field value``).

TrlParser already rejects unknown YAML keys, but with a bare list; we check keys first so that the
error names the key and suggests the closest field. Everything a user can get wrong fails here with a
:class:`ConfigError`, before any model is loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import warnings
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.yaml_io import did_you_mean, reject_unknown_keys

# GRPO settings of the paper (docs/paper-settings.md), applied only where a recipe (YAML or command line) is silent.
# TRL's KL term is the k3 estimator exp(r) - r - 1, i.e. verl's `low_var_kl`; the paper's verl loss has no
# importance-ratio factor on it, hence use_bias_correction_kl=False. `dapo` = token-mean over the global batch.
GRPO_PAPER_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-6,
    "temperature": 1.0,
    "top_p": 1.0,
    "beta": 0.001,
    "use_bias_correction_kl": False,
    "epsilon": 0.2,
    "loss_type": "dapo",
    "scale_rewards": "group",
    "entropy_coef": 0.0,
    "num_generations": 6,
    "max_completion_length": 1024,
    "num_train_epochs": 2,
    "log_completions": True,
}
STAGES = ("sft", "grpo")
# Fields TRL computes from others in __post_init__: never written back into a resolved recipe.
DERIVED_FIELDS = {"steps_per_generation", "generation_batch_size", "logging_dir", "distributed_state"}
# Fields that ask for an action once rather than describe the run: never written back into a resolved recipe.
ACTION_FIELDS = {"overwrite_output_dir"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class StageArguments:
    """Fields shared by every training stage (pre-training, mid-training, GRPO), beside TRL's own."""

    # Model
    model_preset: str | None = field(
        default=None,
        metadata={
            "help": "Train from scratch: a preset of interplay_hf.models.PRESETS (qwen2-100m is the paper's model; "
            "qwen2-1m / qwen2-5m / qwen2-20m / qwen2-300k are CPU sizes). Needs `tokenizer_name_or_path`. "
            "Leave unset and give `model_name_or_path` to continue from a checkpoint or a Hub model."
        },
    )
    model_subfolder: str | None = field(
        default=None,
        metadata={"help": "Subfolder of `model_name_or_path` holding the model (released checkpoints use them)."},
    )
    tokenizer_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Tokenizer directory or Hub id (`interplay-hf tokenizer` builds one). Defaults to the model's "
            "own tokenizer (`model_name_or_path` + `model_subfolder`)."
        },
    )
    # Data
    dataset_path: str | None = field(
        default=None,
        metadata={
            "help": "Dataset to train on: a directory written by `interplay-hf data build` (save_to_disk), or a "
            "Hub dataset id. Required."
        },
    )
    dataset_train_split: str = field(default="train", metadata={"help": "Split of `dataset_path` to train on."})
    dataset_prompt_column: str = field(
        default="prompt",
        metadata={"help": "Column holding the prompt (GRPO prompts; SFT with completion_only_loss)."},
    )
    # Budgets (exactly one of them, or none and TRL's max_steps / num_train_epochs)
    max_train_tokens: int | None = field(
        default=None,
        metadata={
            "help": "SFT budget in tokens: max_steps = ceil(tokens / (global batch x max_length)) with packing, "
            "or / (global batch x mean document length) without."
        },
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={
            "help": "Budget in samples: documents for SFT, prompts for GRPO (each gets num_generations "
            "completions). The paper's mid-training/RL split of 122,000 samples is one value per stage."
        },
    )
    # Held-out evaluation (always on: the training loss of packed batches is not the per-document CE)
    heldout_split: str | None = field(
        default="auto",
        metadata={
            "help": "Split of `dataset_path` for the held-out per-document cross-entropy. `auto`: `validation` or "
            "`test` if present, else `heldout_size` documents set aside from the training split. `none`: off."
        },
    )
    heldout_size: int = field(
        default=64, metadata={"help": "Held-out documents used (and set aside from training when split=auto)."}
    )
    heldout_steps: int | None = field(
        default=None,
        metadata={"help": "Evaluate every N optimizer steps (and at the end). Default: about ten times per run."},
    )
    heldout_sample_prompts: int = field(
        default=0,
        metadata={
            "help": "Also greedy-sample this many held-out prompts and log outcome and strict (process-verified) "
            "accuracy with interplay_hf.verify. 0 = off."
        },
    )
    heldout_max_new_tokens: int = field(default=512, metadata={"help": "Token limit of held-out greedy samples."})
    heldout_batch_size: int = field(default=16, metadata={"help": "Batch size of the held-out evaluation."})
    stop_at_answer_close: bool = field(
        default=True,
        metadata={"help": "Stop generation (GRPO rollouts, held-out samples, the saved generation config) at "
                          "`</answer>` when it is one token, as the official sampling does; false: at EOS only."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start again from scratch: delete this stage's checkpoint-N folders in output_dir instead "
                          "of resuming from them (a re-run refuses to resume checkpoints trained with other "
                          "settings). Never saved into recipe.yaml."},
    )
    # Filled by parse_stage_args: the keys the recipe and command line set (for the saved recipe.yaml).
    recipe_keys: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        for name in ("model_preset", "model_subfolder", "tokenizer_name_or_path", "heldout_split"):
            if isinstance(getattr(self, name), str) and getattr(self, name).lower() in ("", "none", "null"):
                setattr(self, name, None)


@dataclass
class SFTStageArguments(StageArguments):
    """Pre-training and mid-training (SFTTrainer): the shared fields plus per-document masking of packs."""

    packing_document_mask: bool = field(
        default=False,
        metadata={
            "help": "Restart position ids after every EOS so each document attends only to itself (no copying from "
            "neighbouring problems), keeping [batch, max_length] rows. With packing_strategy wrapped rows are cut "
            "anywhere; with bfd whole documents are packed best-fit-decreasing and never split (TRL's own bfd "
            "masks the same way but flattens the batch, quadratic without FlashAttention)."
        },
    )


@dataclass
class GRPOStageArguments(StageArguments):
    """GRPO: the shared fields plus the rewards looked up by name in interplay_hf.rewards."""

    reward_funcs: list[str] = field(
        default_factory=lambda: ["mixed"],
        metadata={"help": "Reward functions by name (interplay_hf.rewards.REWARD_FUNCS), e.g. [mixed] or [strict]."},
    )
    reward_kwargs: dict | str | None = field(
        default=None,
        metadata={"help": 'Hyper-parameters per reward, e.g. {mixed: {alpha: 0.2}} (JSON on the command line).'},
    )
    decode_loop: bool = field(
        default=True,
        metadata={
            "help": "Sample rollouts with our decode loop (each prompt prefilled once for its num_generations "
            "samples, KV cache written in place, finished rows leave the batch; train/rollouts.py) instead of "
            "model.generate. Settings it does not implement (top_k, min_p, repetition_penalty, generation_kwargs, "
            "cache_implementation, vLLM) fall back to TRL's generate with a log line."
        },
    )
    prompt_format: str = field(
        default="auto",
        metadata={
            "help": "`plain`: the prompt text as is (from-scratch and released models); `conversational`: a user "
            "message for chat models; `auto`: conversational iff the tokenizer has a chat template.",
            "choices": ["auto", "plain", "conversational"],
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.reward_kwargs, str):
            try:
                self.reward_kwargs = json.loads(self.reward_kwargs)
            except json.JSONDecodeError as err:
                raise ConfigError(f"reward_kwargs: not valid JSON ({err}); e.g. '{{\"mixed\": {{\"alpha\": 0.2}}}}'.") from None
        if self.reward_kwargs is None:
            self.reward_kwargs = {}


def stage_dataclasses(stage: str) -> tuple[type, type, type]:
    """The three dataclasses a stage recipe is parsed into."""
    from trl import GRPOConfig, ModelConfig, SFTConfig

    if stage == "sft":
        return SFTStageArguments, SFTConfig, ModelConfig
    if stage == "grpo":
        return GRPOStageArguments, GRPOConfig, ModelConfig
    raise ConfigError(f"unknown training stage {stage!r}; choose one of {STAGES}.")


def _field_names(dataclass_types) -> dict[str, Any]:
    names = {}
    for dtype in dataclass_types:
        for f in fields(dtype):
            if f.init:
                names[f.name] = f
    return names


def check_known_keys(keys, dataclass_types, where: str) -> None:
    """Raise ConfigError for the first key that no dataclass field takes, with close matches."""
    reject_unknown_keys(keys, _field_names(dataclass_types), where, noun="field")


def _cli_keys(argv: list[str], known: dict[str, Any]) -> list[str]:
    """Field names set on the command line (``--name v``, ``--name=v``, ``--no_name``; dashes or underscores)."""
    keys = []
    for token in argv:
        if not token.startswith("--"):
            continue
        name = token[2:].split("=", 1)[0].replace("-", "_")
        if name not in known and name.startswith("no_") and name[3:] in known:
            name = name[3:]
        keys.append(name)
    return keys


def read_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """The YAML mapping of a stage recipe (``env`` included), read with the bounds of :mod:`interplay_hf.yaml_io`."""
    from interplay_hf.yaml_io import read_yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such recipe file.")
    config = read_yaml(path, "--config")
    if not isinstance(config, dict):
        raise ConfigError(f"--config {path}: a stage recipe must be a YAML mapping of field: value.")
    return config


def _config_path(argv: list[str]) -> str | None:
    """The recipe path after ``--config``, if given (TRL's parser reads the same flag)."""
    if "--config" not in argv:
        return None
    index = argv.index("--config")
    if index + 1 >= len(argv):
        raise ConfigError("--config needs a recipe path.")
    return argv[index + 1]


def parse_stage_args(
    stage: str, argv: list[str] | None = None, check_paths: bool = True, world_size: int | None = None
):
    """Parse ``--config recipe.yaml`` plus command-line overrides into the stage's three dataclasses.

    Order of precedence: command line > YAML > our paper defaults (GRPO) > TRL's defaults.
    Raises ConfigError for unknown keys, bad values and inconsistent settings, before any model loads.
    ``check_paths=False`` skips the existence of datasets/models/tokenizers (recipes whose paths the
    pipeline fills in). ``world_size`` parses as if launched on that many processes (before ``accelerate
    launch``): TRL's GRPOConfig checks that the generation batch holds whole ``num_generations`` groups
    for its world size, and this runs that very check for the launch instead of for this one process.
    """
    from trl import TrlParser

    argv = list(sys.argv[1:] if argv is None else argv)
    dataclass_types = stage_dataclasses(stage)
    known = _field_names(dataclass_types)
    if world_size is not None:
        script_cls, config_cls, model_cls = dataclass_types
        launch_cls = type(config_cls.__name__, (config_cls,), {"world_size": property(lambda self: world_size)})
        dataclass_types = (script_cls, launch_cls, model_cls)

    recipe_path = _config_path(argv)
    recipe = read_recipe(recipe_path) if recipe_path is not None else {}
    yaml_keys = [k for k in recipe if k != "env"]
    if yaml_keys:
        check_known_keys(yaml_keys, dataclass_types, f"recipe {recipe_path}")
    cli_argv = [a for i, a in enumerate(argv) if a != "--config" and (i == 0 or argv[i - 1] != "--config")]
    cli_keys = _cli_keys(cli_argv, known)
    check_known_keys(cli_keys, dataclass_types, "command line")

    parser = TrlParser(dataclass_types)
    parser.error = _one_line_parser_error  # argparse's usage block is 200 lines for these dataclasses
    defaults = dict(GRPO_PAPER_DEFAULTS) if stage == "grpo" else {}
    if not {"bf16", "fp16"} & {*yaml_keys, *cli_keys} and trains_on_cpu(recipe, cli_argv):
        defaults["bf16"] = cpu_has_native_bf16()  # TRL's bf16 default is slow on emulated bf16 (docs/benchmarks.md)
    parser.set_defaults_with_config(**defaults)
    try:
        with warnings.catch_warnings():
            if "gradient_checkpointing" not in [*yaml_keys, *cli_keys]:
                # GRPOConfig's own default sets the deprecated name; a user who never wrote it can do nothing about it.
                warnings.filterwarnings("ignore", message="`gradient_checkpointing` is deprecated", category=FutureWarning)
            script_args, training_args, model_args = parser.parse_args_and_config(args=argv)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(_explain_trl_error(str(err))) from None
    set_keys = list(dict.fromkeys([*defaults, *yaml_keys, *cli_keys]))
    script_args.recipe_keys = [k for k in set_keys if k in known]
    validate_stage(stage, script_args, training_args, model_args, check_paths)
    return script_args, training_args, model_args


def _one_line_parser_error(message: str) -> None:
    """A bad override value (``--lora_alpha nan``) as one ConfigError line instead of argparse's usage and exit."""
    raise ConfigError(f"command line: {message}.")


def trains_on_cpu(recipe: dict, cli_argv: list[str]) -> bool:
    """Will the stage train on the CPU? (``use_cpu`` on the command line or in the recipe, or no CUDA device.)

    Read before parsing, because the precision default must be set before TRL derives its mixed-precision mode; a
    value TRL's parser would refuse counts as not given here, and the parser then says what is wrong with it."""
    from argparse import ArgumentTypeError

    from transformers.hf_argparser import string_to_bool

    given = [recipe["use_cpu"]] if "use_cpu" in recipe else []
    for i, token in enumerate(cli_argv):  # the last one wins, as in the parser; a bare flag means true
        name, _, value = token.partition("=")
        if name.replace("-", "_") == "__use_cpu":
            following = cli_argv[i + 1] if i + 1 < len(cli_argv) else "--"
            given.append(value or ("true" if following.startswith("--") else following))
    if given:
        try:
            return string_to_bool(given[-1])
        except (ArgumentTypeError, AttributeError):
            return False
    import torch

    return not torch.cuda.is_available()


def cpu_has_native_bf16() -> bool:
    """bf16 autocast pays on a CPU with native bf16 dot products (AVX512-BF16 or AMX): 1.25x the SFT tokens/s on
    qwen2-1m and 1.5x on qwen2-5m on the development machine (benchmarks/bench_train.py); elsewhere it is emulated
    and slower than fp32."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def _explain_trl_error(message: str) -> str:
    if "num_generations" in message:
        return (
            f"num_generations: {message} TRL generates per_device_train_batch_size x number of processes x "
            "steps_per_generation (= gradient_accumulation_steps unless set) completions at a time, or "
            "generation_batch_size if set; that batch must hold whole groups of num_generations: change "
            "num_generations or the batch settings."
        )
    return message


def _path_or_hub(value: str, field_name: str, what: str) -> None:
    """A local path must exist; anything else must look like a Hub id (and we must be online to fetch it)."""
    if Path(value).exists():
        return
    if _HUB_ID.match(value) and not value.startswith((".", "/")):
        return  # a Hub id: resolved (or reported) by the loader; the offline cache may have it
    raise ConfigError(f"{field_name}: {what} {value!r} does not exist (not a local path, not a Hub id).")


def reject_hub_token(value: Any) -> None:
    """A token is never a setting: the Trainer pickles its arguments into ``training_args.bin`` of the stage and
    of every checkpoint, and a stage's args reach markers and logs. Pushes read the login or ``HF_TOKEN``."""
    if value:
        raise ConfigError("hub_token: tokens are not taken as settings (they would be saved in training_args.bin "
                          "and logs); run `hf auth login` or set HF_TOKEN")


def validate_stage(stage: str, script_args, training_args, model_args, check_paths: bool = True) -> None:
    """Cross-field checks that need no model: fail fast with the field name and the fix."""
    from interplay_hf.models import PRESETS

    reject_hub_token(getattr(training_args, "hub_token", None))

    def exists(value: str, field_name: str, what: str) -> None:
        if check_paths:
            _path_or_hub(value, field_name, what)

    if not script_args.dataset_path:
        raise ConfigError("dataset_path: required; point it at a directory from `interplay-hf data build`.")
    exists(script_args.dataset_path, "dataset_path", "dataset")

    if script_args.model_preset and model_args.model_name_or_path:
        raise ConfigError(
            f"model_preset={script_args.model_preset!r} and model_name_or_path={model_args.model_name_or_path!r} "
            "are both set: use model_preset to train from scratch, or model_name_or_path to continue from a "
            "checkpoint (pass `--model_preset none` to override a recipe's preset)."
        )
    if script_args.model_preset:
        if script_args.model_preset not in PRESETS:
            raise ConfigError(
                f"model_preset: unknown preset {script_args.model_preset!r}.{did_you_mean(script_args.model_preset, PRESETS)}"
                f" Presets: {', '.join(PRESETS)}."
            )
        if not script_args.tokenizer_name_or_path:
            raise ConfigError("tokenizer_name_or_path: required with model_preset (build one with `interplay-hf tokenizer`).")
    elif not model_args.model_name_or_path:
        raise ConfigError("model_name_or_path or model_preset: one is required.")
    else:
        exists(model_args.model_name_or_path, "model_name_or_path", "model")
    if script_args.tokenizer_name_or_path:
        exists(script_args.tokenizer_name_or_path, "tokenizer_name_or_path", "tokenizer")

    budgets = {k: getattr(script_args, k) for k in ("max_train_tokens", "max_train_samples")}
    for name, value in budgets.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{name}: a budget must be positive, got {value}.")
    set_budgets = [k for k, v in budgets.items() if v is not None]
    if len(set_budgets) > 1:
        raise ConfigError(f"{' and '.join(set_budgets)}: set one budget, not both.")
    if set_budgets and training_args.max_steps > 0:
        raise ConfigError(f"{set_budgets[0]} and max_steps={training_args.max_steps} both set the length: keep one.")
    if stage == "grpo" and script_args.max_train_tokens is not None:
        raise ConfigError("max_train_tokens: GRPO budgets are in prompts; use max_train_samples.")
    for name in ("heldout_size", "heldout_sample_prompts", "heldout_batch_size", "heldout_max_new_tokens"):
        if getattr(script_args, name) < 0 or (name == "heldout_batch_size" and getattr(script_args, name) == 0):
            raise ConfigError(f"{name}: must be positive, got {getattr(script_args, name)}.")
    if script_args.heldout_steps is not None and script_args.heldout_steps <= 0:
        raise ConfigError(f"heldout_steps: must be positive, got {script_args.heldout_steps}.")

    if stage == "sft" and training_args.packing and training_args.max_length is None:
        raise ConfigError("max_length: packing needs a sequence length (e.g. 2048 as in the paper).")
    if stage == "sft" and script_args.packing_document_mask and (
        not training_args.packing or training_args.packing_strategy not in ("wrapped", "bfd")
    ):
        raise ConfigError(
            "packing_document_mask: needs packing: true and packing_strategy wrapped or bfd."
        )
    if stage == "grpo":
        _validate_grpo(script_args, training_args)
    from interplay_hf.train.preflight import check_before_launch, check_numeric_ranges

    if check_paths:
        check_before_launch(stage, script_args, training_args, model_args)
    else:
        check_numeric_ranges(training_args, script_args, model_args)


def _validate_grpo(script_args, training_args) -> None:
    from interplay_hf.rewards import validate_reward_config

    if not script_args.reward_funcs:
        raise ConfigError("reward_funcs: give at least one reward, e.g. [mixed].")
    validate_reward_config(script_args.reward_funcs, script_args.reward_kwargs)
    weights = training_args.reward_weights
    if weights is not None and len(weights) != len(script_args.reward_funcs):
        raise ConfigError(
            f"reward_weights: {len(weights)} weights for {len(script_args.reward_funcs)} reward_funcs "
            f"{script_args.reward_funcs}; give one weight per reward."
        )
    if training_args.use_vllm:
        if training_args.vllm_mode not in ("colocate", "server"):
            raise ConfigError(f"vllm_mode: {training_args.vllm_mode!r}; choose colocate or server.")
        if importlib.util.find_spec("vllm") is None:
            raise ConfigError("use_vllm: vLLM is not installed; `pip install interplay-hf[vllm]` or set use_vllm: false.")
    # num_generations vs the batch: TRL's GRPOConfig.__post_init__ checked it during parsing (see world_size).


def _plain(value: Any) -> Any:
    """A YAML-safe version of a parsed field value (enums → their value)."""
    from enum import Enum

    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def resolved_recipe(script_args, training_args, model_args) -> dict[str, Any]:
    """The recipe as run: the keys the user (or our defaults) set, with their final values.

    Without recorded keys (``main`` called with hand-built dataclasses) it falls back to every field
    whose value differs from its dataclass default. Either way the result parses again as a recipe.
    """
    objects = (script_args, training_args, model_args)
    out: dict[str, Any] = {}
    keys = set(getattr(script_args, "recipe_keys", []) or [])
    for obj in objects:
        for f in fields(obj):
            if not f.init or f.name in DERIVED_FIELDS | ACTION_FIELDS or f.name in out:
                continue
            value = getattr(obj, f.name)
            if keys:
                if f.name not in keys:
                    continue
            else:
                default = f.default_factory() if f.default_factory is not MISSING else f.default
                if _plain(value) == _plain(default) or f.name in ("bf16", "pad_to_multiple_of", "report_to"):
                    continue
            out[f.name] = _plain(value)
    return out


def save_recipe(path: str | os.PathLike, script_args, training_args, model_args, comments: list[str] = ()) -> None:
    """Write ``recipe.yaml`` (re-runnable with ``--config``), with derived facts as leading comments."""
    import yaml

    from interplay_hf.redact import is_secret_key

    recipe = resolved_recipe(script_args, training_args, model_args)  # a token is never saved (or pushed)
    text = yaml.safe_dump({k: v for k, v in recipe.items() if not is_secret_key(k)}, sort_keys=False)
    header = "".join(f"# {line}\n" for line in comments)
    Path(path).write_text(header + text, encoding="utf-8")
