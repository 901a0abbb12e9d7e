"""Per-step verdicts: :func:`~interplay_hf.verify.core.verify` step by step, with where each step is written.

``verify`` answers with names per error type (docs/verifier.md §3); a person reading a sample wants every
step as written, marked against the gold graph: ``verified``, ``wrong_value``, ``wrong_dependency`` (both
can hold), ``extra`` (a name not in the gold), ``superseded`` (the name is defined again later, and only its
last definition is compared, §2.6) or ``unchecked`` (no gold graph), plus the gold steps it never wrote.
The steps come from the same parser and the marks from the same comparison, so they agree with ``verify``'s
lists (``tests/test_inspect.py`` checks it on generated and perturbed completions). Offsets index the
completion text (after the ``max_chars`` cut), so a viewer can mark the steps in place, tags and all.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from interplay_hf.verify.core import VerificationResult, completion_text, resolve_gold, verify
from interplay_hf.verify.folding import fold_case
from interplay_hf.verify.graph import VALUE_TOLERANCE, values_differ
from interplay_hf.verify.parser import DEFAULT_MAX_CHARS, find_defines, parse_steps, strip_tags_mapped

STEP_MARKS = ("verified", "wrong_value", "wrong_dependency", "extra", "superseded", "unchecked")


@dataclass(frozen=True)
class GoldStep:
    """One gold parameter: its name, value and the names it depends on."""

    name: str
    value: float | None
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class StepVerdict:
    """One ``Define … as X;`` step of a completion: ``text[start:end]`` is the step as written (up to the next
    step, ``Answer:`` or a tag), ``marks`` its verdict, ``gold`` the gold step of the same name (None for extra)."""

    name: str
    variable: str
    start: int
    end: int
    value: float | None
    dependencies: tuple[str, ...]
    marks: tuple[str, ...]
    gold: GoldStep | None = None


@dataclass
class StepReport:
    """``verify``'s result plus its steps in text order and the gold steps the completion never defined."""

    text: str  # the completion text the offsets index (after the max_chars cut)
    result: VerificationResult
    steps: list[StepVerdict] = field(default_factory=list)
    missing: list[GoldStep] = field(default_factory=list)  # in gold order
    gold_steps: list[GoldStep] = field(default_factory=list)  # in gold order


def _to_raw(index: int, pieces: list[tuple[int, int, int]]) -> tuple[int, int]:
    """A cleaned-text offset -> (its offset in the completion, the end of its run of text before the next tag)."""
    clean_start, raw_start, raw_end = pieces[max(0, bisect_right(pieces, (index, math.inf, math.inf)) - 1)]
    return raw_start + index - clean_start, raw_end


def _gold_step(node) -> GoldStep:
    return GoldStep(node.name, node.value, tuple(sorted(node.dependencies)))


def _marks(name: str, value, deps: set, superseded: bool, gold_nodes: dict | None) -> tuple[tuple[str, ...], Any]:
    if superseded:
        return ("superseded",), None
    if gold_nodes is None:
        return ("unchecked",), None
    node = gold_nodes.get(name)
    if node is None:
        return ("extra",), None
    marks = []
    if values_differ(node.value, value, VALUE_TOLERANCE):  # verify's value rule (docs/verifier.md §3)
        marks.append("wrong_value")
    if set(deps) != node.dependencies:
        marks.append("wrong_dependency")
    return tuple(marks) or ("verified",), node


def step_verdicts(
    completion: Any,
    gold_solution: str | None = None,
    gold_graph: Any = None,
    gold_answer: str | int | None = None,
    mode: str = "compat",
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> StepReport:
    """:func:`verify` of one completion, and each of its steps marked against the gold graph, with its place."""
    result = verify(completion, gold_solution, gold_graph, gold_answer, mode=mode, max_chars=max_chars)
    text = completion_text(completion)
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    gold = resolve_gold(gold_solution, gold_graph, gold_answer, mode).graph
    gold_nodes = gold.nodes if gold is not None else None
    report = StepReport(text=text, result=result,
                        gold_steps=[_gold_step(n) for n in gold_nodes.values()] if gold_nodes else [])
    steps, _answer = parse_steps(text, mode, fold_case(text))
    if not steps:
        report.missing = list(report.gold_steps)
        return report
    cleaned, pieces = strip_tags_mapped(text)
    defines = find_defines(cleaned)
    assert len(defines) == len(steps), "the parser's steps are its define matches, one each"
    last_index = {step[0]: i for i, step in enumerate(steps)}
    for i, ((start, define_end, _raw, _var), (name, variable, deps, value, _exprs)) in enumerate(zip(defines, steps)):
        end = defines[i + 1][0] if i + 1 < len(defines) else len(cleaned)
        cut = cleaned.find("Answer:", define_end, end)  # a step's body stops at "Answer:" (docs/verifier.md §2.2)
        end = cut if cut != -1 else end
        while end > define_end and cleaned[end - 1].isspace():
            end -= 1
        marks, node = _marks(name, value, deps, last_index[name] != i, gold_nodes)
        raw_start, before_tag = _to_raw(start, pieces)
        raw_end = min(_to_raw(end - 1, pieces)[0] + 1, before_tag)  # shown up to its first tag (`</solution>`)
        raw_end = raw_start + len(text[raw_start:raw_end].rstrip())
        report.steps.append(StepVerdict(
            name=name, variable=variable, start=raw_start, end=raw_end,
            value=value, dependencies=tuple(sorted(deps)), marks=marks,
            gold=_gold_step(node) if node is not None else None,
        ))
    defined = set(last_index)
    report.missing = [g for g in report.gold_steps if g.name not in defined]
    return report
