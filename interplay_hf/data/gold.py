"""Read the gold graph back from a *well-formed* gold solution (ours or the released rows').

Released rows carry only text, so the loader rebuilds ``gold_graph`` from the solution. This reader
knows the gold grammar (docs/data-format.md §4) and returns the same shape as the generator: nodes =
Define'd parameters in order with their letter, value and sorted dependency names; ``answer``;
``topological_order``. Dependencies are the parameters whose letters appear in the operand part of
a step's assignments (temporaries folded in), so for forward solutions this equals what the official
parser reads. For reverse solutions it returns the *semantic* graph (true values with x solved,
no letters picked up from the equation prose); the compat verifier should parse the ``solution``
text itself for those rows. It is not a verifier for model output (see ``interplay_hf.verify``).
"""

from __future__ import annotations

import ast
import re

from interplay_hf.data.render import REVERSE_PREAMBLE, UNKNOWN_BODY, topological_order

_DEFINE = re.compile(r"Define (.+?) as ([A-Za-z]); ")
_ASSIGN = re.compile(r"^(?:so )?([A-Za-z]) = (.+)$")
_LETTER = re.compile(r"[A-Za-z]")


class GoldParseError(ValueError):
    """The text is not a well-formed gold solution."""


def gold_graph_from_solution(solution: str) -> dict:
    """The gold graph of a gold solution string (forward or reverse)."""
    head, sep, tail = solution.rpartition("Answer:")
    if not sep:
        raise GoldParseError("no 'Answer:' in solution")
    answer = _number(tail.strip().rstrip("."))
    reverse = head.startswith(REVERSE_PREAMBLE)
    if reverse:
        cut = head.find("We know ")
        if cut < 0:
            raise GoldParseError("reverse solution without its equation tail")
        head = head[:cut]
    matches = list(_DEFINE.finditer(head))
    if not matches:
        raise GoldParseError("no 'Define ... as V;' step")
    var_name: dict[str, str] = {}
    values: dict[str, float | int] = {}
    nodes = []
    for i, m in enumerate(matches):
        name, var = m.group(1), m.group(2)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(head)
        body = head[m.end() : end].strip()
        deps: set[str] = set()
        value = None
        if body.rstrip(". ") == UNKNOWN_BODY:
            value = answer
        else:
            temps: dict[str, set[str]] = {}
            for stmt in body.rstrip(". ").split("; "):
                am = _ASSIGN.match(stmt.strip())
                if not am:
                    raise GoldParseError(f"unexpected statement {stmt!r} in step {name!r}")
                target, rhs = am.group(1), am.group(2)
                segments = rhs.split(" = ")
                used: set[str] = set()
                for letter in _LETTER.findall(segments[0]):
                    if letter in temps:
                        used |= temps[letter]
                    elif letter in var_name:
                        used.add(var_name[letter])
                result = _evaluate(segments[-1], answer if reverse else None)
                if target == var:
                    deps, value = used, result
                else:
                    temps[target] = used
                    values[target] = result
        var_name[var] = name
        values[var] = value
        nodes.append({"name": name, "variable": var, "value": value, "dependencies": sorted(deps)})
    return {"nodes": nodes, "answer": answer, "topological_order": topological_order(nodes)}


def _number(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError as err:
        raise GoldParseError(f"answer {text!r} is not a number") from err
    return int(value) if value == int(value) else value


def _evaluate(expr: str, x: int | float | None) -> int | float:
    """Integer arithmetic with + - * / and parentheses; ``x`` is the solved unknown (reverse mode)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError as err:
        raise GoldParseError(f"cannot read value {expr!r}") from err

    def ev(node: ast.AST) -> int | float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id == "x" and x is not None:
            return x
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b
        raise GoldParseError(f"cannot read value {expr!r}")

    value = ev(tree)
    return int(value) if float(value).is_integer() else value
