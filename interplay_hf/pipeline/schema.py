"""The pipeline YAML schema and the plan it becomes: every key a recipe may use, the stage types and
how each becomes a command, and the :class:`PlannedStage` / :class:`Plan` that
:mod:`interplay_hf.pipeline.plan` builds.

The key tables below are the single source of truth for the keys (recipes/quickstart/README.md describes
them for people): unknown keys are rejected with the list of known ones, and the meanings are shown in
error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.launch import AccelerateLaunch
from interplay_hf.yaml_io import reject_unknown_keys

# ---------------------------------------------------------------------------------------------------
# Schema: every key a pipeline YAML may use, with its meaning (shown in error messages and docs).
# ---------------------------------------------------------------------------------------------------
TOP_LEVEL_KEYS: dict[str, str] = {
    "name": "run name; outputs go to <runs dir>/<name>/<stage>/ (required)",
    "description": "free text shown by --dry-run",
    "root": "folder that relative paths (recipes, configs, data recipes) are resolved against, relative to this "
    "file; default: the nearest ancestor holding pyproject.toml, else this file's folder. Commands run there.",
    "defaults": "keys applied to every stage unless the stage sets them: accelerate_config, num_processes, "
    "launch_args, env",
    "budget": "a fixed compute budget split between stages: total_samples, splits, to_args",
    "stages": "ordered mapping stage name -> stage (required)",
}
STAGE_KEYS: dict[str, str] = {
    "type": "what the stage runs: " + ", ".join(
        ["data", "tokenizer", "sft", "grpo", "eval", "select_edge", "report", "push", "shell"]
    ),
    "description": "free text shown by --dry-run",
    "recipe": "stage recipe file: the data recipe (data) or the TRL training recipe passed as --config (sft, grpo); "
    "may name a file an input stage writes, e.g. ${edge}/rl_data.yaml",
    "recipe_overrides": "keys merged into the stage recipe before it runs (mappings merge key by key, other values "
    "replace, null deletes; ${refs} allowed); the merged file is written to <stage>/pipeline_recipe.yaml and "
    "passed instead — the way to vary a data recipe, whose command has no per-field flags",
    "args": "flags of the stage command, key: value; ${stage} is that stage's output folder and makes it an input; "
    "null drops a flag; lists and dicts become multi-value / JSON flags; true/false become `--flag true/false` for "
    "TRL scripts (sft, grpo) and `--flag` / `--no-flag` for our CLIs",
    "after": "stages that must finish first although no ${reference} names them",
    "matrix": "fan-out: variant name -> stage keys merged over this stage (args and env key by key); "
    "stage '<name>' becomes '<name>.<variant>' for each variant",
    "accelerate_config": "accelerate config file for `accelerate launch` (sft, grpo, eval)",
    "num_processes": "processes for `accelerate launch`; > 1 adds --multi_gpu on a single-process config "
    "(CPU ranks need it)",
    "launch_args": "extra `accelerate launch` flags, a list of strings",
    "env": "environment variables for the stage (OMP_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false are added "
    "unless set here or in your shell)",
    "manual": "true: run only when selected by --only (e.g. push to the Hub)",
    "command": "shell stages: the command line, run by /bin/sh in the root folder; ${output} is the stage folder",
}
BUDGET_KEYS: dict[str, str] = {
    "total_samples": "the fixed number of training samples each split divides (e.g. 122000)",
    "splits": "split name -> {stage: share}; the shares of one split must sum to 1",
    "to_args": "stage (or matrix base name) -> {arg, samples_per_step, per_sample}: sets args[arg] = "
    "ceil(share * total_samples * per_sample / samples_per_step)",
}
DEFAULTS_KEYS = ("accelerate_config", "num_processes", "launch_args", "env")
VARIANT_KEYS = tuple(k for k in STAGE_KEYS if k not in ("type", "matrix"))
MERGED_RECIPE_FILE = "pipeline_recipe.yaml"  # written into the stage folder when recipe_overrides is set
RESERVED_REFS = {"output": "this stage's own output folder", "run_dir": "the run folder <runs dir>/<name>"}

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REF_RE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class StageType:
    """How a stage type becomes a command line."""

    program: str  # "interplay-hf", "accelerate" (module launch) or "sh"
    base: tuple[str, ...]  # after the program: sub-command words, or the module for accelerate
    flag_style: str  # "trl": --snake_case and `--flag true`; "cli": --kebab-case and bare `--flag`
    output_flag: str | None  # flag that receives the stage folder (None: the stage folder only holds the log)
    recipe: str  # "positional", "config" (--config <file>), "none"
    required_args: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()  # args rendered as positional words, in this order
    manual: bool = False  # default of the stage's `manual`
    help: str = ""
    # The command's output goes to this subfolder of the stage folder (and ${stage} names it), for commands that
    # replace their output folder wholesale and would delete the pipeline's stage.json / stage.log.
    output_subdir: str | None = None
    fixed_flags: tuple[str, ...] = ()  # always passed after the output flag


STAGE_TYPES: dict[str, StageType] = {
    "data": StageType("interplay-hf", ("data", "build"), "cli", "--output-dir", "positional",
                      help="interplay-hf data build <recipe> --output-dir <stage>/dataset --overwrite: a saved "
                      "DatasetDict; ${stage} names <stage>/dataset",
                      output_subdir="dataset", fixed_flags=("--overwrite",)),
    "tokenizer": StageType("interplay-hf", ("tokenizer",), "cli", "--output-dir", "none",
                           help="interplay-hf tokenizer --numbers released --output-dir <stage> (the released "
                           "checkpoints' tokenizer), or --dataset <data stage> to train one"),
    "sft": StageType("accelerate", ("interplay_hf.train.sft",), "trl", "--output_dir", "config",
                     help="accelerate launch -m interplay_hf.train.sft --config <recipe> --output_dir <stage>"),
    "grpo": StageType("accelerate", ("interplay_hf.train.grpo",), "trl", "--output_dir", "config",
                      help="accelerate launch -m interplay_hf.train.grpo --config <recipe> --output_dir <stage>"),
    "eval": StageType("accelerate", ("interplay_hf.evaluation.run",), "cli", "--output-dir", "none",
                      ("model", "data"),
                      help="accelerate launch -m interplay_hf.evaluation.run --model .. --data .. "
                      "--output-dir <stage>"),
    "select_edge": StageType("interplay-hf", ("select-edge",), "cli", "--output-dir", "none", (),
                             help="interplay-hf select-edge --model .. --data .. --ops .. --output-dir <stage>: "
                             "edge.json, rl_data.yaml"),
    "report": StageType("interplay-hf", ("report",), "cli", "--output-dir", "none", ("evals",), ("evals",),
                        help="interplay-hf report <eval stages ...> --output-dir <stage> [--labels ..]"),
    "push": StageType("interplay-hf", ("push",), "cli", None, "none", ("path", "repo_id"), ("path",), manual=True,
                      help="interplay-hf push <stage or run folder> --repo-id ..; manual unless manual: false"),
    "shell": StageType("sh", (), "cli", None, "none",
                       help="any command line (`command:`), run by /bin/sh in the root folder"),
}
ACCELERATE_TYPES = tuple(name for name, t in STAGE_TYPES.items() if t.program == "accelerate")


@dataclass
class PlannedStage:
    """One concrete stage of the plan (a matrix variant is its own stage)."""

    name: str  # "rl.edge" for variant "edge" of matrix stage "rl"
    base: str  # "rl"
    variant: str | None
    type: str
    description: str
    recipe: str | None  # as written (relative to root)
    recipe_overrides: dict[str, Any] | None  # ${refs} resolved; merged into the recipe at run time
    args: dict[str, Any]  # as written, merged with the variant and budget; ${refs} unresolved (hashed)
    inputs: list[str]  # names of the stages this one needs, in first-mention order
    output_dir: Path
    command: list[str] = field(default_factory=list)  # display form: program names, not resolved paths
    env: dict[str, str] = field(default_factory=dict)
    manual: bool = False
    budget_samples: int | None = None
    budget_note: str = ""
    hash: str = ""
    hash_parts: dict[str, Any] = field(default_factory=dict)
    where: str = ""  # the YAML path of the stage, for error messages
    placement: str | None = None  # set by placement.placed_plan (not hashed)
    processes: int | None = None  # processes the stage runs on (accelerate stages)
    batch_line: str = ""  # sft/grpo: "global batch: ...", the same for every process count
    launch: AccelerateLaunch | None = None  # accelerate stages: the structured launch behind ``command``

    @property
    def log_path(self) -> Path:
        return self.output_dir / "stage.log"

    @property
    def merged_recipe_path(self) -> Path:
        return self.output_dir / MERGED_RECIPE_FILE

    @property
    def output_path(self) -> Path:
        """What ``${name}`` stands for: the stage folder, or the subfolder its command writes."""
        subdir = STAGE_TYPES[self.type].output_subdir
        return self.output_dir / subdir if subdir else self.output_dir


@dataclass
class Plan:
    """The stages of a pipeline in the order they run, with the paths everything resolves to."""

    name: str
    description: str
    path: Path  # the pipeline YAML
    root: Path  # relative paths resolve here; commands run here
    run_dir: Path
    stages: list[PlannedStage]
    budget: dict[str, Any] | None = None

    def stage(self, name: str) -> PlannedStage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def expand_names(self, names: list[str], flag: str) -> list[str]:
        """Stage names or matrix base names (``rl`` = every ``rl.*``) → stage names, validated."""
        out: list[str] = []
        for name in names:
            matches = [s.name for s in self.stages if s.name == name or s.base == name]
            if not matches:
                raise ConfigError(f"{flag}: no stage named {name!r}; the stages are {', '.join(self.names)}")
            out.extend(m for m in matches if m not in out)
        return out


def check_keys(mapping: Any, allowed: Any, where: str) -> dict:
    """``mapping`` itself when it is a mapping whose keys are all ``allowed``; else a ConfigError naming ``where``."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping (key: value), got {type(mapping).__name__}")
    reject_unknown_keys(mapping, allowed, where)
    return mapping
