"""Run a pipeline plan: skip finished stages, resume crashed ones, stream and log the rest.

Each stage writes into ``<runs dir>/<name>/<stage>/``, and this module keeps three small files there:
``stage.json`` (written when the stage starts: its hash and the ids of the input outputs it reads),
``stage.log`` (everything the command printed, appended per attempt) and ``.done`` (written
atomically when the command exits 0: the hash, a fresh completion id, the inputs' completion ids).

A stage is skipped when its ``.done`` carries the plan's hash and its inputs' current completion ids,
so re-running a pipeline after a crash redoes nothing that finished. A stage that crashed keeps its
folder when its hash and inputs are unchanged: the training scripts auto-resume from the last
``checkpoint-N`` in their ``output_dir``. Output made under another config (or by an input that has
since been redone, or before ``--force``) is moved to ``<run>/.stale/`` first, so a checkpoint of the
wrong run is never resumed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.guard.launched import quiet_launcher, read_child_error
from interplay_hf.guard.outputs import hold_lock
from interplay_hf.guard.policy import ERROR_FILE_ENV, debug_requested
from interplay_hf.pipeline.commands import write_merged_recipe
from interplay_hf.pipeline.decide import (
    DONE_FILE,
    STALE_DIR,
    STARTED_FILE,
    Decision,
    completion_id,
    decide,
    decide_one,
    input_hashes,
    select_stages,
    write_marker,
)
from interplay_hf.pipeline.flag_check import check_stage_fields
from interplay_hf.pipeline.placement import placed_plan
from interplay_hf.pipeline.plan import build_plan
from interplay_hf.pipeline.schema import Plan, PlannedStage
from interplay_hf.redact import redact, redact_argv, redact_env, scrub

LOCK_FILE = ".lock"
CHILD_ERROR_FILE = ".error.json"
# Set for every stage unless the user's shell or the stage's `env` sets them: more torch threads than cores slow
# training down many times, and tokenizers' thread pool deadlocks after fork (docs/benchmarks.md).
DEFAULT_ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


class StageFailed(RuntimeError):
    """A stage's command exited non-zero; the message names the stage and its log."""

    def __init__(self, stage: PlannedStage, returncode: int, child_error: str | None = None):
        self.stage, self.returncode = stage, returncode
        super().__init__(
            f"stage {stage.name!r} ({stage.type}) failed with exit code {returncode}"
            + (f" ({child_error})" if child_error else "") + f"; its log is "
            f"{stage.log_path}. Fix the cause and re-run the same command: finished stages are skipped"
            + (" and training resumes from its last checkpoint." if stage.type in ("sft", "grpo") else ".")
        )


# ---------------------------------------------------------------------------------------------------
# Dry run
# ---------------------------------------------------------------------------------------------------
def command_text(stage: PlannedStage) -> str:
    """The command as a shell line: a shell stage's own line, else the words quoted for copy-paste."""
    if stage.type == "shell":
        return scrub(stage.command[2])
    return shlex.join(redact_argv(stage.command))


def format_plan(plan: Plan, decisions: list[Decision]) -> str:
    """The plan as text: stages in order with status, budget and hash, then the full commands."""
    lines = [f"Pipeline {plan.name!r} — {plan.path}"]
    if plan.description:
        lines.append("  " + " ".join(plan.description.split()))
    lines.append(f"  root (commands run here): {plan.root}")
    lines.append(f"  run folder: {plan.run_dir}")
    placed = sorted({s.placement for s in plan.stages if s.placement})
    if placed:
        lines.append(f"  placement of sft/grpo stages: {', '.join(placed)} (hashed only where it changes results: "
                     "a GRPO stage's process count)")
    if plan.budget:
        lines.append(f"  budget: {plan.budget['total_samples']} samples per split")
    lines.append("")
    width = max(5, *(len(s.name) for s in plan.stages))
    header = f"  {'#':>2}  {'stage':<{width}}  {'type':<11}  {'action':<7}  {'why':<30}  hash"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for i, d in enumerate(decisions, 1):
        s = d.stage
        lines.append(f"  {i:>2}  {s.name:<{width}}  {s.type:<11}  {d.action:<7}  {d.reason:<30}  {s.hash[:10]}")
    lines += ["", "Commands:"]
    for i, d in enumerate(decisions, 1):
        s = d.stage
        lines.append(f"  [{i}] {s.name}  ({d.action}: {d.reason})"
                     + (f"  inputs: {', '.join(s.inputs)}" if s.inputs else ""))
        if s.description:
            lines.append(f"      # {' '.join(s.description.split())}")
        if s.budget_note:
            lines.append(f"      # budget: {s.budget_note}")
        if s.batch_line:
            lines.append(f"      {s.batch_line}")
            lines.append(f"      # on {s.processes or 1} process{'es' if (s.processes or 1) > 1 else ''}")
        if s.recipe_overrides is not None:
            lines.append(f"      # recipe: {s.recipe} + recipe_overrides {json.dumps(s.recipe_overrides)}")
        if s.env:
            lines.append("      # env: " + " ".join(f"{k}={v}" for k, v in redact_env(s.env).items()))
        lines.append("      " + command_text(s))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------
def _program_prefix(program: str) -> list[str]:
    """Resolve a display program name to an executable: the one beside this Python first."""
    if program == "sh":
        return ["/bin/sh"]
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(program, path=search)
    if found:
        return [found]
    module = {"interplay-hf": "interplay_hf.cli", "accelerate": "accelerate.commands.accelerate_cli"}[program]
    return [sys.executable, "-m", module]


def stage_env(stage: PlannedStage) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in DEFAULT_ENV.items():
        if key not in env and key not in stage.env:
            env[key] = value
    # This environment's executables first: `python`, `accelerate`, `interplay-hf` in shell stages are ours.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(stage.env)
    env["PYTHONUNBUFFERED"] = "1"  # stream the stage's output as it happens
    env["OUTPUT_DIR"] = str(stage.output_dir)
    return env


def _stream(command: list[str], cwd: Path, env: dict[str, str], log_path: Path, echo: bool) -> int:
    """Run ``command``, copying its output (progress bars included) to the terminal and the log."""
    out = getattr(sys.stdout, "buffer", None) if echo else None
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            assert proc.stdout is not None
            while chunk := os.read(proc.stdout.fileno(), 65536):
                log.write(chunk)
                log.flush()
                if out is not None:
                    out.write(chunk)
                    out.flush()
                elif echo:
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                    sys.stdout.flush()
            return proc.wait()
        except BaseException:  # Ctrl-C or an error here: stop the whole stage process group, then re-raise
            _terminate(proc)
            raise


def _terminate(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue


def _move_aside(stage: PlannedStage, run_dir: Path, reason: str, say) -> None:
    if not stage.output_dir.exists() or not any(stage.output_dir.iterdir()):
        return
    target = run_dir / STALE_DIR / f"{stage.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    stage.output_dir.rename(target)
    say(f"   earlier output of {stage.name!r} ({reason}) moved to {target}")


def run_stage(plan: Plan, stage: PlannedStage, decision: Decision, echo: bool = True, say=print) -> float:
    """Run one stage; write ``.done`` on success, raise StageFailed otherwise. Returns wall seconds."""
    if decision.action != "resume":
        _move_aside(stage, plan.run_dir, decision.reason, say)
    stage.output_dir.mkdir(parents=True, exist_ok=True)
    inputs = {name: completion_id(plan.stage(name)) for name in stage.inputs}
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_marker(stage.output_dir / STARTED_FILE, {
        "stage": stage.name, "type": stage.type, "hash": stage.hash, "inputs": inputs,
        "input_hashes": input_hashes(stage, plan), "command": redact_argv(stage.command), "started_at": started_at,
        "config": redact(stage.hash_parts),  # what the hash covers, for `why did this re-run?`
        "placement": stage.placement,
    })
    if stage.recipe_overrides is not None:
        write_merged_recipe(stage, plan.root)
    with open(stage.log_path, "ab") as log:
        log.write(f"\n=== {started_at} {decision.reason}: {command_text(stage)}\n".encode())
    command = _program_prefix(stage.command[0]) + stage.command[1:]
    # A failing interplay-hf child leaves its one-line error here (not accelerate's traceback on screen).
    error_file = stage.output_dir / CHILD_ERROR_FILE
    error_file.unlink(missing_ok=True)
    env = stage_env(stage)
    if not debug_requested():
        env[ERROR_FILE_ENV] = str(error_file.resolve())
        command = quiet_launcher(command)
    start = time.monotonic()
    returncode = _stream(command, plan.root, env, stage.log_path, echo)
    wall = time.monotonic() - start
    child = read_child_error(error_file)
    error_file.unlink(missing_ok=True)
    if child is not None:  # in the log either way; on screen too when the stage went on (`cmd || true`)
        with open(stage.log_path, "ab") as log:
            log.write(f"{child[0]}\n".encode())
        if returncode == 0 and echo:
            say(f"   {child[0]}")
    if returncode != 0:
        raise StageFailed(stage, returncode, child[0] if child else None)
    write_marker(stage.output_dir / DONE_FILE, {
        "stage": stage.name, "hash": stage.hash, "completion": uuid.uuid4().hex, "inputs": inputs,
        "input_hashes": input_hashes(stage, plan),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "wall_s": round(wall, 1), "command": stage.command,
        "placement": stage.placement,
    })
    return wall


@dataclass
class StageResult:
    stage: PlannedStage
    action: str  # "ran", "resumed", "skipped", "off", "failed"
    wall_s: float = 0.0


def run_plan(plan: Plan, only: list[str] | None = None, from_stage: str | None = None, force: bool = False,
             echo: bool = True, say=print) -> list[StageResult]:
    """Run the selected stages in order; raise StageFailed at the first failure (later stages don't run)."""
    selected = select_stages(plan, only, from_stage)
    decide(plan, selected, force)  # plan-time check: every input a running stage needs will exist
    results: list[StageResult] = []
    todo = [s for s in plan.stages if s.name in selected]
    start = time.monotonic()
    for stage in plan.stages:
        decision = decide_one(stage, plan, selected, force, set())
        if not decision.runs:
            results.append(StageResult(stage, "skipped" if decision.action == "skip" else "off"))
            if decision.action == "skip":
                say(f"── [{todo.index(stage) + 1}/{len(todo)}] {stage.name}: done, skipped")
            continue
        say(f"── [{todo.index(stage) + 1}/{len(todo)}] {stage.name} ({stage.type}, {decision.reason}) "
            f"· {_elapsed(time.monotonic() - start)} elapsed · log: {stage.log_path}")
        say("   $ " + command_text(stage))
        try:
            wall = run_stage(plan, stage, decision, echo=echo, say=say)
        except StageFailed:
            results.append(StageResult(stage, "failed"))
            say(format_summary(plan, results))
            raise
        results.append(StageResult(stage, "resumed" if decision.action == "resume" else "ran", wall))
        say(f"   {stage.name} finished in {_elapsed(wall)}")
    return results


def _elapsed(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def format_summary(plan: Plan, results: list[StageResult]) -> str:
    width = max(5, *(len(r.stage.name) for r in results))
    lines = [f"\nPipeline {plan.name!r}: run folder {plan.run_dir}"]
    for r in results:
        time_text = _elapsed(r.wall_s) if r.action in ("ran", "resumed") else ""
        lines.append(f"  {r.stage.name:<{width}}  {r.action:<8} {time_text:>7}  {r.stage.output_dir}")
    return "\n".join(lines)


def report_headlines(plan: Plan) -> list[tuple[Path, str]]:
    """(report.md, its headline) for the plan's finished report stages: report.json's plain-language summary
    lines, then the runs side by side over all problems."""
    from interplay_hf.evaluation.compare import overall_table

    found = []
    for stage in plan.stages:
        path = stage.output_dir / "report.json"
        if stage.type == "report" and completion_id(stage) and path.is_file():
            report = json.loads(path.read_text(encoding="utf-8"))
            found.append((path.with_name("report.md"), "\n".join([*report["summary_lines"], "", overall_table(report)])))
    return found


def run_lock(plan: Plan) -> contextlib.AbstractContextManager[None]:
    """Hold ``<run>/.lock`` while running: two pipelines must not train the same stage folder at once (each stage's
    command also locks its own output folder, so a hand-run command cannot write into a running stage either)."""
    return hold_lock(plan.run_dir / LOCK_FILE, f"--runs-dir: {plan.run_dir} is in use by a running pipeline "
                                               "({holder}); wait for it to finish or pass another --runs-dir")


def run_pipeline(path: str | Path, runs_dir: str | Path = "runs", only: list[str] | None = None,
                 from_stage: str | None = None, force: bool = False, dry_run: bool = False,
                 echo: bool = True, say=print, check_fields: bool = True, placement: str | None = None,
                 num_processes: int | None = None, smoke: bool = False) -> int:
    """Plan (always validated first), then either print the plan or run it and print a summary.

    ``placement`` (e.g. ``"gpu"``) re-targets the training stages; see :mod:`interplay_hf.pipeline.placement`.
    """
    if placement is not None:
        if smoke:
            raise ConfigError("--smoke runs every stage on the CPU; drop --placement")
        plan = placed_plan(path, runs_dir, placement, num_processes)
    else:
        plan = build_plan(path, runs_dir, num_processes, smoke=smoke)
    if check_fields:
        check_stage_fields(plan)
    selected = select_stages(plan, only, from_stage)
    decisions = decide(plan, selected, force)
    if dry_run:
        say(format_plan(plan, decisions))
        return 0
    start = time.monotonic()
    try:
        with run_lock(plan):
            results = run_plan(plan, only, from_stage, force, echo=echo, say=say)
    except StageFailed as err:
        say(f"\ninterplay-hf pipeline: {err}")
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C 130, SIGTERM 143 (guard.policy.Interrupted carries the signal)
        say(f"\ninterplay-hf pipeline: interrupted; re-run the same command to resume ({plan.run_dir})")
        return 128 + getattr(err, "signum", signal.SIGINT)
    say(format_summary(plan, results))
    say(f"  total wall time {_elapsed(time.monotonic() - start)}")
    from interplay_hf.evaluation.inspector.page import PAGE_FILE

    pages = []
    for report, text in report_headlines(plan):
        say(f"\nReport: {report}")
        say(text)
        page = report.parent / PAGE_FILE
        if page.is_file() and page not in pages:
            pages.append(page)
    for page in pages:  # the last lines: where to look at the samples themselves
        say(f"\nInspect the samples step by step (open in a browser): {page.resolve().as_uri()}")
    return 0
