"""Pipeline recipe → a validated, ordered, hashed plan of stage commands (nothing runs here).

A pipeline YAML names a run and lists its stages; each stage is *one command* (a data build, an
`accelerate launch` of a training or evaluation script, a report ...) that writes into its own folder
``<runs dir>/<name>/<stage>/``. Stages are wired by reference: ``${pretrain}`` in a stage's ``args``
is the pre-training stage's output folder, and makes that stage an input. This module parses and
checks the YAML (every mistake is a :class:`ConfigError` naming the field, raised before anything
runs), expands ``matrix:`` fan-outs, applies the compute ``budget:`` (:mod:`~interplay_hf.pipeline.budget`),
orders the stages topologically and gives each one its command (:mod:`~interplay_hf.pipeline.commands`) and a
hash of everything that determines its output (:mod:`~interplay_hf.pipeline.hashing`).
:mod:`interplay_hf.pipeline.run` decides which stages to skip and runs the rest.

The keys are those of :mod:`interplay_hf.pipeline.schema` (and recipes/quickstart/README.md); unknown keys are
rejected with the list of known ones.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.batch import TRAIN_TYPES, accelerate_processes, check_process_count, plan_batch
from interplay_hf.pipeline.budget import check_budget
from interplay_hf.pipeline.commands import render_command, resolve_refs
from interplay_hf.pipeline.hashing import hash_stage, is_file
from interplay_hf.pipeline.schema import (
    ACCELERATE_TYPES,
    DEFAULTS_KEYS,
    NAME_RE,
    REF_RE,
    RESERVED_REFS,
    STAGE_KEYS,
    STAGE_TYPES,
    TOP_LEVEL_KEYS,
    VARIANT_KEYS,
    VARIANT_RE,
    Plan,
    PlannedStage,
    check_keys,
)
from interplay_hf.pipeline.smoke import budgeted_stages, smoke_pipeline, smoke_stage
from interplay_hf.yaml_io import load_yaml_mapping


# ---------------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------------
def _find_root(path: Path) -> Path:
    here = path.parent.resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return path.parent.resolve()


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
    check_keys(data, TOP_LEVEL_KEYS, "pipeline")
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

    defaults = check_keys(data.get("defaults") or {}, DEFAULTS_KEYS, "defaults")
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
        check_keys(body, STAGE_KEYS, where)
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
            check_keys(overrides or {}, VARIANT_KEYS, vwhere)
            bodies[f"{base}.{variant}"] = (base, variant, _merge_variant(shared, overrides or {}))
            variants_of[base].append(f"{base}.{variant}")

    output_dirs = {stage_name: run_dir / stage_name for stage_name in bodies}
    # ${name} → the folder the stage's command writes (see StageType.output_subdir).
    output_paths = {n: d / (STAGE_TYPES[bodies[n][2]["type"]].output_subdir or "") for n, d in output_dirs.items()}

    # 2. Per-stage checks, budget, references → inputs.
    budget = check_budget(data.get("budget"), bodies, variants_of)
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
        hash_stage(stage, stages, root)
    return Plan(name, description, path, root, run_dir, ordered, budget)


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
        if "${" not in recipe and not is_file(root / recipe):  # ${stage}/file: written by an input stage
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
            per = f" x {entry['per_sample']:g}" if entry.get("per_sample", 1) != 1 else ""
            budget_note += f"{per} -> {entry['arg']}={entry['value']}"

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
        if accelerate_config is not None and not is_file(root / str(accelerate_config)):
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
        stage.recipe_overrides = resolve_refs(overrides, context)
    launched = processes_override if processes_override is not None else num_processes
    if body["type"] in ACCELERATE_TYPES:
        stage.processes = launched if launched is not None else accelerate_processes(root, accelerate_config)
    stage.command = render_command(stage, stage_type, body, accelerate_config, launched, launch_args, context)
    stage.hash_parts = {"recipe_overrides": overrides, "accelerate_config": accelerate_config,
                        "num_processes": num_processes,
                        "launch_args": [str(a) for a in launch_args], "command": command_text}
    return stage


def _fix_global_batch(stage: PlannedStage, root: Path) -> None:
    """Lay the recipe's global batch out on the stage's processes (flags appended to its launch); GRPO's
    process count enters the hash when it differs from the recipe's, since each rank samples its own stream."""
    reference = stage.hash_parts["num_processes"] or 1
    batch = plan_batch(stage, root, stage.processes or 1, reference)
    if batch is None:
        stage.batch_line = "global batch: set at run time (the recipe is written by an input stage)"
        return
    stage.batch_line = batch.line
    flags = tuple(word for key, value in batch.script_flags.items() for word in (f"--{key}", str(value)))
    stage.launch = replace(stage.launch, module_args=(*stage.launch.module_args, *flags))
    stage.command = stage.launch.words()
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
