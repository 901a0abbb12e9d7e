"""The evaluation layer's output files, owned here: ``results.json``, ``report.json``, ``edge.json``, ``findings.json``.

The writers (``scoring.score_problem`` for a record, ``aggregate.block``/``summarize``, ``run.build_results``,
``compare.compare_runs``, ``edge.select_edge``, ``findings.evaluate_findings``) return these types and the
readers (reports, findings, edge selection, the Hub cards) take them, so a renamed key fails a type check and
the tests (``tests/test_eval_run.py`` checks a real file key for key) rather than turning into "–" in a card.
docs/results-schema.md describes every key.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

RESULTS_FILE = "results.json"

RateByK = dict[str, float | None]  # k as a string -> a rate in [0, 1]; null when it cannot be computed
IntervalByK = dict[str, list[float] | None]  # k as a string -> [low, high]


class ProblemRecord(TypedDict):
    """One problem's counts over its n samples: every summary number recomputes from these."""

    index: int
    id: str
    op: int
    context: str
    regime: str | None
    answer: str
    n: int
    outcome_correct: int
    process_correct: int
    first_process_rank: int | None  # 0-based index of the first verified sample
    greedy_outcome: bool | None
    greedy_process: bool | None
    mean_process_score: float
    error_counts: dict[str, int]
    truncated: int
    generated_tokens: int
    chance_p: float | None


# A summary block: rates averaged over its problems. Keys with "@" need the functional form; the ``_ci`` keys are
# there when intervals were asked for.
Block = TypedDict("Block", {
    "num_problems": int,
    "outcome_pass@k": RateByK,
    "process_pass@k": RateByK,
    "process_pass@k_first": RateByK,
    "chance_pass@k": RateByK,
    "greedy_outcome_pass@1": float | None,
    "greedy_process_pass@1": float | None,
    "process_accuracy": float | None,
    "error_counts": dict[str, int],
    "num_samples": int,
    "truncated": int,
    "process_pass@k_ci": NotRequired[IntervalByK],
    "outcome_pass@k_ci": NotRequired[IntervalByK],
})


class Summary(TypedDict):
    overall: Block
    per_op: dict[str, Block]  # op as a string, numeric order
    per_context: dict[str, Block]
    per_regime: dict[str, Block]
    per_context_op: dict[str, Block]  # "zoo/11"


class Results(TypedDict):
    model: str
    subfolder: str | None
    revision: str | None
    data: str
    split: str | None
    n: int
    k: list[int]
    sampling: dict[str, Any]
    regimes: dict[str, list[int]]
    chance: dict[str, Any]
    intervals: dict[str, Any] | None
    versions: dict[str, str]
    run: dict[str, Any]
    problems: list[ProblemRecord]
    summary: Summary


class ReportRun(TypedDict):
    label: str
    dir: str
    model: str
    subfolder: str | None
    n: int


class Report(TypedDict):
    """``report.json`` of ``interplay-hf report``."""

    runs: list[ReportRun]
    k: list[int]
    regimes: dict[str, list[int]]
    same_problem_set: bool
    intervals: dict[str, Any]
    summary_lines: list[str]
    differences: dict[str, Any]  # run label -> regime -> metric -> k -> the change against the first run
    summaries: dict[str, Summary]


class EdgeSelection(TypedDict):
    criteria: dict[str, Any]
    selected_ops: list[int]
    per_op: dict[str, dict[str, Any]]
    selected_problem_ids: list[str]


class Edge(EdgeSelection):
    """``edge.json`` of ``interplay-hf select-edge``: the selection and the evaluation it was made from."""

    model: str
    subfolder: str | None
    n: int
    contexts: list[str]
    results: str  # the results.json the selection read
    rl_data_recipe: str | None  # rl_data.yaml beside it, the data recipe of the RL set (None: no op selected)


class _FindingsFamily(TypedDict, total=False):
    family: dict[str, Any]  # with ``correction``: {correction, alpha, claims in the family}
    registered: str  # the commit that pre-registered the spec


class Findings(_FindingsFamily):
    """``findings.json`` of ``interplay-hf findings``: each claim with its paired comparison and verdict."""

    intervals: dict[str, Any]
    findings: list[dict[str, Any]]
