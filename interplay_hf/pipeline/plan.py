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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.batch import TRAIN_TYPES, accelerate_processes, check_process_count, plan_batch
from interplay_hf.pipeline.budget import check_budget
from interplay_hf.pipeline.commands import resolve_refs
from interplay_hf.pipeline.hashing import hash_stage
from interplay_hf.pipeline.schema import (
    ACCELERATE_TYPES,
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
from interplay_hf.pipeline.stages import AccelerateStage, Defaults, Stage, parse_stage
from interplay_hf.yaml_io import load_yaml_mapping

# Planning is a chain of small pure steps: read_pipeline -> expand_matrix -> (per stage) parse_stage ->
# apply_budget -> stage_inputs -> render_stage; then the stages are ordered and hashed (build_plan).


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline YAML's top level, checked (its stages still as written)."""

    path: Path
    name: str
    description: str
    root: Path
    defaults: Defaults
    budget: Any  # checked by budget.check_budget once the stage names are known
    stages: dict
    budgeted: frozenset[str]  # --smoke: stages whose length the (scaled-down) budget sets


@dataclass(frozen=True)
class ConcreteStage:
    """One stage to plan: a stage of the YAML, or one variant of a matrix stage with the variant merged in."""

    name: str  # "rl.edge" for variant "edge" of matrix stage "rl"
    base: str
    variant: str | None
    body: dict
    where: str  # the YAML path, for error messages


@dataclass(frozen=True)
class Wiring:
    """Where every stage writes, for references: the run folder's stage folders and matrix groups."""

    root: Path
    output_dirs: dict[str, Path]  # stage -> its folder
    output_paths: dict[str, Path]  # stage -> what ${stage} stands for (see StageType.output_subdir)
    variants_of: dict[str, list[str]]  # YAML stage name -> its concrete stages


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


def read_pipeline(path: Path, smoke: bool = False) -> PipelineSpec:
    """The top level of the pipeline YAML at ``path``, checked; ``smoke`` cuts it down first (smoke.py)."""
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
        budgeted = budgeted_stages(data)
    defaults = Defaults.parse(data.get("defaults"))
    stages = data.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError("stages: required; a mapping of stage name -> {type: ..., ...}")
    return PipelineSpec(path, data["name"], str(data.get("description") or "").strip(), root, defaults,
                        data.get("budget"), stages, frozenset(budgeted))


def _check_stage_head(base: Any, body: Any, where: str) -> None:
    """A YAML stage's name, keys and type (before its matrix is expanded)."""
    if not isinstance(base, str) or not NAME_RE.match(base) or base in RESERVED_REFS:
        raise ConfigError(f"{where}: stage names are letters, digits, '_' or '-' starting with a letter "
                          f"(not {', '.join(RESERVED_REFS)})")
    check_keys(body, STAGE_KEYS, where)
    if body.get("type") not in STAGE_TYPES:
        raise ConfigError(f"{where}.type: {body.get('type')!r} is not a stage type; "
                          f"choose one of {', '.join(STAGE_TYPES)}")


def expand_matrix(stages: dict) -> dict[str, ConcreteStage]:
    """The YAML's stages as concrete stages, in declaration order: a ``matrix:`` stage becomes one per variant."""
    out: dict[str, ConcreteStage] = {}
    for base, body in stages.items():
        where = f"stages.{base}"
        _check_stage_head(base, body, where)
        matrix = body.get("matrix")
        if matrix is None:
            out[base] = ConcreteStage(base, base, None, body, where)
            continue
        if not isinstance(matrix, dict) or not matrix:
            raise ConfigError(f"{where}.matrix: a non-empty mapping variant name -> stage keys")
        shared = {k: v for k, v in body.items() if k != "matrix"}
        for variant, overrides in matrix.items():
            vwhere = f"{where}.matrix.{variant}"
            if not isinstance(variant, str) or not VARIANT_RE.match(variant):
                raise ConfigError(f"{vwhere}: variant names are letters, digits, '_' or '-'")
            check_keys(overrides or {}, VARIANT_KEYS, vwhere)
            name = f"{base}.{variant}"
            out[name] = ConcreteStage(name, base, variant, _merge_variant(shared, overrides or {}), vwhere)
    return out


def wiring(concrete: dict[str, ConcreteStage], run_dir: Path, root: Path) -> Wiring:
    """Each concrete stage's folder under ``run_dir`` and the concrete stages of each YAML stage."""
    output_dirs = {name: run_dir / name for name in concrete}
    output_paths = {name: folder / (STAGE_TYPES[concrete[name].body["type"]].output_subdir or "")
                    for name, folder in output_dirs.items()}
    variants_of: dict[str, list[str]] = {}
    for stage in concrete.values():
        variants_of.setdefault(stage.base, []).append(stage.name)
    return Wiring(root, output_dirs, output_paths, variants_of)


def apply_budget(stage: Stage, name: str, budget: dict | None) -> tuple[dict[str, Any], int | None, str]:
    """(args with the budget's arg set, the stage's budget in samples, the note --dry-run shows)."""
    args = copy.deepcopy(stage.args)
    if not budget or name not in budget["stages"]:
        return args, None, ""
    entry = budget["stages"][name]
    note = f"{entry['samples']} samples ({entry['share']:g} of {budget['total_samples']}, split {entry['split']})"
    if "arg" in entry:
        if entry["arg"] in args:
            raise ConfigError(f"{stage.where}.args.{entry['arg']}: also set by budget.to_args; remove one of the two")
        args[entry["arg"]] = entry["value"]
        per = f" x {entry['per_sample']:g}" if entry.get("per_sample", 1) != 1 else ""
        note += f"{per} -> {entry['arg']}={entry['value']}"
    return args, entry["samples"], note


def stage_inputs(stage: Stage, name: str, args: dict[str, Any], wires: Wiring) -> list[str]:
    """The stages ``name`` needs, in first-mention order: its ``${refs}``, then ``after``."""
    refs: list[str] = []
    for where, value, in_shell in stage.reference_fields(args):
        _collect_refs(value, where, refs, wires.output_dirs, wires.variants_of, in_shell=in_shell)
    for item in stage.after:
        if item not in wires.output_dirs and item not in wires.variants_of:
            raise ConfigError(f"{stage.where}.after: no stage named {item!r}; the stages are "
                              f"{', '.join(wires.output_dirs)}")
        refs.extend(wires.variants_of.get(item, [item]) if item not in wires.output_dirs else [item])
    if name in refs:
        raise ConfigError(f"{stage.where}: the stage refers to itself; use ${{output}} for its own folder")
    return list(dict.fromkeys(refs))


def render_stage(planned: PlannedStage, stage: Stage, wires: Wiring, processes_override: int | None) -> PlannedStage:
    """``planned`` with its resolved overrides, process count, command and hash parts."""
    context = {"root": wires.root, "output_dirs": wires.output_paths, "variants_of": wires.variants_of,
               "self": planned}
    overrides = getattr(stage, "recipe_overrides", None)
    if overrides is not None:
        planned.recipe_overrides = resolve_refs(overrides, context)
    launched = processes_override if processes_override is not None else stage.launch.num_processes
    if isinstance(stage, AccelerateStage):
        planned.processes = (launched if launched is not None
                             else accelerate_processes(wires.root, stage.launch.accelerate_config))
    planned.command = stage.render(planned, {**context, "processes": launched})
    planned.hash_parts = stage.hash_parts()
    return planned


def plan_stage(concrete: ConcreteStage, stage: Stage, wires: Wiring, budget: dict | None,
               processes_override: int | None = None) -> PlannedStage:
    """One concrete stage, parsed, as a planned stage with its inputs, command and hash parts (hash: later)."""
    args, samples, note = apply_budget(stage, concrete.name, budget)
    stage.check_args(args)
    planned = PlannedStage(
        name=concrete.name, base=concrete.base, variant=concrete.variant, type=stage.type,
        description=stage.description, recipe=getattr(stage, "recipe", None), recipe_overrides=None, args=args,
        inputs=stage_inputs(stage, concrete.name, args, wires), output_dir=wires.output_dirs[concrete.name],
        env=stage.env, manual=stage.manual, budget_samples=samples, budget_note=note, where=concrete.where,
    )
    return render_stage(planned, stage, wires, processes_override)


def build_plan(path: str | Path, runs_dir: str | Path = "runs", num_processes: int | None = None,
               process_types: tuple[str, ...] = ACCELERATE_TYPES, smoke: bool = False) -> Plan:
    """Parse, validate and order a pipeline YAML; raise ConfigError before anything runs.

    ``num_processes`` runs the stages of ``process_types`` on that many processes; training stages keep
    their global batch (:mod:`interplay_hf.pipeline.batch`). ``smoke`` plans the toy-scale CPU version of
    every stage (:mod:`interplay_hf.pipeline.smoke`).
    """
    if num_processes is not None:
        check_process_count(num_processes)
    spec = read_pipeline(Path(path).resolve(), smoke)
    run_dir = Path(runs_dir).resolve() / spec.name
    concrete = expand_matrix(spec.stages)
    wires = wiring(concrete, run_dir, spec.root)
    budget = check_budget(spec.budget, concrete, wires.variants_of)
    stages: dict[str, PlannedStage] = {}
    for name, item in concrete.items():
        body = smoke_stage(item.body, spec.root, bool({name, item.base} & spec.budgeted)) if smoke else item.body
        stage = parse_stage(body, item.where, spec.defaults, spec.root)
        stages[name] = plan_stage(item, stage, wires, budget, num_processes if stage.type in process_types else None)
        if stage.type in TRAIN_TYPES:
            _fix_global_batch(stages[name], spec.root)
    ordered = [stages[name] for name in _topological_order(stages)]
    for stage in ordered:  # in order: a stage's hash includes its inputs' hashes
        hash_stage(stage, stages, spec.root)
    return Plan(spec.name, spec.description, spec.path, spec.root, run_dir, ordered, budget)


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
