"""Process verifier: parse a completion into steps, match it against the gold graph, score it.

Pure Python (no torch). Default ``mode="compat"`` reproduces the official scorer (docs/verifier.md)
verdict for verdict — all 666 verdicts of ``tests/fixtures/official_scored.jsonl``.
``mode="strict_tokens"`` is a documented cleaner variant: dependencies come from whole-word letters
only, and the last ``<answer>`` is located case-insensitively in the original text.

Deliberate deviations from the official code (absurd inputs only; none occurs in the testdata):
- the evaluation answer check parses numbers exactly and treats one with more than 1,000 significant
  digits as a string, instead of turning it into ``float("inf")`` and counting it correct;
- parsing is linear-time (the official ``DEFINE_RE`` backtracks for minutes) and input beyond
  ``max_chars`` (default 100,000 characters) is dropped first;
- arithmetic is evaluated by :func:`evaluate_arithmetic`, not ``eval``: results beyond 20,000-bit
  integers, expressions over 10,000 characters, or deeper than CPython can compile give ``None``
  (then the last number is used, as when ``eval`` fails);
- a blank completion is flagged ``format_error`` and never process-verified (the official offline
  scorer skips it); its error lists are still filled (all gold steps missing).

>>> from interplay_hf.verify import verify
>>> r = verify(" Define a as B; so B = 2. </solution> <answer> 2", gold_solution="Define a as B; so B = 2. Answer: 2.")
>>> r.outcome, r.process_score, r.process_verified
(True, 1.0, True)
"""

from interplay_hf.verify.answers import (
    extract_answer,
    extract_graph_answer,
    gold_answer_from_solution,
    outcome_eval,
    outcome_rl,
    parse_number,
)
from interplay_hf.verify.arith import evaluate_arithmetic
from interplay_hf.verify.core import (
    ERROR_TYPES,
    GoldReference,
    VerificationResult,
    clear_gold_cache,
    completion_text,
    resolve_gold,
    verify,
)
from interplay_hf.verify.graph import GraphComparison, GraphNode, SolutionGraph, compare_graphs
from interplay_hf.verify.parser import DEFAULT_MAX_CHARS, MODES, ParsedSolution, Step, find_defines, parse_solution
from interplay_hf.verify.steps import STEP_MARKS, GoldStep, StepReport, StepVerdict, step_verdicts

__all__ = [
    "DEFAULT_MAX_CHARS",
    "ERROR_TYPES",
    "STEP_MARKS",
    "MODES",
    "GoldReference",
    "GoldStep",
    "GraphComparison",
    "GraphNode",
    "ParsedSolution",
    "SolutionGraph",
    "Step",
    "StepReport",
    "StepVerdict",
    "VerificationResult",
    "clear_gold_cache",
    "compare_graphs",
    "completion_text",
    "evaluate_arithmetic",
    "extract_answer",
    "extract_graph_answer",
    "find_defines",
    "gold_answer_from_solution",
    "outcome_eval",
    "outcome_rl",
    "parse_number",
    "parse_solution",
    "resolve_gold",
    "step_verdicts",
    "verify",
]
