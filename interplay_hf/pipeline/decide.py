"""Which stages of a plan run, resume or are skipped, from the markers a run leaves in each stage folder.

``stage.json`` is written when a stage starts (its hash, the completion ids of the inputs it reads) and ``.done``
atomically when its command exits 0 (the hash, a fresh completion id, the inputs' completion ids). A stage is
skipped when its ``.done`` carries the plan's hash and its inputs' current completion ids; a crashed one resumes
when its ``stage.json`` still matches; anything else runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from interplay_hf.atomic_io import write_text
from interplay_hf.errors import ConfigError
from interplay_hf.pipeline.schema import Plan, PlannedStage
from interplay_hf.redact import redact, redact_argv

DONE_FILE = ".done"
STARTED_FILE = "stage.json"
STALE_DIR = ".stale"


@dataclass
class Decision:
    stage: PlannedStage
    action: str  # "skip" | "run" | "resume" | "off"
    reason: str  # shown in the plan: "done", "new", "config changed", "--force", "not selected", ...

    @property
    def runs(self) -> bool:
        return self.action in ("run", "resume")


# ---------------------------------------------------------------------------------------------------
# Markers
# ---------------------------------------------------------------------------------------------------
def read_marker(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(path: Path, data: dict) -> None:
    """Write JSON atomically (temp file + rename) so a crash never leaves a half-written marker; a command is
    written through ``redact_argv`` and everything else through ``redact``: no secret reaches a marker."""
    data = {key: redact_argv(value) if key == "command" and isinstance(value, list) else redact(value)
            for key, value in data.items()}
    write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def completion_id(stage: PlannedStage) -> str | None:
    """Id of the stage's finished output under its *current* hash (None if not finished)."""
    done = read_marker(stage.output_dir / DONE_FILE)
    if done and done.get("hash") == stage.hash:
        return done.get("completion")
    return None


# ---------------------------------------------------------------------------------------------------
# Selection and decisions
# ---------------------------------------------------------------------------------------------------
def select_stages(plan: Plan, only: list[str] | None = None, from_stage: str | None = None) -> set[str]:
    """Names chosen by --only (stages or matrix base names) and --from (that stage and all after it)."""
    chosen = set(plan.names)
    explicit: set[str] = set()
    if from_stage:
        start = plan.expand_names([from_stage], "--from")
        first = min(plan.names.index(n) for n in start)
        chosen &= set(plan.names[first:])
    if only:
        explicit = set(plan.expand_names(only, "--only"))
        chosen &= explicit
    return {n for n in chosen if not plan.stage(n).manual or n in explicit}


def decide(plan: Plan, selected: set[str], force: bool = False, will_run: set[str] | None = None) -> list[Decision]:
    """What each stage would do now; raises ConfigError if a stage to run needs an unfinished input."""
    will_run = set(will_run or ())
    decisions = []
    for stage in plan.stages:
        decision = decide_one(stage, plan, selected, force, will_run)
        if decision.runs:
            will_run.add(stage.name)
            for name in stage.inputs:
                if name not in will_run and completion_id(plan.stage(name)) is None:
                    raise ConfigError(
                        f"stage {stage.name!r} needs {name!r}, which has not finished under its current config "
                        f"and is not selected; drop --only/--from or add {name!r} to --only"
                    )
        decisions.append(decision)
    return decisions


def decide_one(stage: PlannedStage, plan: Plan, selected: set[str], force: bool, will_run: set[str]) -> Decision:
    done = read_marker(stage.output_dir / DONE_FILE)
    finished = bool(done and done.get("hash") == stage.hash)
    if stage.name not in selected:
        if stage.manual:
            return Decision(stage, "off", f"manual (run with --only {stage.name})")
        return Decision(stage, "off", "not selected" + (", done" if finished else ", not done"))
    if force:
        return Decision(stage, "run", "--force")
    current_inputs = {name: completion_id(plan.stage(name)) for name in stage.inputs}
    inputs_rerun = [name for name in stage.inputs if name in will_run]
    if finished:
        if not inputs_rerun and done.get("inputs", {}) == current_inputs:
            return Decision(stage, "skip", "done")
        return Decision(stage, "run", "an input was redone" if not inputs_rerun else f"input {inputs_rerun[0]} runs")
    if done:
        return Decision(stage, "run", _why_changed(stage, plan, done))
    started = read_marker(stage.output_dir / STARTED_FILE)
    if started and started.get("hash") == stage.hash and not inputs_rerun and started.get("inputs") == current_inputs:
        return Decision(stage, "resume", "resumes unfinished run")
    if started:
        return Decision(stage, "run", _why_changed(stage, plan, started) if started.get("hash") != stage.hash
                        else "an input was redone")
    return Decision(stage, "run", "new")


def input_hashes(stage: PlannedStage, plan: Plan) -> dict[str, str]:
    return {name: plan.stage(name).hash for name in stage.inputs}


def _why_changed(stage: PlannedStage, plan: Plan, marker: dict) -> str:
    old = marker.get("input_hashes") or {}
    changed = [name for name, h in input_hashes(stage, plan).items() if old.get(name) not in (None, h)]
    return f"input {changed[0]} changed" if changed else "config changed"
