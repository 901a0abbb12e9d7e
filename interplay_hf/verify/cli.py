"""``interplay-hf verify``: score a JSONL file of completions against their gold solutions.

Each input row needs a completion (``completion``) and a gold: ``solution`` (preferred; the official
semantics) and/or ``gold_graph``, optionally ``answer``. Each output row is the input row plus
``outcome``, ``outcome_reward``, ``process_score``, ``process_verified``, the error lists, ``errors``,
``pred_answer``, the flags ``gold_without_steps`` (no gold step to check the process against: R_pv only
restates the outcome) and ``truncated`` (cut at ``--max-chars``), and the rewards ``mixed`` (α = ``--alpha``),
``mixed_ungated`` and ``strict``. A summary (rows, accuracies, counts per error type, counts of both flags)
goes to stderr; malformed rows are reported by line
number and skipped. The output file is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any, TextIO

from interplay_hf.errors import ConfigError
from interplay_hf.guard.outputs import check_apart, check_file
from interplay_hf.inputs import describe_missing, finite_float, is_readable_file, loads_strict
from interplay_hf.verify.parser import DEFAULT_MAX_CHARS

RESULT_FIELDS = (
    "outcome",
    "outcome_reward",
    "process_score",
    "process_verified",
    "missing",
    "extra",
    "value_mismatch",
    "dependency_mismatch",
    "answer_mismatch",
    "format_error",
    "errors",
    "pred_answer",
    "gold_without_steps",
    "truncated",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="score completions (JSONL) with the process verifier",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "--in", dest="input", metavar="FILE", required=True, help="input JSONL: completion + solution/gold_graph/answer"
    )
    parser.add_argument("--out", metavar="FILE", default=None, help="output JSONL (default: stdout)")
    parser.add_argument("--mode", default="compat", choices=["compat", "strict_tokens"], help="verifier mode")
    parser.add_argument("--alpha", type=finite_float, default=0.2, help="outcome weight of the mixed reward (default 0.2)")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help=f"truncate longer completions (default {DEFAULT_MAX_CHARS})",
    )
    parser.add_argument("--completion-key", default="completion", help="field holding the completion")
    parser.add_argument("--solution-key", default="solution", help="field holding the gold solution")
    parser.add_argument("--answer-key", default="answer", help="field holding the gold answer")
    parser.add_argument("--graph-key", default="gold_graph", help="field holding a serialised gold graph")
    parser.add_argument("--fail-on-malformed", action="store_true", help="exit 1 if any row was skipped")
    parser.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    if not 0.0 <= args.alpha <= 1.0:
        raise ConfigError(f"--alpha must be in [0, 1] (the outcome weight), got {args.alpha}.")
    if args.max_chars is not None and args.max_chars <= 0:
        raise ConfigError(f"--max-chars must be a positive integer, got {args.max_chars}.")
    if not is_readable_file(args.input):  # a pipe (`--in <(cmd)`, /dev/stdin) is read once, like a file
        raise ConfigError(f"--in {args.input}: {describe_missing(args.input)}; pass a JSONL file with one row per "
                          "completion.")
    check_file(args.out, "--out")  # a FIFO or /dev/stdout is written through; the input is never written over
    check_apart(args.out, [("--in", args.input)], "--out")


def _row_problem(row: Any, args: argparse.Namespace) -> str | None:
    """Why a row cannot be scored, or ``None`` when it can."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    completion = row.get(args.completion_key)
    if completion is None:
        return f"missing {args.completion_key!r}"
    if not isinstance(completion, (str, list)):
        return f"{args.completion_key!r} must be a string or a list of messages, got {type(completion).__name__}"
    solution, graph, answer = row.get(args.solution_key), row.get(args.graph_key), row.get(args.answer_key)
    if solution is not None and not isinstance(solution, str):
        return f"{args.solution_key!r} must be a string, got {type(solution).__name__}"
    if graph is not None and not isinstance(graph, (str, dict)):
        return f"{args.graph_key!r} must be a JSON string or object, got {type(graph).__name__}"
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
        return f"{args.answer_key!r} must be a string or number, got {type(answer).__name__}"
    has_solution = isinstance(solution, str) and solution.strip()
    if not has_solution and graph is None and answer is None:
        return f"no gold: give {args.solution_key!r}, {args.graph_key!r} or {args.answer_key!r}"
    if not has_solution and isinstance(graph, str):
        try:
            loads_strict(graph)
        except ValueError:
            return f"{args.graph_key!r} is not valid JSON"
    return None


def score_row(row: dict, args: argparse.Namespace) -> dict:
    from interplay_hf.verify import verify

    result = verify(
        row[args.completion_key],
        gold_solution=row.get(args.solution_key),
        gold_graph=row.get(args.graph_key),
        gold_answer=row.get(args.answer_key),
        mode=args.mode,
        max_chars=args.max_chars,
    )
    scored = result.to_dict()
    out = dict(row)
    for key in RESULT_FIELDS:
        out[key] = scored[key]
    out["mixed"] = result.mixed_reward(args.alpha, gated=True)
    out["mixed_ungated"] = result.mixed_reward(args.alpha, gated=False)
    out["strict"] = result.strict_reward()
    return out


def _score_stream(source: TextIO, sink: TextIO, args: argparse.Namespace) -> tuple[Counter, list[str]]:
    stats: Counter = Counter()
    skipped: list[str] = []
    for line_number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            row = loads_strict(line)
        except ValueError as err:
            skipped.append(f"line {line_number}: invalid JSON ({getattr(err, 'msg', err)})")
            continue
        problem = _row_problem(row, args)
        if problem is not None:
            skipped.append(f"line {line_number}: {problem}")
            continue
        try:
            out = score_row(row, args)
        except Exception as err:  # noqa: BLE001 - one bad row must not stop the run
            skipped.append(f"line {line_number}: could not score ({type(err).__name__}: {err})")
            continue
        sink.write(json.dumps(out, ensure_ascii=False, allow_nan=False) + "\n")
        stats["rows"] += 1
        stats["outcome"] += bool(out["outcome"])
        stats["outcome_reward"] += bool(out["outcome_reward"])
        stats["process_verified"] += bool(out["process_verified"])
        stats["strict"] += out["strict"] == 1.0
        stats["process_score_sum"] += out["process_score"]
        stats["mixed_sum"] += out["mixed"]
        stats["gold_without_steps"] += bool(out["gold_without_steps"])
        stats["truncated"] += bool(out["truncated"])
        for error in out["errors"]:
            stats[f"error:{error}"] += 1
    return stats, skipped


def _summary(stats: Counter, skipped: list[str]) -> str:
    from interplay_hf.verify import ERROR_TYPES

    n = stats["rows"]

    def rate(key: str) -> str:
        return f"{stats[key] / n:.4f}" if n else "n/a"

    lines = [
        f"verify: scored {n} rows, skipped {len(skipped)}",
        f"  outcome accuracy (eval, numeric):  {rate('outcome')}",
        f"  outcome accuracy (RL, string):     {rate('outcome_reward')}",
        f"  process-verified accuracy:         {rate('process_verified')}",
        f"  strict reward accuracy:            {rate('strict')}",
        f"  mean process score (R_pv):         {stats['process_score_sum'] / n:.4f}" if n else "",
        f"  mean mixed reward:                 {stats['mixed_sum'] / n:.4f}" if n else "",
        "  rows with error: " + ", ".join(f"{e}={stats['error:' + e]}" for e in ERROR_TYPES),
        f"  WARNING: {stats['gold_without_steps']} row(s) have a gold without steps (answer-only, or a wrong "
        f"--solution-key?): their process score only restates the outcome (flag gold_without_steps)"
        if stats["gold_without_steps"] else "",
        f"  WARNING: {stats['truncated']} completion(s) longer than --max-chars were cut before scoring "
        f"(flag truncated)" if stats["truncated"] else "",
    ]
    return "\n".join(line for line in lines if line)


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    with open(args.input, encoding="utf-8", errors="replace") as source:
        if args.out is None:
            stats, skipped = _score_stream(source, sys.stdout, args)
        else:
            from interplay_hf.atomic_io import write_atomic

            scored: list = []
            write_atomic(args.out, lambda sink: scored.extend(_score_stream(source, sink, args)))
            stats, skipped = scored
    for message in skipped:
        print(f"verify: skipped {message}", file=sys.stderr)
    print(_summary(stats, skipped), file=sys.stderr)
    return 1 if (skipped and args.fail_on_malformed) else 0
