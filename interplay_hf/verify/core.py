"""``verify``: one completion against its gold solution → outcome, process score and typed errors.

The checks are those of docs/verifier.md (official semantics in the default ``compat`` mode):
- ``outcome``: the evaluation check (numeric, ``<answer>`` tag required);
- ``outcome_reward``: the RL check (string after strip/rstrip("."), ``<answer>`` tag required);
- ``process_score``: R_pv = max(0, 1 − penalty/N), penalty = #value + #dependency + #missing
  + min(#extra, N) + answer_mismatch, N = number of gold nodes;
- ``process_verified``: the paper's strict evaluation — no missing, value, dependency or answer
  mismatch (extra steps allowed); always false for a blank completion.
Gold graphs are parsed from the gold solution with the same parser (the official semantics) and cached,
since GRPO scores many completions per prompt; a serialised ``gold_graph`` is used when no solution is
given.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from interplay_hf.verify.answers import (
    extract_answer,
    gold_answer_from_solution,
    outcome_eval,
    outcome_rl,
)
from interplay_hf.verify.folding import fold_case
from interplay_hf.verify.graph import VALUE_TOLERANCE, SolutionGraph, maybe_int, values_differ
from interplay_hf.verify.parser import DEFAULT_MAX_CHARS, MODES, parse_solution, parse_steps

ERROR_TYPES = ("missing", "extra", "value_mismatch", "dependency_mismatch", "answer_mismatch", "format")
GOLD_CACHE_SIZE = 8192


@dataclass
class VerificationResult:
    """Everything the rewards, the CLI and the evaluator need about one completion.

    ``outcome``: evaluation check (numeric, ``<answer>`` tag). ``outcome_reward``: RL check (string).
    ``process_score``: R_pv. ``process_verified``: the paper's strict evaluation (extra steps allowed).
    Error lists hold parameter names (sorted): gold names not defined (``missing``), defined names not in
    the gold (``extra``), shared names with a different value / dependency set. ``answer_mismatch``
    compares the graph answers (tag or ``Answer:`` number). ``format_error``: the completion is blank, or
    has neither a parsable step nor any answer. ``penalty`` is the RL penalty behind ``process_score``;
    ``has_gold_graph`` is false when no gold process was given (then R_pv = R_out, as officially).
    """

    outcome: bool = False
    outcome_reward: bool = False
    process_score: float = 0.0
    process_verified: bool = False
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    value_mismatch: list[str] = field(default_factory=list)
    dependency_mismatch: list[str] = field(default_factory=list)
    answer_mismatch: bool = False
    format_error: bool = False
    pred_answer: str | None = None
    gold_answer: str | None = None
    penalty: int = 0
    num_gold_nodes: int = 0
    num_steps: int = 0
    has_gold_graph: bool = False
    truncated: bool = False
    mode: str = "compat"

    @property
    def errors(self) -> list[str]:
        """The error types present (names as in :data:`ERROR_TYPES`)."""
        flags = {
            "missing": bool(self.missing),
            "extra": bool(self.extra),
            "value_mismatch": bool(self.value_mismatch),
            "dependency_mismatch": bool(self.dependency_mismatch),
            "answer_mismatch": self.answer_mismatch,
            "format": self.format_error,
        }
        return [name for name in ERROR_TYPES if flags[name]]

    @property
    def gold_without_steps(self) -> bool:
        """No gold step to compare with (answer-only gold, a wrong solution field, unparseable text): the
        process score then only restates the outcome, so callers must not report it as process-verified."""
        return not self.has_gold_graph or self.num_gold_nodes == 0

    def mixed_reward(self, alpha: float = 0.2, gated: bool = True) -> float:
        """R = α·R_out + (1−α)·R_pv, and 0 whenever the answer is wrong unless ``gated=False``."""
        r_out = 1.0 if self.outcome_reward else 0.0
        if gated and r_out < 1.0:
            return 0.0
        return min(1.0, max(0.0, alpha * r_out + (1.0 - alpha) * self.process_score))

    def strict_reward(self) -> float:
        """1 iff the answer is right and the process has no penalty at all (extra steps count here)."""
        if not self.outcome_reward:
            return 0.0
        if self.has_gold_graph and self.penalty > 0:
            return 0.0
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = self.errors
        out["gold_without_steps"] = self.gold_without_steps
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, bytes, or chat messages (assistant content)."""
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, (bytes, bytearray)):
        return bytes(completion).decode("utf-8", errors="replace")
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        chosen = assistant or messages
        if chosen:
            return "\n".join(_content_text(m.get("content")) for m in chosen)
        return "".join(c for c in completion if isinstance(c, str))
    return str(completion)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):  # multimodal parts: [{"type": "text", "text": ...}]
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return "" if content is None else str(content)


@dataclass(frozen=True)
class GoldReference:
    graph: SolutionGraph | None
    answer: str | None


@lru_cache(maxsize=GOLD_CACHE_SIZE)
def _gold_from_solution(solution: str, mode: str) -> GoldReference:
    graph = parse_solution(solution, mode=mode, max_chars=None).to_graph()
    return GoldReference(graph=graph, answer=gold_answer_from_solution(solution))


@lru_cache(maxsize=GOLD_CACHE_SIZE)
def _gold_from_graph_json(graph_json: str) -> GoldReference:
    return _gold_from_graph_obj(json.loads(graph_json))


def _gold_from_graph_obj(payload: Any) -> GoldReference:
    graph = SolutionGraph.from_dict(payload)
    answer = maybe_int(graph.answer)
    return GoldReference(graph=graph, answer=None if answer is None else str(answer))


def resolve_gold(
    gold_solution: str | None = None,
    gold_graph: dict | str | SolutionGraph | None = None,
    gold_answer: str | int | None = None,
    mode: str = "compat",
) -> GoldReference:
    """The gold graph and answer: the solution text wins over a serialised graph (official semantics)."""
    ref = GoldReference(None, None)
    if isinstance(gold_solution, str) and gold_solution.strip():
        ref = _gold_from_solution(gold_solution, mode)
    elif isinstance(gold_graph, SolutionGraph):
        ref = GoldReference(gold_graph, None if gold_graph.answer is None else str(maybe_int(gold_graph.answer)))
    elif isinstance(gold_graph, str) and gold_graph.strip():
        try:
            ref = _gold_from_graph_json(gold_graph)
        except (ValueError, TypeError, KeyError, AttributeError):
            ref = GoldReference(None, None)
    elif isinstance(gold_graph, dict):
        try:
            ref = _gold_from_graph_obj(gold_graph)
        except (ValueError, TypeError, KeyError, AttributeError):
            ref = GoldReference(None, None)
    if gold_answer is not None and not (isinstance(gold_answer, float) and gold_answer != gold_answer):
        answer = str(maybe_int(gold_answer) if isinstance(gold_answer, float) else gold_answer)
        ref = GoldReference(ref.graph, answer)
    return ref


# What verify compares against, precomputed once per gold graph: the nodes as (name, value, dependencies)
# sorted by name (the report lists are sorted), the set of gold names, and the gold answer value.
_GoldPlan = tuple[tuple[tuple[str, "float | None", frozenset], ...], frozenset, "float | None"]


def _gold_plan(graph: SolutionGraph) -> _GoldPlan:
    nodes = graph.nodes
    items = tuple((name, nodes[name].value, nodes[name].dependencies) for name in sorted(nodes))
    return items, frozenset(nodes), graph.answer


@lru_cache(maxsize=GOLD_CACHE_SIZE)
def _cached_plan_from_solution(solution: str, mode: str) -> tuple[GoldReference, _GoldPlan | None]:
    ref = _gold_from_solution(solution, mode)
    return ref, (None if ref.graph is None else _gold_plan(ref.graph))


def _resolve_for_verify(
    gold_solution: Any, gold_graph: Any, gold_answer: Any, mode: str
) -> tuple[str | None, _GoldPlan | None, int]:
    """:func:`resolve_gold` without per-call objects: (gold answer, comparison plan, number of gold nodes)."""
    # ``not isspace()`` is ``strip()`` being non-empty, without copying the solution on every call.
    if isinstance(gold_solution, str) and gold_solution and not gold_solution.isspace():
        ref, plan = _cached_plan_from_solution(gold_solution, mode)
    else:
        ref = resolve_gold(None, gold_graph, None, mode)
        plan = None if ref.graph is None else _gold_plan(ref.graph)
    answer = ref.answer
    if gold_answer is not None and not (isinstance(gold_answer, float) and gold_answer != gold_answer):
        answer = str(maybe_int(gold_answer) if isinstance(gold_answer, float) else gold_answer)
    return answer, plan, (0 if plan is None else len(plan[0]))


# One piece on purpose (~90 lines): the hot path of every reward and evaluation (a GRPO batch verifies each
# completion once per reward function); its per-step comparison is inlined and its locals shared, so splitting it
# would add calls per step. The rules it applies are in docs/verifier.md, in this order.
def verify(
    completion: Any,
    gold_solution: str | None = None,
    gold_graph: dict | str | SolutionGraph | None = None,
    gold_answer: str | int | None = None,
    mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> VerificationResult:
    """Verify one completion (text continuing the prompt, or chat messages) against its gold.

    Never raises on any completion; raises ``ValueError`` only for an unknown ``mode``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    text = completion if type(completion) is str else completion_text(completion)
    truncated = max_chars is not None and len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    gold_answer_text, plan, n = _resolve_for_verify(gold_solution, gold_graph, gold_answer, mode)

    folded = fold_case(text)
    pred_answer = extract_answer(text, exact_lower=mode == "compat", folded=folded)
    outcome_reward = outcome_rl(pred_answer, gold_answer_text)
    steps, graph_answer = parse_steps(text, mode, folded)  # [name, variable, dependencies, value, expressions]
    blank = not text or text.isspace()
    format_error = blank or (not steps and graph_answer is None and pred_answer is None)
    common = {
        "outcome": outcome_eval(pred_answer, gold_answer_text),
        "outcome_reward": outcome_reward,
        "pred_answer": pred_answer,
        "gold_answer": gold_answer_text,
        "format_error": format_error,
        "num_steps": len(steps),
        "truncated": truncated,
        "mode": mode,
    }
    if plan is None:
        # Official fallback when no gold process exists: R_pv = R_out, and nothing to mismatch.
        return VerificationResult(
            process_score=1.0 if outcome_reward else 0.0,
            missing=[],
            extra=[],
            value_mismatch=[],
            dependency_mismatch=[],
            **common,
        )

    # compare_graphs(gold, parsed.to_graph()) without building the predicted graph: a name defined twice
    # keeps its last step; lists come out sorted because the plan is sorted by name.
    gold_items, gold_names, gold_value = plan
    pred = {step[0]: step for step in steps}
    missing: list[str] = []
    value_mismatch: list[str] = []
    dependency_mismatch: list[str] = []
    for name, value, deps in gold_items:
        step = pred.get(name)
        if step is None:
            missing.append(name)
            continue
        pred_value = step[3]
        # values_differ, inlined (hot loop): one side None, or |Δ| > tolerance (NaN never differs).
        if value is None or pred_value is None:
            if (value is None) != (pred_value is None):
                value_mismatch.append(name)
        elif abs(value - pred_value) > VALUE_TOLERANCE:
            value_mismatch.append(name)
        if step[2] != deps:  # set == frozenset compares the elements
            dependency_mismatch.append(name)
    shared = n - len(missing)
    extra = sorted(pred.keys() - gold_names) if len(pred) > shared else []
    answer_mismatch = values_differ(gold_value, graph_answer, VALUE_TOLERANCE)
    penalty = (
        len(value_mismatch)
        + len(dependency_mismatch)
        + len(missing)
        + min(len(extra), max(n, 1))
        + int(answer_mismatch)
    )
    return VerificationResult(
        process_score=max(0.0, 1.0 - penalty / max(n, 1)),
        process_verified=not (blank or missing or value_mismatch or dependency_mismatch or answer_mismatch),
        missing=missing,
        extra=extra,
        value_mismatch=value_mismatch,
        dependency_mismatch=dependency_mismatch,
        answer_mismatch=answer_mismatch,
        penalty=penalty,
        num_gold_nodes=n,
        has_gold_graph=True,
        **common,
    )


def clear_gold_cache() -> None:
    _cached_plan_from_solution.cache_clear()
    _gold_from_solution.cache_clear()
    _gold_from_graph_json.cache_clear()
