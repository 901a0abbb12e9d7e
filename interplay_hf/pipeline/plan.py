"""Pipeline recipe → a validated, ordered, hashed plan of stage commands (nothing runs here).

A pipeline YAML names a run and lists its stages; each stage is *one command* (a data build, an
`accelerate launch` of a training or evaluation script, a report ...) that writes into its own folder
``<runs dir>/<name>/<stage>/``. Stages are wired by reference: ``${pretrain}`` in a stage's ``args``
is the pre-training stage's output folder, and makes that stage an input. This module parses and
checks the YAML (every mistake is a :class:`ConfigError` naming the field, raised before anything
runs), expands ``matrix:`` fan-outs, applies the compute ``budget:``, orders the stages
topologically and gives each one a hash of everything that determines its output.
:mod:`interplay_hf.pipeline.run` decides which stages to skip and runs the rest.

The schema is documented in ``PIPELINE_SCHEMA`` below (and in recipes/quickstart/README.md); it is
the single source of truth for the keys, so unknown keys are rejected with the list of known ones.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interplay_hf import __version__
from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.batch import TRAIN_TYPES, accelerate_processes, check_process_count, plan_batch
from interplay_hf.pipeline.smoke import budgeted_stages, smoke_pipeline, smoke_stage
from interplay_hf.versions import major_minor
from interplay_hf.yaml_io import load_yaml_mapping, merge_recipe, read_yaml, reject_unknown_keys

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
    "to_args": "stage (or matrix base name) -> {arg, samples_per_step}: sets args[arg] = "
    "ceil(share * total_samples / samples_per_step)",
}
DEFAULTS_KEYS = ("accelerate_config", "num_processes", "launch_args", "env")
VARIANT_KEYS = tuple(k for k in STAGE_KEYS if k not in ("type", "matrix"))
MERGED_RECIPE_FILE = "pipeline_recipe.yaml"  # written into the stage folder when recipe_overrides is set
RESERVED_REFS = {"output": "this stage's own output folder", "run_dir": "the run folder <runs dir>/<name>"}

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REF_RE = re.compile(r"\$\{([^}]*)\}")
SHARE_TOLERANCE = 1e-6
MAX_HASHED_FILE_BYTES = 50_000_000  # args naming bigger files are hashed by path only


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
    "tokenizer": StageType("interplay-hf", ("tokenizer",), "cli", "--output-dir", "none", ("dataset",),
                           help="interplay-hf tokenizer --dataset <data stage> --output-dir <stage>"),
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


# ---------------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------------
def _check_keys(mapping: Any, allowed: Any, where: str) -> dict:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping (key: value), got {type(mapping).__name__}")
    reject_unknown_keys(mapping, allowed, where)
    return mapping


def _find_root(path: Path) -> Path:
    here = path.parent.resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return path.parent.resolve()


def _display_path(path: Path, root: Path) -> str:
    """Paths inside the root are shown (and passed) relative to it: commands run in the root."""
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that is False, not an error, for names the OS rejects (too long, bad bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _merge_variant(body: dict, variant: dict) -> dict:
    merged = copy.deepcopy(body)
    for key, value in variant.items():
        if key in ("args", "env") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_pipeline_yaml(path: str | Path) -> dict:
    return load_yaml_mapping(path, "pipeline recipe")


def build_plan(path: str | Path, runs_dir: str | Path = "runs", num_processes: int | None = None,
               process_types: tuple[str, ...] = ACCELERATE_TYPES, smoke: bool = False) -> Plan:
    """Parse, validate and order a pipeline YAML; raise ConfigError before anything runs.

    ``num_processes`` runs the stages of ``process_types`` on that many processes; training stages keep
    their global batch (:mod:`interplay_hf.pipeline.batch`). ``smoke`` plans the toy-scale CPU version of
    every stage (:mod:`interplay_hf.pipeline.smoke`).
    """
    if num_processes is not None:
        check_process_count(num_processes)
    path = Path(path).resolve()
    data = load_pipeline_yaml(path)
    _check_keys(data, TOP_LEVEL_KEYS, "pipeline")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError("name: required; a run name of letters, digits, '_' or '-' (it names the run folder)")
    root = (path.parent / data["root"]).resolve() if data.get("root") is not None else _find_root(path)
    if not root.is_dir():
        raise ConfigError(f"root: folder {str(root)!r} does not exist")
    budgeted: set[str] = set()
    if smoke:
        data = smoke_pipeline(data, root)
        name = data["name"]
        budgeted = budgeted_stages(data)
    description = str(data.get("description") or "").strip()
    run_dir = Path(runs_dir).resolve() / name

    defaults = _check_keys(data.get("defaults") or {}, DEFAULTS_KEYS, "defaults")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, dict) or not raw_stages:
        raise ConfigError("stages: required; a mapping of stage name -> {type: ..., ...}")

    # 1. Expand matrix fan-outs into concrete stages (declaration order kept).
    bodies: dict[str, tuple[str, str | None, dict]] = {}
    variants_of: dict[str, list[str]] = {}
    for base, body in raw_stages.items():
        where = f"stages.{base}"
        if not isinstance(base, str) or not NAME_RE.match(base) or base in RESERVED_REFS:
            raise ConfigError(
                f"{where}: stage names are letters, digits, '_' or '-' starting with a letter "
                f"(not {', '.join(RESERVED_REFS)})"
            )
        _check_keys(body, STAGE_KEYS, where)
        stage_type = body.get("type")
        if stage_type not in STAGE_TYPES:
            raise ConfigError(f"{where}.type: {stage_type!r} is not a stage type; "
                              f"choose one of {', '.join(STAGE_TYPES)}")
        matrix = body.get("matrix")
        if matrix is None:
            bodies[base] = (base, None, body)
            variants_of[base] = [base]
            continue
        if not isinstance(matrix, dict) or not matrix:
            raise ConfigError(f"{where}.matrix: a non-empty mapping variant name -> stage keys")
        variants_of[base] = []
        shared = {k: v for k, v in body.items() if k != "matrix"}
        for variant, overrides in matrix.items():
            vwhere = f"{where}.matrix.{variant}"
            if not isinstance(variant, str) or not VARIANT_RE.match(variant):
                raise ConfigError(f"{vwhere}: variant names are letters, digits, '_' or '-'")
            _check_keys(overrides or {}, VARIANT_KEYS, vwhere)
            bodies[f"{base}.{variant}"] = (base, variant, _merge_variant(shared, overrides or {}))
            variants_of[base].append(f"{base}.{variant}")

    output_dirs = {stage_name: run_dir / stage_name for stage_name in bodies}
    # ${name} → the folder the stage's command writes (see StageType.output_subdir).
    output_paths = {n: d / (STAGE_TYPES[bodies[n][2]["type"]].output_subdir or "") for n, d in output_dirs.items()}

    # 2. Per-stage checks, budget, references → inputs.
    budget = _check_budget(data.get("budget"), bodies, variants_of)
    stages: dict[str, PlannedStage] = {}
    for stage_name, (base, variant, body) in bodies.items():
        where = f"stages.{base}" + (f".matrix.{variant}" if variant else "")
        if smoke:
            body = smoke_stage(body, root, budgeted=bool({stage_name, base} & budgeted))
            bodies[stage_name] = (base, variant, body)
        override = num_processes if body["type"] in process_types else None
        stages[stage_name] = _plan_stage(stage_name, base, variant, body, defaults, where, root, output_dirs,
                                         output_paths, variants_of, budget, override)
        if body["type"] in TRAIN_TYPES:
            _fix_global_batch(stages[stage_name], root)

    # 3. Order topologically; 4. hash in that order (a stage's hash includes its inputs' hashes).
    order = _topological_order(stages)
    ordered = [stages[n] for n in order]
    for stage in ordered:
        _hash_stage(stage, stages, root, bodies[stage.name][2], defaults)
    return Plan(name, description, path, root, run_dir, ordered, budget)


def check_stage_fields(plan: Plan) -> None:
    """Every arg of a training or eval stage is a field of its script, so a typo fails now, not after a launch.

    Imports TRL (seconds) only when the plan has sft/grpo stages; interplay-hf stages are checked against the
    argparse parser of their sub-command.
    """
    from dataclasses import fields

    eval_fields: set[str] | None = None
    for stage in plan.stages:
        if stage.type in ("sft", "grpo"):
            from interplay_hf.train.config import check_known_keys, stage_dataclasses

            check_known_keys([k.replace("-", "_") for k in stage.args], stage_dataclasses(stage.type),
                             f"{stage.where}.args")
        elif stage.type == "eval":
            if eval_fields is None:
                from interplay_hf.evaluation.config import EvalConfig

                eval_fields = {f.name for f in fields(EvalConfig)}
            for key in stage.args:
                if key.replace("-", "_") not in eval_fields:
                    raise ConfigError(f"{stage.where}.args.{key}: not a flag of interplay_hf.evaluation.run; "
                                      f"flags: {', '.join(sorted(eval_fields))}")
        elif STAGE_TYPES[stage.type].program == "interplay-hf":
            _check_cli_args(stage, STAGE_TYPES[stage.type])


def _check_cli_args(stage: PlannedStage, stage_type: StageType) -> None:
    """Args of an ``interplay-hf`` stage are flags of its sub-command (or its positional arguments)."""
    from interplay_hf.cli import subcommand_flags

    flags = subcommand_flags(stage_type.base)
    for key in stage.args:
        if key not in stage_type.positional and "--" + key.replace("_", "-") not in flags:
            raise ConfigError(f"{stage.where}.args.{key}: not a flag of `interplay-hf {' '.join(stage_type.base)}`; "
                              f"flags: {', '.join(sorted(f[2:] for f in flags if f.startswith('--') and f != '--help'))}")


def _check_budget(raw: Any, bodies: dict, variants_of: dict[str, list[str]]) -> dict | None:
    """Validate the compute split: each split's shares sum to 1; return stage -> (samples, arg, steps)."""
    if raw is None:
        return None
    _check_keys(raw, BUDGET_KEYS, "budget")
    total = raw.get("total_samples")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise ConfigError("budget.total_samples: required; a positive integer number of training samples")
    splits = raw.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise ConfigError("budget.splits: required; split name -> {stage: share}, shares summing to 1")
    per_stage: dict[str, dict[str, Any]] = {}
    for split_name, shares in splits.items():
        where = f"budget.splits.{split_name}"
        if not isinstance(shares, dict) or not shares:
            raise ConfigError(f"{where}: a mapping stage -> share (a fraction of total_samples)")
        for stage_name, share in shares.items():
            if stage_name not in bodies:
                raise ConfigError(f"{where}.{stage_name}: no stage named {stage_name!r}; the stages are "
                                  f"{', '.join(bodies)}")
            if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share <= 1:
                raise ConfigError(f"{where}.{stage_name}: a share is a number in (0, 1], got {share!r}")
            if stage_name in per_stage:
                raise ConfigError(f"{where}.{stage_name}: the stage is already in split "
                                  f"{per_stage[stage_name]['split']!r}; a stage belongs to one split")
            per_stage[stage_name] = {"split": split_name, "share": float(share),
                                     "samples": int(round(share * total))}
        share_sum = sum(float(s) for s in shares.values())
        if abs(share_sum - 1.0) > SHARE_TOLERANCE:
            raise ConfigError(
                f"{where}: shares sum to {share_sum:g}, not 1; a split must spend exactly budget.total_samples "
                f"({total}) — e.g. β = 0.2 RL is {{midtrain: 0.8, rl: 0.2}}"
            )
    to_args = raw.get("to_args") or {}
    if not isinstance(to_args, dict):
        raise ConfigError("budget.to_args: a mapping stage -> {arg: <flag name>, samples_per_step: <int>}")
    for key, conv in to_args.items():
        where = f"budget.to_args.{key}"
        targets = variants_of.get(key) or ([key] if key in bodies else None)
        if targets is None:
            raise ConfigError(f"{where}: no stage named {key!r}; the stages are {', '.join(bodies)}")
        _check_keys(conv, ("arg", "samples_per_step"), where)
        arg = conv.get("arg")
        if not isinstance(arg, str) or not arg:
            raise ConfigError(f"{where}.arg: required; the flag that receives the budget (e.g. max_steps)")
        per_step = conv.get("samples_per_step", 1)
        if not isinstance(per_step, int) or isinstance(per_step, bool) or per_step <= 0:
            raise ConfigError(f"{where}.samples_per_step: a positive integer (samples consumed by one step)")
        for target in targets:
            if target not in per_stage:
                raise ConfigError(f"{where}: stage {target!r} is in no budget split, so it has no budget to convert")
            per_stage[target].update(arg=arg, samples_per_step=per_step,
                                     value=math.ceil(per_stage[target]["samples"] / per_step))
    return {"total_samples": total, "stages": per_stage}


def _plan_stage(name, base, variant, body, defaults, where, root, output_dirs, output_paths, variants_of,
                budget, processes_override: int | None = None) -> PlannedStage:
    stage_type = STAGE_TYPES[body["type"]]
    args = body.get("args") or {}
    if not isinstance(args, dict):
        raise ConfigError(f"{where}.args: a mapping flag -> value")
    args = copy.deepcopy(args)
    for key in args:
        if not isinstance(key, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", key):
            raise ConfigError(f"{where}.args.{key}: flag names are letters, digits, '_' or '-'")

    # Recipe file.
    recipe = body.get("recipe")
    if stage_type.recipe == "none" and recipe is not None:
        raise ConfigError(f"{where}.recipe: a {body['type']} stage takes no recipe file; use args")
    if stage_type.recipe != "none":
        if not isinstance(recipe, str) or not recipe:
            raise ConfigError(f"{where}.recipe: required for a {body['type']} stage (path relative to {root})")
        if "${" not in recipe and not _is_file(root / recipe):  # ${stage}/file: written by an input stage
            raise ConfigError(f"{where}.recipe: file {recipe!r} not found (paths are relative to {root})")

    overrides = body.get("recipe_overrides")
    if overrides is not None:
        if stage_type.recipe == "none":
            raise ConfigError(f"{where}.recipe_overrides: a {body['type']} stage has no recipe to override; use args")
        if not isinstance(overrides, dict) or not overrides:
            raise ConfigError(f"{where}.recipe_overrides: a non-empty mapping of recipe key -> value")

    # Budget → an arg.
    budget_samples, budget_note = None, ""
    if budget and name in budget["stages"]:
        entry = budget["stages"][name]
        budget_samples = entry["samples"]
        budget_note = (f"{entry['samples']} samples ({entry['share']:g} of {budget['total_samples']}, "
                       f"split {entry['split']})")
        if "arg" in entry:
            if entry["arg"] in args:
                raise ConfigError(f"{where}.args.{entry['arg']}: also set by budget.to_args; remove one of the two")
            args[entry["arg"]] = entry["value"]
            budget_note += f" -> {entry['arg']}={entry['value']}"

    for arg in stage_type.required_args:
        if args.get(arg) is None:
            raise ConfigError(f"{where}.args.{arg}: required for a {body['type']} stage")
    needs_sampling = args.get("model") is None or args.get("data") is None
    if body["type"] == "select_edge" and args.get("results") is None and needs_sampling:
        raise ConfigError(f"{where}.args: a select_edge stage needs model and data (to evaluate the base model) "
                          "or results (an eval stage's folder, e.g. ${eval_base})")
    command_text = body.get("command")
    if body["type"] == "shell":
        if not isinstance(command_text, str) or not command_text.strip():
            raise ConfigError(f"{where}.command: required for a shell stage (a command line)")
        if args:
            raise ConfigError(f"{where}.args: shell stages take no args; write everything into `command`")
    elif command_text is not None:
        raise ConfigError(f"{where}.command: only shell stages take a command; use args")

    # Accelerate settings.
    accelerate_config = body.get("accelerate_config", defaults.get("accelerate_config"))
    num_processes = body.get("num_processes", defaults.get("num_processes"))
    launch_args = body.get("launch_args", defaults.get("launch_args")) or []
    if body["type"] in ACCELERATE_TYPES:
        if accelerate_config is not None and not _is_file(root / str(accelerate_config)):
            field_name = "accelerate_config" if "accelerate_config" in body else "defaults.accelerate_config"
            raise ConfigError(f"{where if field_name == 'accelerate_config' else 'defaults'}.accelerate_config: "
                              f"file {accelerate_config!r} not found (paths are relative to {root})")
        if num_processes is not None:
            check_process_count(num_processes, f"{where}.num_processes")
        if not isinstance(launch_args, list) or not all(isinstance(a, (str, int, float)) for a in launch_args):
            raise ConfigError(f"{where}.launch_args: a list of strings (extra `accelerate launch` flags)")
    else:
        for key in ("accelerate_config", "num_processes", "launch_args"):
            if body.get(key) is not None:
                raise ConfigError(f"{where}.{key}: only {', '.join(ACCELERATE_TYPES)} stages run through accelerate")

    env = {**(defaults.get("env") or {}), **(body.get("env") or {})}
    if not isinstance(env, dict):
        raise ConfigError(f"{where}.env: a mapping NAME -> value")
    env = {str(k): str(v) for k, v in env.items()}

    after = body.get("after") or []
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list):
        raise ConfigError(f"{where}.after: a list of stage names")

    manual = body.get("manual", stage_type.manual)
    if not isinstance(manual, bool):
        raise ConfigError(f"{where}.manual: true or false")

    stage = PlannedStage(
        name=name, base=base, variant=variant, type=body["type"], description=str(body.get("description") or ""),
        recipe=recipe, recipe_overrides=None, args=args, inputs=[], output_dir=output_dirs[name], env=env,
        manual=manual,
        budget_samples=budget_samples, budget_note=budget_note, where=where,
    )
    # References: collect inputs (in first-mention order) and check that each names a stage.
    refs: list[str] = []
    if recipe is not None:
        _collect_refs(recipe, f"{where}.recipe", refs, output_dirs, variants_of)
    if overrides is not None:
        _collect_refs(overrides, f"{where}.recipe_overrides", refs, output_dirs, variants_of)
    _collect_refs(args, f"{where}.args", refs, output_dirs, variants_of)
    if command_text:
        _collect_refs(command_text, f"{where}.command", refs, output_dirs, variants_of, in_shell=True)
    for item in after:
        if item not in output_dirs and item not in variants_of:
            raise ConfigError(f"{where}.after: no stage named {item!r}; the stages are {', '.join(output_dirs)}")
        refs.extend(variants_of.get(item, [item]) if item not in output_dirs else [item])
    for ref in refs:
        if ref == name:
            raise ConfigError(f"{where}: the stage refers to itself; use ${{output}} for its own folder")
        if ref not in stage.inputs:
            stage.inputs.append(ref)

    context = {"root": root, "output_dirs": output_paths, "variants_of": variants_of, "self": stage}
    if overrides is not None:
        stage.recipe_overrides = _resolve(overrides, context)
    launched = processes_override if processes_override is not None else num_processes
    if body["type"] in ACCELERATE_TYPES:
        stage.processes = launched if launched is not None else accelerate_processes(root, accelerate_config)
    stage.command = _render_command(stage, stage_type, body, accelerate_config, launched, launch_args, context)
    stage.hash_parts = {"recipe_overrides": overrides, "accelerate_config": accelerate_config,
                        "num_processes": num_processes,
                        "launch_args": [str(a) for a in launch_args], "command": command_text}
    return stage


def _fix_global_batch(stage: PlannedStage, root: Path) -> None:
    """Lay the recipe's global batch out on the stage's processes (flags appended to its command); GRPO's
    process count enters the hash when it differs from the recipe's, since each rank samples its own stream."""
    reference = stage.hash_parts["num_processes"] or 1
    batch = plan_batch(stage, root, stage.processes or 1, reference)
    if batch is None:
        stage.batch_line = "global batch: set at run time (the recipe is written by an input stage)"
        return
    stage.batch_line = batch.line
    for key, value in batch.script_flags.items():
        stage.command += [f"--{key}", str(value)]
    if stage.type == "grpo" and batch.processes != reference:
        stage.hash_parts["world_size"] = batch.processes


def _collect_refs(value: Any, where: str, refs: list[str], output_dirs, variants_of, in_shell: bool = False) -> None:
    """Stage names referenced by ``${...}`` in ``value`` (appended to ``refs``); unknown names are errors."""
    if isinstance(value, dict):
        for key, item in value.items():
            _collect_refs(item, f"{where}.{key}", refs, output_dirs, variants_of)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _collect_refs(item, f"{where}[{i}]", refs, output_dirs, variants_of)
    elif isinstance(value, str):
        for match in REF_RE.finditer(value):
            target = match.group(1).strip()
            if target in RESERVED_REFS:
                continue
            if target in output_dirs:
                refs.append(target)
            elif target in variants_of:
                if match.group(0) != value.strip() and not in_shell:  # a shell line gets the quoted folders
                    raise ConfigError(
                        f"{where}: ${{{target}}} is a matrix stage with variants {', '.join(variants_of[target])}; "
                        f"alone it stands for the list of their folders, so use it as the whole value or name one "
                        f"variant (${{{variants_of[target][0]}}})"
                    )
                refs.extend(variants_of[target])
            else:
                known = ", ".join(list(output_dirs) + [b for b in variants_of if b not in output_dirs])
                raise ConfigError(
                    f"{where}: ${{{target}}} names no stage; the stages are {known} "
                    f"(and ${{output}}, ${{run_dir}})"
                )


def _resolve(value: Any, context: dict) -> Any:
    """Replace ${refs} with folder paths; a whole-value matrix ref becomes a list of folders."""
    root = context["root"]
    if isinstance(value, dict):
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            resolved = _resolve(item, context)
            out.extend(resolved if isinstance(resolved, list) and isinstance(item, str) else [resolved])
        return out
    if not isinstance(value, str):
        return value
    whole = REF_RE.fullmatch(value.strip())
    target = whole.group(1).strip() if whole else None
    if target in context["variants_of"] and target not in context["output_dirs"]:
        return [_display_path(context["output_dirs"][v], root) for v in context["variants_of"][target]]

    def one(match: re.Match) -> str:
        target = match.group(1).strip()
        if target == "output":
            return _display_path(context["self"].output_path, root)
        if target == "run_dir":
            return _display_path(context["self"].output_dir.parent, root)
        return _display_path(context["output_dirs"][target], root)

    return REF_RE.sub(one, value)


def _flag_words(key: str, value: Any, style: str) -> list[str]:
    """One arg → command words. TRL flags keep snake_case; our CLIs use kebab-case."""
    if value is None:
        return []
    flag = "--" + (key if style == "trl" else key.replace("_", "-"))
    if isinstance(value, bool):
        if style == "trl":
            return [flag, "true" if value else "false"]
        return [flag] if value else ["--no-" + key.replace("_", "-")]  # our CLIs: --plots / --no-plots
    if isinstance(value, dict):
        return [flag, json.dumps(value, sort_keys=True)]
    if isinstance(value, list):
        if style == "trl":
            return [flag, *[_scalar(v) for v in value]]
        return [flag, ",".join(_scalar(v) for v in value)]
    return [flag, _scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _report_labels(evals: Any, context: dict) -> list[str]:
    """Default report labels: variant names for ${eval} fan-outs, stage names for single refs."""
    labels: list[str] = []
    items = evals if isinstance(evals, list) else [evals]
    for item in items:
        whole = REF_RE.fullmatch(str(item).strip())
        target = whole.group(1).strip() if whole else None
        if target in context["variants_of"] and target not in context["output_dirs"]:
            labels.extend(v.split(".", 1)[1] for v in context["variants_of"][target])
        elif target in context["output_dirs"]:
            labels.append(target.split(".", 1)[1] if "." in target else target)
        else:
            labels.append(Path(str(item)).name)
    return labels


def _render_command(stage, stage_type, body, accelerate_config, num_processes, launch_args, context) -> list[str]:
    root = context["root"]
    out = _display_path(stage.output_path, root)
    if body["type"] == "shell":
        def quoted(match: re.Match) -> str:
            resolved = _resolve("${" + match.group(1) + "}", context)
            return " ".join(shlex.quote(p) for p in (resolved if isinstance(resolved, list) else [resolved]))

        command = REF_RE.sub(quoted, body["command"].strip())
        return ["sh", "-c", command]
    args = dict(stage.args)
    if body["type"] == "report" and "labels" not in args:
        args["labels"] = _report_labels(args["evals"], context)
    resolved = _resolve(args, context)
    words: list[str] = []
    if stage_type.program == "accelerate":
        words = ["accelerate", "launch"]
        if accelerate_config is not None:
            words += ["--config_file", str(accelerate_config)]
        if num_processes is not None:
            if num_processes > 1 and _single_process_config(root, accelerate_config):
                words.append("--multi_gpu")  # a MULTI_CPU/NO config silently starts one process otherwise
            words += ["--num_processes", str(num_processes)]
        words += [str(a) for a in launch_args]
        words += ["-m", *stage_type.base]
    else:
        words = [stage_type.program, *stage_type.base]
    recipe_word = _resolve(stage.recipe, context) if stage.recipe else None
    if body.get("recipe_overrides") is not None:
        recipe_word = _display_path(stage.merged_recipe_path, root)
    if stage_type.recipe == "positional":
        words.append(recipe_word)
    elif stage_type.recipe == "config":
        words += ["--config", recipe_word]
    for key in stage_type.positional:
        value = resolved.pop(key)
        words += [_scalar(v) for v in value] if isinstance(value, list) else [_scalar(value)]
    if stage_type.output_flag:
        words += [stage_type.output_flag, out, *stage_type.fixed_flags]
    for key, value in resolved.items():
        words += _flag_words(key, value, stage_type.flag_style)
    return words


def _single_process_config(root: Path, accelerate_config: str | None) -> bool:
    """True when the accelerate config would launch one process (NO / MULTI_CPU / none given)."""
    if accelerate_config is None:
        return True
    try:
        config = read_yaml(root / accelerate_config, "accelerate config") or {}
    except (OSError, ConfigError):
        return True
    if not isinstance(config, dict):
        return True
    kind = config.get("distributed_type", "NO")
    kind = "NO" if kind is False else str(kind).upper()  # YAML 1.1 reads an unquoted NO as false
    return kind in ("NO", "MULTI_CPU")  # use_cpu: true is fine: --multi_gpu then runs CPU ranks over gloo


def write_merged_recipe(stage: PlannedStage, root: Path) -> Path:
    """Write ``<stage>/pipeline_recipe.yaml`` = the stage recipe with its ``recipe_overrides`` (at run time, so a
    recipe written by an input stage can be overridden too)."""
    import yaml

    source = root / stage.recipe
    base = load_yaml_mapping(source, f"{stage.where}.recipe (to apply recipe_overrides)")
    merged = merge_recipe(base, stage.recipe_overrides or {})
    header = (f"# Written by `interplay-hf pipeline`: {stage.recipe} with the recipe_overrides of stage "
              f"{stage.name!r}.\n")
    stage.merged_recipe_path.parent.mkdir(parents=True, exist_ok=True)
    stage.merged_recipe_path.write_text(header + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True),
                                        encoding="utf-8")
    return stage.merged_recipe_path


def _topological_order(stages: dict[str, PlannedStage]) -> list[str]:
    """Kahn's algorithm; among ready stages the one declared first runs first. A cycle is a ConfigError."""
    position = {name: i for i, name in enumerate(stages)}
    pending = {name: set(stage.inputs) for name, stage in stages.items()}
    order: list[str] = []
    while pending:
        ready = sorted((n for n, deps in pending.items() if not deps), key=position.__getitem__)
        if not ready:
            raise ConfigError(f"stages: the inputs form a cycle: {' -> '.join(_find_cycle(pending))}; "
                              "a stage cannot (indirectly) need itself")
        name = ready[0]
        order.append(name)
        del pending[name]
        for deps in pending.values():
            deps.discard(name)
    return order


def _find_cycle(pending: dict[str, set[str]]) -> list[str]:
    start = next(iter(pending))
    path, seen = [start], {start: 0}
    node = start
    while True:
        node = sorted(d for d in pending[node] if d in pending)[0]
        if node in seen:
            return path[seen[node]:] + [node]
        seen[node] = len(path)
        path.append(node)


def _hash_stage(stage: PlannedStage, stages: dict[str, PlannedStage], root: Path, body: dict, defaults: dict) -> None:
    """Hash everything that determines a stage's output: its config, recipe contents, inputs, package version.

    Paths of the run folder are *not* hashed (``${refs}`` stay unresolved), so moving the runs folder
    keeps finished stages finished; files named by args (data recipes, ...) are hashed by contents.
    """
    files: dict[str, str] = {}
    named = [stage.recipe, stage.hash_parts.get("accelerate_config"), *_file_like(stage.args)]
    if stage.hash_parts.get("command"):  # files a shell command names (e.g. `python make.py in.txt`)
        try:
            named += _file_like(shlex.split(stage.hash_parts["command"]))
        except ValueError:
            pass
    for name in named:
        if name and name not in files:
            path = root / str(name)
            if _is_file(path) and path.stat().st_size <= MAX_HASHED_FILE_BYTES:
                files[str(name)] = _sha256_file(path)
    parts = {
        "type": stage.type,
        "recipe": stage.recipe,
        "args": stage.args,
        "launch": stage.hash_parts,
        "files": files,
        "inputs": {name: stages[name].hash for name in stage.inputs},
        "version": __version__,
    }
    if stage.type in ("sft", "grpo"):  # a TRL upgrade can change what the same recipe trains
        parts["trl"] = major_minor("trl")
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    stage.hash = hashlib.sha256(blob).hexdigest()
    stage.hash_parts = parts


def _file_like(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _file_like(v)]
    if isinstance(value, list):
        return [s for v in value for s in _file_like(v)]
    if isinstance(value, str) and "${" not in value and len(value) < 500 and ("/" in value or "." in value):
        return [value]
    return []
