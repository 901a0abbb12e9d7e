"""`interplay-hf eval`, `report`, `inspect`, `findings`, `select-edge`, `select-problems` (torch is imported only
when run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.config import EvalConfig, add_dataclass_arguments, config_from_args
from interplay_hf.evaluation.edge import EdgeCriteria
from interplay_hf.evaluation.inspector.data import DEFAULT_MAX_SAMPLES
from interplay_hf.guard.outputs import check_apart, check_file, check_folder, output_lock
from interplay_hf.inputs import finite_float


def register(subparsers) -> None:
    """The evaluation sub-commands, one function each."""
    for add in (_add_eval, _add_report, _add_inspect, _add_findings, _add_select_problems, _add_select_edge):
        add(subparsers)


def _add_eval(subparsers) -> None:
    from interplay_hf.evaluation import runner

    p = subparsers.add_parser(
        "eval",
        help="sample n completions per problem, verify them, report pass@k per op/context/regime",
        description=runner.__doc__.split("\n")[0] + " Multi-process: accelerate launch -m interplay_hf.evaluation.run.",
    )
    runner.build_arg_parser(p)
    p.set_defaults(func=run_eval)


def _add_report(subparsers) -> None:
    p = subparsers.add_parser("report", help="compare eval runs (e.g. base vs RL) in one table and plots")
    p.add_argument("eval_dirs", nargs="+", help="eval output directories (each with results.json)")
    p.add_argument("--labels", default=None, help="comma-separated names, one per directory (default: directory names)")
    p.add_argument("--k", default=None, help="k values (≤ the smallest n); default: those the runs were evaluated at")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", required=True, help="where report.md/json and plots/ go")
    p.add_argument("--paired", action="store_true",
                   help="require paired differences: refuse runs evaluated on different problems (default: unpaired then)")
    p.add_argument("--bootstrap-resamples", "--bootstrap_resamples", dest="bootstrap_resamples", type=int, default=1000,
                   help="bootstrap resamples over problems for the intervals (default 1000)")
    p.add_argument("--confidence", type=finite_float, default=0.95, help="confidence level of the intervals (default 0.95)")
    p.set_defaults(func=run_report)


def _add_inspect(subparsers) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="one self-contained HTML page of evaluated samples, every step marked against the gold graph",
        description="Writes one HTML file (inline CSS and JavaScript, no network) from eval folders: the overview "
                    "of results.json, problems filterable by op, context, regime, status and error type, each "
                    "sample's steps marked against the gold graph with the reward each reward function gives, and "
                    "runs on the same problems side by side. docs/inspector.md.",
    )
    p.add_argument("eval_dirs", nargs="+", help="eval output directories (results.json, samples.jsonl, problems.jsonl)")
    p.add_argument("--output", required=True, help="the page to write, e.g. runs/x/inspect.html")
    p.add_argument("--labels", default=None, help="comma-separated names, one per directory (default: directory names)")
    cap = p.add_mutually_exclusive_group()
    cap.add_argument("--max-samples", "--max_samples", dest="max_samples", type=int, default=DEFAULT_MAX_SAMPLES,
                     help=f"samples per problem embedded in the page, the first ones (default {DEFAULT_MAX_SAMPLES}; "
                          "the greedy decode comes on top)")
    cap.add_argument("--all-samples", "--all_samples", dest="all_samples", action="store_true",
                     help="embed every sample of samples.jsonl (a larger page)")
    p.set_defaults(func=run_inspect)


def _add_findings(subparsers) -> None:
    p = subparsers.add_parser(
        "findings",
        help="check the paper's claims against eval results: paired change b - a with its 95%% interval per claim",
    )
    p.add_argument("spec", help="findings spec YAML (e.g. recipes/mini/findings.yaml)")
    p.add_argument("--output", default=None, help="write findings.json here (e.g. recipes/mini/results/findings.json)")
    p.add_argument("--root", default=None, help="folder the spec's result paths are relative to (default: current)")
    p.add_argument("--bootstrap-resamples", "--bootstrap_resamples", dest="bootstrap_resamples", type=int, default=1000,
                   help="bootstrap resamples over problems (default 1000)")
    p.set_defaults(func=run_findings)


def _add_select_problems(subparsers) -> None:
    p = subparsers.add_parser(
        "select-problems",
        help="pick RL prompts problem by problem from a base model's eval of a candidate pool (1..max verified hits)",
    )
    p.add_argument("--results", required=True, help="the base model's eval of the pool (eval dir or results.json)")
    p.add_argument("--dataset", required=True, help="the saved dataset the pool was evaluated from")
    p.add_argument("--split", required=True, help="the pool's split in --dataset (e.g. pool_op4)")
    p.add_argument("--min-hits", type=int, default=1, help="fewest process-verified hits of n to select (default 1)")
    p.add_argument("--max-hits", type=int, required=True, help="most process-verified hits of n to select")
    p.add_argument("--seed", type=int, default=0, help="seed of the same-size unselected control draw (default 0)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", required=True,
                   help="a saved dataset with splits edge and control, plus selection.json")
    p.set_defaults(func=run_select_problems)


def _add_select_edge(subparsers) -> None:
    p = subparsers.add_parser(
        "select-edge",
        help="pick the ops where the base model's pass@1 is low but pass@k is clearly non-zero; write edge.json + RL data recipe",
    )
    p.add_argument("--results", default=None, help="reuse this eval results.json/dir instead of sampling the base model")
    p.add_argument("--model", default=None, help="base model (local dir or repo id) to evaluate")
    p.add_argument("--data", default=None, help="eval/selection set (data recipe YAML, saved dataset dir or .jsonl)")
    p.add_argument("--ops", default="8-20", help="candidate ops (default 8-20)")
    p.add_argument("--n", type=int, default=32, help="samples per problem (default 32)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", required=True, help="where edge.json etc. go")
    for f in EdgeCriteria.__dataclass_fields__.values():
        names = ["--" + f.name.replace("_", "-")] + (["--" + f.name] if "_" in f.name else [])
        typ = finite_float if isinstance(f.default, float) else type(f.default)
        p.add_argument(*names, dest=f.name, type=typ, default=f.default, help=f.metadata["help"] + f" (default {f.default})")
    p.add_argument("--rl-problems", type=int, default=10000, help="problems in the RL data recipe (default 10000)")
    p.add_argument("--rl-seed", type=int, default=1234, help="seed of the RL data recipe (default 1234)")
    p.add_argument("--rl-contexts", default=None, help="contexts of the RL set, e.g. 'zoo' (default: the evaluated ones)")
    add_dataclass_arguments(p, EvalConfig, skip=("model", "data", "output_dir", "ops", "n", "k"))
    p.set_defaults(func=run_select_edge)


def resolve_released_args(args: argparse.Namespace) -> argparse.Namespace:
    """``--released NAME`` turned into --model/--subfolder/--revision and the checkpoint's eval set, here at the
    entry point: the catalogue belongs to the Hub layer, above evaluation (docs/architecture.md)."""
    from interplay_hf.hub.released import resolve_released_eval

    keys = ("released", "model", "subfolder", "revision", "data", "ops", "contexts")
    resolved = resolve_released_eval({key: getattr(args, key, None) for key in keys})
    return argparse.Namespace(**{**vars(args), **resolved})


def run_eval(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation import runner

    return runner.run_from_args(resolve_released_args(args))


def eval_main(argv: list[str] | None = None) -> int:
    """``python -m interplay_hf.evaluation.run`` (what ``accelerate launch`` runs): ``interplay-hf eval`` in each rank."""
    from interplay_hf.evaluation import runner
    from interplay_hf.guard.policy import pop_debug_flag, run_guarded

    argv, debug = pop_debug_flag(list(sys.argv[1:] if argv is None else argv))
    return run_guarded("interplay-hf eval", lambda: run_eval(runner.build_arg_parser().parse_args(argv)), debug=debug)


def run_report(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation.compare import compare_runs
    from interplay_hf.evaluation.passk import parse_int_list
    from interplay_hf.evaluation.stats import BootstrapSpec

    check_folder(args.output_dir)
    check_apart(args.output_dir, [("eval dir", d) for d in args.eval_dirs])
    labels = [x for x in args.labels.split(",")] if args.labels else None
    spec = BootstrapSpec(resamples=args.bootstrap_resamples, confidence=args.confidence)
    with output_lock(args.output_dir):
        report = compare_runs(args.eval_dirs, labels, args.output_dir, parse_int_list(args.k, "--k"), spec,
                              paired=args.paired)
    print("\n".join(report["summary_lines"]))
    print(f"compared {len(report['runs'])} runs -> {Path(args.output_dir) / 'report.md'}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation.inspector import write_inspector

    check_file(args.output)  # the page may be an eval's own inspect.html, never a file the page is made from
    check_apart(args.output, [("eval dir", d) for d in args.eval_dirs], "--output", own_names=("inspect.html",))
    labels = args.labels.split(",") if args.labels else None
    page = write_inspector(args.eval_dirs, args.output, labels, None if args.all_samples else args.max_samples)
    size = page.stat().st_size
    size_text = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    print(f"inspected {len(args.eval_dirs)} run(s) -> {page} ({size_text}; open it in a browser)")
    return 0


def run_findings(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation.findings import findings_markdown
    from interplay_hf.evaluation.findings import run_findings as compute
    from interplay_hf.evaluation.stats import BootstrapSpec

    result = compute(args.spec, args.output, args.root, BootstrapSpec(resamples=args.bootstrap_resamples),
                     warn=lambda message: print(f"warning: {message}", file=sys.stderr, flush=True))
    print(findings_markdown(result))
    if args.output:
        print(f"-> {args.output}")
    return 0


def run_select_problems(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation.edge_problems import write_selection

    check_folder(args.output_dir)
    check_apart(args.output_dir, [("--results", args.results), ("--dataset", args.dataset)])
    with output_lock(args.output_dir):
        sel = write_selection(args.results, args.dataset, args.split, args.min_hits, args.max_hits, args.seed,
                              args.output_dir)
    print(f"selected {len(sel['edge'])} of {sel['pool']} problems with {sel['min_hits']}-{sel['max_hits']} verified "
          f"hits of {sel['n']} ({sel['never_solved']} never solved, {sel['always_solved']} always); "
          f"control: {len(sel['control'])} drawn from the whole pool -> {args.output_dir}")
    return 0


def run_select_edge(args: argparse.Namespace) -> int:
    from interplay_hf.evaluation.edge import select_edge_command

    check_folder(args.output_dir)
    criteria = EdgeCriteria(**{name: getattr(args, name) for name in EdgeCriteria.__dataclass_fields__})
    args = resolve_released_args(args)
    check_apart(args.output_dir, [(f"--{key}", getattr(args, key, None)) for key in ("results", "model", "data",
                                                                                      "tokenizer")])
    if args.results is None:
        if not args.model or not args.data:
            raise ConfigError("select-edge: give --model and --data to evaluate the base model, or --results <eval dir>")
        eval_cfg = config_from_args(
            EvalConfig, args, output_dir=str(Path(args.output_dir) / "base_eval"), k=sorted({1, criteria.k}),
        )
    else:
        eval_cfg = None
    with output_lock(args.output_dir):
        edge = select_edge_command(criteria, args.output_dir, eval_cfg=eval_cfg, results_path=args.results,
                                   ops=args.ops, rl_problems=args.rl_problems, rl_seed=args.rl_seed,
                                   rl_contexts=args.rl_contexts.split(",") if args.rl_contexts else None,
                                   log=lambda msg: print(f"[select-edge] {msg}", file=sys.stderr, flush=True))
    print(f"selected ops: {edge['selected_ops'] or 'none'} -> {Path(args.output_dir) / 'edge.json'}")
    return 0
