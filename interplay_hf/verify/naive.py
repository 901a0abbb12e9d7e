"""A direct regex re-implementation of the official parser, for differential tests and benchmarks only.

It uses the official regexes as written (``DEFINE_RE`` included, which backtracks super-linearly:
never call this on untrusted or long input) and the same safe evaluator instead of ``eval``. The
production parser (:mod:`interplay_hf.verify.parser`) must give the same steps on every input this one
can finish; ``benchmarks/bench_verify.py`` uses it as the baseline the speed-up is measured against.
"""

from __future__ import annotations

import re

from interplay_hf.verify.arith import evaluate_arithmetic
from interplay_hf.verify.graph import GraphNode, SolutionGraph

ASSIGNMENT_RE = re.compile(r"([A-Za-z])\s*=\s*([^.;]+)")
NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
DEFINE_RE = re.compile(r"Define\s+(.*?)\s+(?:as|a)\s+(?:[A-Za-z]+\s+)*([A-Za-z]);", re.IGNORECASE | re.DOTALL)
TAG_RE = re.compile(r"<[^>]+>")
ALLOWED_EVAL_RE = re.compile(r"^[0-9+\-*/().\s]+$")


def naive_define_matches(text: str) -> list[tuple[int, int, str, str]]:
    return [(m.start(), m.end(), m.group(1), m.group(2)) for m in DEFINE_RE.finditer(text)]


def _last_number(text: str) -> float | None:
    numbers = NUMBER_RE.findall(text)
    return float(numbers[-1]) if numbers else None


def _answer(text: str) -> float | None:
    m = re.search(r"<answer>\s*([-+]?\d+(?:\.\d+)?)", text, re.IGNORECASE) or re.search(
        r"Answer:\s*([-+]?\d+(?:\.\d+)?)", text
    )
    return float(m.group(1)) if m else None


def _normalize(name: str) -> str:
    cleaned = " ".join(name.split()).replace("\ufffd", "").strip(" .;")
    matches = list(re.finditer(r"\bDefine\s+", cleaned, flags=re.IGNORECASE))
    if matches:
        cleaned = cleaned[matches[-1].end() :]
    return cleaned.strip(" .;")


def naive_parse_graph(raw: str) -> SolutionGraph:
    """The official ``SolutionParser.parse`` + ``build_graph``, step for step."""
    answer = _answer(raw)
    cleaned = TAG_RE.sub("", raw).strip()
    var_to_param: dict[str, str] = {}
    values: dict[str, float] = {}

    def evaluate(expr: str) -> float | None:
        substituted = expr
        for tok in set(re.findall(r"[A-Za-z]", expr)):
            if tok not in values:
                return None
            substituted = re.sub(rf"\b{tok}\b", str(values[tok]), substituted)
        substituted = substituted.strip()
        if not substituted or not ALLOWED_EVAL_RE.match(substituted):
            return None
        return evaluate_arithmetic(substituted)

    steps = []
    matches = list(DEFINE_RE.finditer(cleaned))
    for idx, match in enumerate(matches):
        name = _normalize(" ".join(match.group(1).split()))
        var = match.group(2).strip()
        end = matches[idx + 1].start() if idx + 1 < len(matches) else len(cleaned)
        body = cleaned[match.end() : end].strip()
        if "Answer:" in body:
            body = body[: body.find("Answer:")].strip()
        deps: set[str] = set()
        exprs: list[str] = []
        inter: dict[str, set[str]] = {}
        last = None
        for am in ASSIGNMENT_RE.finditer(body):
            target, expr = am.group(1), am.group(2).strip()
            expr_eval = expr.split("=")[-1].strip()
            src: set[str] = set()
            for tok in re.findall(r"[A-Za-z]", expr):
                if tok in var_to_param:
                    src.add(var_to_param[tok])
                if tok in inter:
                    src.update(inter[tok])
            if target == var:
                deps.update(src)
                if expr_eval:
                    exprs.append(expr_eval)
            else:
                inter.setdefault(target, set()).update(src)
            value = evaluate(expr_eval)
            if value is None:
                value = _last_number(am.group(0))
            if value is not None:
                values[target] = value
                if target == var:
                    last = value
        if last is None:
            last = _last_number(body)
            if last is not None:
                values[var] = last
        var_to_param[var] = name
        steps.append([name, var, deps, last, exprs])
    for step in steps:
        if step[3] is None and step[4]:
            for expr in reversed(step[4]):
                value = evaluate(expr)
                if value is not None:
                    step[3] = value
                    break
        if step[3] is None and step[1] in values:
            step[3] = values[step[1]]
        if step[3] is not None:
            values[step[1]] = step[3]
    nodes = {s[0]: GraphNode(s[0], s[1], s[3], frozenset(s[2])) for s in steps}
    return SolutionGraph(nodes=nodes, answer=answer)
