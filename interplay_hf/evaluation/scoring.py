"""Score one problem's completions with the verifier into the per-problem record of results.json.

The record keeps *counts*, not rates, so pass@k recomputes for any k ≤ n from results.json alone:
``outcome_correct`` (numeric answer check, docs/verifier.md §1), ``process_correct`` (process-verified),
``first_process_rank`` (0-based index of the first process-verified sample, for the official first-k
estimator), greedy verdicts, mean R_pv, and per error type the number of samples showing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# The verifier's error types, plus one evaluation diagnostic: ``unsupported_answer``, a final answer that
# differs from the value the completion's own last step computed. A model rewarded for right answers
# whatever its steps can learn to guess them: this counts it. ``shortcut`` is a sample
# with any of the three ways to reach an answer without the gold process (a missing step, a wrong dependency,
# an unsupported answer): the paper's process-reward claim is about their share.
SHORTCUT_ERRORS = ("missing", "dependency_mismatch", "unsupported_answer")
ERROR_TYPES = ("missing", "extra", "value_mismatch", "dependency_mismatch", "answer_mismatch", "format",
               "unsupported_answer", "shortcut")


@dataclass
class EvalProblem:
    """One eval problem with what generation and verification need."""

    index: int  # position in the (filtered) eval set: the merge order of results
    id: str
    op: int
    context: str
    prompt: Any  # text prompt (docs/data-format.md §5) or a list of chat messages
    solution: str | None
    answer: str
    gold_graph: Any = None
    extra: dict = field(default_factory=dict)


def error_flags(result: Any) -> dict[str, bool]:
    return {
        "missing": bool(result.missing),
        "extra": bool(result.extra),
        "value_mismatch": bool(result.value_mismatch),
        "dependency_mismatch": bool(result.dependency_mismatch),
        "answer_mismatch": bool(result.answer_mismatch),
        "format": bool(result.format_error),
    }


def unsupported_answer(completion: str) -> bool:
    """True when the completion states an answer that its last computed step does not support."""
    from interplay_hf.verify import parse_solution

    parsed = parse_solution(completion)
    if parsed.answer is None or not parsed.steps or parsed.steps[-1].value is None:
        return False
    last = parsed.steps[-1].value
    return abs(parsed.answer - last) > 1e-9 * max(1.0, abs(last))


def verify_completion(problem: EvalProblem, completion: str):
    from interplay_hf.verify import verify

    return verify(completion, gold_solution=problem.solution, gold_graph=problem.gold_graph, gold_answer=problem.answer)


def score_problem(
    problem: EvalProblem,
    completions: Sequence[str],
    greedy: str | None = None,
    token_counts: Sequence[int] | None = None,
    stopped: Sequence[bool] | None = None,
) -> tuple[dict, list[dict]]:
    """(problem record, sample rows) for one problem's completions (in sample order)."""
    errors = dict.fromkeys(ERROR_TYPES, 0)
    outcome_correct = process_correct = truncated = 0
    first_rank: int | None = None
    score_sum = 0.0
    rows = []
    for j, completion in enumerate(completions):
        result = verify_completion(problem, completion)
        outcome_correct += bool(result.outcome)
        process_correct += bool(result.process_verified)
        if result.process_verified and first_rank is None:
            first_rank = j
        score_sum += float(result.process_score)
        flags = {**error_flags(result), "unsupported_answer": unsupported_answer(completion)}
        flags["shortcut"] = any(flags[name] for name in SHORTCUT_ERRORS)
        for name, flag in flags.items():
            errors[name] += flag
        if stopped is not None and not stopped[j]:
            truncated += 1
        rows.append(
            {
                "index": problem.index,
                "id": problem.id,
                "op": problem.op,
                "context": problem.context,
                "sample": j,
                "completion": completion,
                "tokens": token_counts[j] if token_counts is not None else None,
                "verdict": result.to_dict(),
            }
        )
    record: dict[str, Any] = {
        "id": problem.id,
        "op": problem.op,
        "context": problem.context,
        "regime": None,  # filled by the caller from the configured regimes
        "n": len(completions),
        "outcome_correct": outcome_correct,
        "process_correct": process_correct,
        "first_process_rank": first_rank,
        "greedy_outcome": None,
        "greedy_process": None,
        "mean_process_score": score_sum / len(completions) if completions else 0.0,
        "error_counts": errors,
        "index": problem.index,
        "answer": problem.answer,
        "truncated": truncated,
    }
    if greedy is not None:
        result = verify_completion(problem, greedy)
        record["greedy_outcome"] = bool(result.outcome)
        record["greedy_process"] = bool(result.process_verified)
        rows.append(
            {
                "index": problem.index,
                "id": problem.id,
                "op": problem.op,
                "context": problem.context,
                "sample": "greedy",
                "completion": greedy,
                "tokens": None,
                "verdict": result.to_dict(),
            }
        )
    return record, rows
