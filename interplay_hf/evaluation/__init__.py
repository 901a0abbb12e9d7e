"""Evaluation: sample n completions per problem, verify each, report pass@k per op / context / regime.

Data flow (one module each): ``problems`` (eval set → EvalProblem) → ``sampling`` / ``vllm_backend``
(token ids, per-sample seeds) → ``scoring`` (verifier → per-problem counts) → ``aggregate`` (summary
blocks, pure) → ``report`` (results.md, plots, comparisons); ``runner`` wires them (and shards over
``accelerate`` processes; ``run`` is the launched entry point), ``edge`` selects the RL ops, ``cli`` registers ``eval``/``report``/``select-edge``.

>>> from interplay_hf.evaluation import EvalConfig, evaluate
>>> results = evaluate(EvalConfig(model="runs/x/base", data="eval.yaml", output_dir="runs/x/eval", n=8))  # doctest: +SKIP
>>> results["summary"]["per_regime"]["OOD-edge"]["process_pass@k"]["8"]  # doctest: +SKIP

Importing this package does not import torch.
"""

from interplay_hf.evaluation.aggregate import block, load_results, summarize
from interplay_hf.evaluation.chance import AnswerDistribution, chance_pass_at_k
from interplay_hf.evaluation.compare import compare_runs
from interplay_hf.evaluation.config import EvalConfig
from interplay_hf.evaluation.edge import EdgeCriteria, select_edge
from interplay_hf.evaluation.passk import DEFAULT_REGIMES, first_k_pass, pass_at_k
from interplay_hf.evaluation.runner import evaluate

__all__ = [
    "DEFAULT_REGIMES",
    "AnswerDistribution",
    "EdgeCriteria",
    "EvalConfig",
    "block",
    "chance_pass_at_k",
    "compare_runs",
    "evaluate",
    "first_k_pass",
    "load_results",
    "pass_at_k",
    "select_edge",
    "summarize",
]
