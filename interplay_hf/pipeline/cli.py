"""`interplay-hf pipeline` and `interplay-hf quickstart`: run a multi-stage recipe, resumably."""

from __future__ import annotations

import argparse
from pathlib import Path

from interplay_hf.errors import ConfigError

QUICKSTART_RECIPE = Path("recipes") / "quickstart" / "pipeline.yaml"


def _split(text: str | None, flag: str = "--only") -> list[str] | None:
    """Comma-separated stage names; an empty list is an error (it would otherwise mean "every stage")."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError(f"{flag} {text!r}: names no stage; give stage names (see --dry-run) or drop {flag}")
    return names


def quickstart_recipe() -> Path:
    """recipes/quickstart/pipeline.yaml of this checkout (beside the package), else of the current folder."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / QUICKSTART_RECIPE).is_file():
            return base / QUICKSTART_RECIPE
    raise ConfigError(
        f"{QUICKSTART_RECIPE} not found beside the package or in {Path.cwd()}; run from a source checkout "
        "of interplay-hf (the recipes are not part of the wheel)"
    )


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default="runs",
                        help="folder holding run folders; this run writes to <runs-dir>/<name>/ (default: runs)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate the recipe and print the plan (order, skip/run, budgets, commands); run nothing")
    parser.add_argument("--force", action="store_true",
                        help="re-run the selected stages even if finished (their old output moves to <run>/.stale/)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="run a multi-stage pipeline recipe (data → tokenizer → train → RL → eval → report), resumably",
        description="Run the stages of a pipeline YAML in dependency order, each as a subprocess "
        "(training and evaluation through `accelerate launch`). Finished stages whose config hash is unchanged are "
        "skipped, so re-running the same command after a crash resumes. See recipes/quickstart/README.md.",
    )
    parser.add_argument("recipe", help="pipeline YAML, e.g. recipes/paper/extrapolation/pipeline.yaml")
    _add_run_flags(parser)
    parser.add_argument("--only", default=None,
                        help="comma-separated stages to run (a matrix name such as `rl` means all its variants); "
                        "their inputs must be finished")
    parser.add_argument("--from", dest="from_stage", default=None,
                        help="run this stage and every stage after it in plan order; earlier ones must be finished")
    parser.add_argument("--placement", default=None, metavar="NAME",
                        help="run the sft/grpo stages elsewhere without changing their hashes: `gpu` = "
                        "accelerate_configs/ddp.yaml, bf16, gradient accumulation keeping the global batch "
                        "(e.g. pre-train on a GPU, then run the rest on a CPU: finished stages are skipped)")
    parser.add_argument("--num-processes", type=int, default=None,
                        help="processes (GPUs or CPU ranks) for the training and evaluation stages (with --placement: "
                        "for the placed stages, default 1); training stages keep their recipe's global batch, and a "
                        "count that does not divide it is refused")
    parser.add_argument("--smoke", action="store_true",
                        help="run every stage at toy scale on the CPU (a few hundred problems, the ~0.3M preset, a few "
                        "steps, a small eval) into <runs-dir>/<name>-smoke/: checks the wiring of a GPU-scale recipe")
    parser.set_defaults(func=_run_pipeline)

    if "quickstart" in getattr(subparsers, "choices", {}):
        return  # another module registered it first; keep one definition
    quick = subparsers.add_parser(
        "quickstart",
        help="the whole study in minutes on a CPU: data, tokenizer, pre-train, GRPO, eval base vs RL, report",
        description="Runs recipes/quickstart/pipeline.yaml: builds a small dataset and tokenizer, pre-trains a "
        "tiny Qwen2, runs a short GRPO stage with the mixed reward, evaluates base and RL models (pass@k with the "
        "process verifier) and writes a markdown report with a plot. About 10 minutes on 2 CPU cores.",
    )
    _add_run_flags(quick)
    quick.set_defaults(func=_run_quickstart)


def _run_pipeline(args: argparse.Namespace) -> int:
    from interplay_hf.pipeline.run import run_pipeline

    if args.from_stage is not None and not args.from_stage.strip():
        raise ConfigError("--from '': names no stage; give the stage to start from (see --dry-run) or drop --from")
    return run_pipeline(args.recipe, runs_dir=args.runs_dir, only=_split(args.only), from_stage=args.from_stage,
                        force=args.force, dry_run=args.dry_run, placement=args.placement,
                        num_processes=args.num_processes, smoke=args.smoke)


def _run_quickstart(args: argparse.Namespace) -> int:
    from interplay_hf.pipeline.run import run_pipeline

    return run_pipeline(quickstart_recipe(), runs_dir=args.runs_dir, force=args.force, dry_run=args.dry_run)
