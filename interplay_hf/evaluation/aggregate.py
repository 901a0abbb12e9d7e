"""Per-problem records → summary blocks (overall, per op, context, regime, context×op). Pure Python.

A block averages over its problems (every problem weighs the same). All numbers recompute from the
per-problem counts, so a report can ask for any k ≤ n after the fact (``summarize(records, ks)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.chance import chance_pass_at_k
from interplay_hf.evaluation.passk import first_k_pass, mean, pass_at_k, regime_of
from interplay_hf.evaluation.results_check import check_results
from interplay_hf.evaluation.results_schema import RESULTS_FILE, Block, ProblemRecord, Results, Summary
from interplay_hf.evaluation.scoring import ERROR_TYPES
from interplay_hf.evaluation.stats import BootstrapSpec, bootstrap_ci
from interplay_hf.inputs import loads_strict

# Metrics with one value per problem, so that they can be bootstrapped and paired: name -> value(record, k).
PER_PROBLEM_METRICS: dict[str, Callable[[dict, int], float]] = {
    "process_pass@k": lambda r, k: pass_at_k(r["n"], r["process_correct"], k),
    "outcome_pass@k": lambda r, k: pass_at_k(r["n"], r["outcome_correct"], k),
}
INTERVAL_METRICS = tuple(PER_PROBLEM_METRICS)  # the pass@k metrics that get intervals and paired changes


def metric_values(records: Sequence[dict], metric: str, k: int | None = None) -> list[float]:
    """One value per problem: ``process_pass@k`` / ``outcome_pass@k`` at ``k``, or ``error:<type>``, the share of
    the problem's samples showing that error type (its mean over problems is the share of samples)."""
    if metric.startswith("error:"):
        error = metric.split(":", 1)[1]
        if error not in ERROR_TYPES:
            raise ConfigError(f"metric {metric!r}: unknown error type; choose one of {', '.join(ERROR_TYPES)}")
        return [r["error_counts"].get(error, 0) / r["n"] for r in records]
    if metric not in PER_PROBLEM_METRICS:
        names = ", ".join([*PER_PROBLEM_METRICS, "error:<type>"])
        raise ConfigError(f"metric {metric!r}: unknown; choose one of {names}")
    if k is None or any(k > r["n"] for r in records) or k < 1:
        raise ConfigError(f"metric {metric!r}: k = {k} must lie in 1..n (the samples per problem)")
    fn = PER_PROBLEM_METRICS[metric]
    return [fn(r, k) for r in records]


def block(records: Sequence[ProblemRecord], ks: Sequence[int], intervals: BootstrapSpec | None = None) -> Block:
    """The summary BLOCK of results.json for ``records`` (docs/results-schema.md); with ``intervals``, every
    process/outcome pass@k also gets ``<metric>_ci``: k -> [low, high] over problems."""
    usable = [k for k in ks if all(k <= r["n"] for r in records)]

    def per_k(fn: Callable[[dict, int], float]) -> dict[str, float | None]:
        return {str(k): mean(fn(r, k) for r in records) for k in usable}

    def per_k_ci(metric: str) -> dict[str, list[float] | None]:
        return {str(k): bootstrap_ci(metric_values(records, metric, k), intervals) for k in usable}

    greedy_out = [r["greedy_outcome"] for r in records if r.get("greedy_outcome") is not None]
    greedy_proc = [r["greedy_process"] for r in records if r.get("greedy_process") is not None]
    has_chance = records and all(r.get("chance_p") is not None for r in records)
    out: Block = {
        "num_problems": len(records),
        "outcome_pass@k": per_k(PER_PROBLEM_METRICS["outcome_pass@k"]),
        "process_pass@k": per_k(PER_PROBLEM_METRICS["process_pass@k"]),
        "process_pass@k_first": per_k(lambda r, k: float(first_k_pass(r["first_process_rank"], k))),
        "chance_pass@k": per_k(lambda r, k: chance_pass_at_k(r["chance_p"], k)) if has_chance else {},
        "greedy_outcome_pass@1": mean(map(float, greedy_out)),
        "greedy_process_pass@1": mean(map(float, greedy_proc)),
        "process_accuracy": mean(r["mean_process_score"] for r in records),
        "error_counts": {e: sum(r["error_counts"].get(e, 0) for r in records) for e in ERROR_TYPES},
        "num_samples": sum(r["n"] for r in records),
        "truncated": sum(r.get("truncated", 0) for r in records),
    }
    if intervals is not None:
        for metric in INTERVAL_METRICS:
            out[f"{metric}_ci"] = per_k_ci(metric)
    return out


def _group(records: Iterable[dict], key: Callable[[dict], object]) -> dict:
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def summarize(records: Sequence[ProblemRecord], ks: Sequence[int], regimes: dict[str, list[int]],
              intervals: BootstrapSpec | None = None) -> Summary:
    """The ``summary`` of results.json; per-op keys are op numbers as strings, in numeric order."""
    by_op = _group(records, lambda r: r["op"])
    by_ctx = _group(records, lambda r: r["context"])
    by_ctx_op = _group(records, lambda r: (r["context"], r["op"]))
    by_regime = _group(records, lambda r: regime_of(r["op"], regimes))
    return {
        "overall": block(records, ks, intervals),
        "per_op": {str(op): block(by_op[op], ks, intervals) for op in sorted(by_op)},
        "per_context": {c: block(by_ctx[c], ks, intervals) for c in sorted(by_ctx)},
        "per_regime": {name: block(by_regime[name], ks, intervals) for name in regimes if name in by_regime},
        "per_context_op": {f"{c}/{op}": block(by_ctx_op[(c, op)], ks, intervals) for c, op in sorted(by_ctx_op)},
    }


def records_in(results: Results, regime: str | None = None, context: str | None = None) -> list[ProblemRecord]:
    """The per-problem records of a results.json restricted to a regime (by its op range) and/or a context."""
    records = results["problems"]
    if regime is not None and regime != "all":
        regimes = results.get("regimes") or {}
        if regime not in regimes:
            raise ConfigError(f"regime {regime!r}: not in the run's regimes ({', '.join(regimes) or 'none'})")
        records = [r for r in records if regime_of(r["op"], regimes) == regime]
    if context is not None:
        records = [r for r in records if r["context"] == context]
    return records


def load_results(path: str | Path, need_problems: bool = False) -> Results:
    """results.json of an eval directory (or the file itself), its counts checked (``results_check``)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no results.json here; pass an eval output directory (interplay-hf eval --output-dir)")
    try:
        results = loads_strict(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSON, NaN, depth or UTF-8: a torn or foreign file, named rather than a traceback
        raise ConfigError(f"{path}: not a valid results.json ({err}); re-run the evaluation that wrote it") from None
    if not isinstance(results, dict) or not isinstance(results.get("problems"), list):
        raise ConfigError(f"{path}: not an evaluation results.json (no 'problems' list)")
    missing = sorted(Results.__required_keys__ - set(results))
    if missing:
        raise ConfigError(f"{path}: a results.json of another version (missing {', '.join(missing)}); re-run the "
                          "evaluation that wrote it")
    check_results(path, results, need_problems)
    return results
