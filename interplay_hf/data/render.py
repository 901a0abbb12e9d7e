"""Problem, question and gold-solution text for an accepted graph (docs/data-format.md §3-4).

Random choices made here (sentence order, variable letters) come from the caller's RNG, or are
given explicitly (``order``, ``letters``) so tests can rebuild the official examples byte for byte.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from random import Random

from interplay_hf.data import symbolic
from interplay_hf.data.graph import REVERSE, RNG, ProblemGraph, letters_needed

LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
REVERSE_LETTERS = tuple(c for c in LETTERS if c not in "xX")  # x is the unknown in reverse mode
REVERSE_PREAMBLE = "The question is difficult, so we use equations to solve it. "
UNKNOWN_BODY = "we don't know its value yet but will find it out later"


@dataclass(frozen=True)
class Rendered:
    problem: str
    question: str
    solution: str
    answer: int
    gold_graph: dict


def standard_name(name: str, sentence_start: bool = False) -> str:
    """How the text refers to a parameter: 'the total ...'/'the average ...' or 'the number of ...'."""
    head = "The " if sentence_start else "the "
    first = name.split(" ", 1)[0]
    return head + name if first in ("average", "total") else head + "number of " + name


def _name_table(g: ProblemGraph) -> tuple[list[str], list[str]]:
    """Every parameter's name and its reference ('the number of ...'), built once per graph: rendering
    refers to the same few dozen parameters many times."""
    cache = g.meta.get("name_table")
    if cache is None:
        names = [g.name(x) for x in range(g.n_places + len(g.inst_place))]
        cache = g.meta["name_table"] = (names, [standard_name(n) for n in names])
    return cache


def sentence(g: ProblemGraph, x: int) -> str:
    """The problem sentence defining instance parameter ``x`` (without the trailing '. ')."""
    refs = _name_table(g)[1]
    par = g.parents[x]
    ops = [q for q in par if q != RNG]
    has_rng = RNG in par
    text = "T" + refs[x][1:] + " equals"
    if has_rng:
        text += f" {g.const[x]}"
        if ops:
            text += " plus" if g.rng_op[x] == "+" else " times"
    n_ops = len(ops)
    if n_ops == 1:
        text += " " + refs[ops[0]]
    elif n_ops == 2:
        a, b = refs[ops[0]], refs[ops[1]]
        text += f" the sum of {a} and {b}" if g.notation[x] == "+" else f" the difference between {a} and {b}"
    elif ops:
        text += " the sum of " + ", ".join([refs[q] for q in ops[:-1]]) + ", and " + refs[ops[-1]]
    elif not has_rng:
        text += f" {g.const[x]}"
    return text


def question(g: ProblemGraph) -> str:
    target = g.unknown if g.mode == REVERSE else g.topo[-1]
    name = g.name(target)
    if "average" in name or "total" in name:
        return f"What is the {name}?"
    k = target - g.n_places
    return f"How many {g.item_names[g.inst_item[k]]} does {g.place_names[g.inst_place[k]]} have?"


def problem_segments(g: ProblemGraph) -> list[str]:
    """One segment per instance parameter (+ the given total in reverse mode), before shuffling."""
    names, refs = _name_table(g)
    segs = []
    for x in g.sentences:
        if x == g.unknown:
            lead = "T" + refs[x][1:]
            segs.append(f"{lead} is greater than 0" if names[x].startswith("average ") else
                        f"{lead} exists, and its number is greater than 0")
        else:
            segs.append(sentence(g, x))
    if g.mode == REVERSE:
        target = g.topo[-1]
        segs.append(f"T{refs[target][1:]} equals {g.values[target]}")
    return segs


def render(
    g: ProblemGraph,
    rng: Random | None = None,
    *,
    order: Sequence[int] | None = None,
    letters: Sequence[str] | None = None,
) -> Rendered | None:
    """Text + gold graph; None if a reverse draw has no first-order equation (the official rejects it)."""
    segs = problem_segments(g)
    if order is None:
        order = list(range(len(segs)))
        rng.shuffle(order)
    problem = "".join(segs[i] + ". " for i in order)
    pool = REVERSE_LETTERS if g.mode == REVERSE else LETTERS
    if letters is None:
        letters = rng.sample(pool, letters_needed(g.topo, g.parents, g.rng_op, g.unknown))
    if g.mode == REVERSE:
        solved = _reverse_solution(g, iter(letters))
        if solved is None:
            return None
        solution, var = solved
        answer = g.values[g.unknown]
    else:
        solution, var = _forward_solution(g, iter(letters))
        answer = g.values[g.topo[-1]]
    return Rendered(problem, question(g), solution, answer, gold_graph(g, var, answer))


def _forward_solution(g: ProblemGraph, letters: Iterator[str]) -> tuple[str, dict[int, str]]:
    names = _name_table(g)[0]
    P, parents, const, rng_op, mod = g.n_places, g.parents, g.const, g.rng_op, g.mod
    add = (lambda a, b: (a + b) % mod) if mod > 0 else operator.add
    var: dict[int, str] = {}
    vals = g.values
    out: list[str] = []
    for x in g.topo:
        par = parents[x]
        if x < P:  # totals: sum the place's items pairwise, 'so' before the last
            if len(par) == 1:
                v = next(letters)
                body = f"so {v} = {var[par[0]]} = {vals[par[0]]}. "
            else:
                acc_v, acc = var[par[0]], vals[par[0]]
                chunks = []
                last = len(par) - 1
                for i, f in enumerate(par[1:], 1):
                    nv, s = next(letters), add(acc, vals[f])
                    so = "so " if i == last else ""
                    chunks.append(f"{so}{nv} = {acc_v} + {var[f]} = {acc} + {vals[f]} = {s}")
                    acc_v, acc = nv, s
                v, body = acc_v, "; ".join(chunks) + ". "
        else:
            ops = [q for q in par if q != RNG]
            so = "" if RNG in par else "so "
            if not ops:
                v = next(letters)
                body, inner = f"so {v} = {const[x]}", const[x]
            elif len(ops) == 1:
                v, inner = next(letters), vals[ops[0]]
                body = f"{so}{v} = {var[ops[0]]} = {inner}"
            elif len(ops) == 2:
                a, b, sign = ops[0], ops[1], g.notation[x]
                v = next(letters)
                inner = add(vals[a], vals[b]) if sign == "+" else add(vals[a], -vals[b])
                body = f"{so}{v} = {var[a]} {sign} {var[b]} = {vals[a]} {sign} {vals[b]} = {inner}"
            else:
                chunks = []
                v, inner = next(letters), add(vals[ops[0]], vals[ops[1]])
                chunks.append(f"{v} = {var[ops[0]]} + {var[ops[1]]} = {vals[ops[0]]} + {vals[ops[1]]} = {inner}")
                last = len(ops) - 1
                for i, q in enumerate(ops[2:], 2):
                    nv, s = next(letters), add(inner, vals[q])
                    lead = so if i == last else ""
                    chunks.append(f"{lead}{nv} = {v} + {var[q]} = {inner} + {vals[q]} = {s}")
                    v, inner = nv, s
                body = "; ".join(chunks)
            if x in rng_op:
                c, sign, nv = const[x], rng_op[x], next(letters)
                body += f"; so {nv} = {c} {sign} {v} = {c} {sign} {inner} = {vals[x]}. "
                v = nv
            else:
                body += ". "
        var[x] = v
        out.append(f"Define {names[x]} as {v}; {body}")
    out.append(f"Answer: {vals[g.topo[-1]]}.")
    return "".join(out), var


def _reverse_solution(g: ProblemGraph, letters: Iterator[str]) -> tuple[str, dict[int, str]] | None:
    """Symbolic forward pass in x, then the official linear-equation steps (docs/generator.md §8)."""
    S = symbolic.canonical
    var: dict[int, str] = {}
    rt: dict[int, str] = {}  # the official "reversibletext": value as an expression in x
    out: list[str] = [REVERSE_PREAMBLE]
    for x in g.topo:
        par = g.parents[x]
        if g.is_abstract(x):
            if len(par) == 1:
                v = next(letters)
                body, expr = f"so {v} = {var[par[0]]} = {rt[par[0]]}. ", rt[par[0]]
            else:
                acc_v, expr = var[par[0]], rt[par[0]]
                chunks = []
                for i, f in enumerate(par[1:], 1):
                    nv, new = next(letters), S(f"{expr} + {rt[f]}")
                    so = "so " if i == len(par) - 1 else ""
                    chunks.append(f"{so}{nv} = {acc_v} + {var[f]} = {expr} + {rt[f]} = {new}")
                    acc_v, expr = nv, new
                v, body = acc_v, "; ".join(chunks) + ". "
        else:
            ops = [q for q in par if q != RNG]
            so = "" if RNG in par else "so "
            if not ops and x == g.unknown:
                v, expr, body = "x", "x", UNKNOWN_BODY
            elif not ops:
                v, expr = next(letters), str(g.const[x])
                body = f"so {v} = {expr}"
            elif len(ops) == 1:
                v, expr = next(letters), rt[ops[0]]
                body = f"{so}{v} = {var[ops[0]]} = {expr}"
            elif len(ops) == 2:
                a, b = ops
                v = next(letters)
                if g.notation[x] == "+":
                    expr = S(f"{rt[a]} + {rt[b]}")
                    body = f"{so}{v} = {var[a]} + {var[b]} = {rt[a]} + {rt[b]} = {expr}"
                else:
                    expr = S(f"({rt[a]}) - ({rt[b]})")
                    body = f"{so}{v} = {var[a]} - {var[b]} = ({rt[a]}) - ({rt[b]}) = {expr}"
            else:
                v, expr = next(letters), S(f"{rt[ops[0]]} + {rt[ops[1]]}")
                chunks = [f"{v} = {var[ops[0]]} + {var[ops[1]]} = {rt[ops[0]]} + {rt[ops[1]]} = {expr}"]
                for i, q in enumerate(ops[2:], 2):
                    nv, new = next(letters), S(f"{expr} + {rt[q]}")
                    lead = so if i == len(ops) - 1 else ""
                    chunks.append(f"{lead}{nv} = {v} + {var[q]} = {expr} + {rt[q]} = {new}")
                    v, expr = nv, new
                body = "; ".join(chunks)
            if x in g.rng_op:
                c, nv = g.const[x], next(letters)
                if g.rng_op[x] == "+":
                    new = S(f"{c} + {expr}")
                    body += f"; so {nv} = {c} + {v} = {c} + {expr} = {new}. "
                else:
                    new = S(f"({c}) * ({expr})")
                    body += f"; so {nv} = {c} * {v} = ({c}) * ({expr}) = {new}. "
                v, expr = nv, new
            else:
                body += ". "
        var[x], rt[x] = v, expr
        out.append(f"Define {g.name(x)} as {v}; {body}")
    target = g.topo[-1]
    equation = f"{rt[target]} = {g.values[target]}"
    solved = symbolic.solve_linear(equation)
    if solved is None:
        return None
    steps, solution = solved
    if solution != str(g.values[g.unknown]):
        return None
    out.append(f"We know {var[target]} = {g.values[target]}, so we have {equation} "
               "and we solve it through the following steps: ")
    out.append(". ".join(steps) + ". ")
    out.append(f"Answer: {solution}.")
    return "".join(out), var


def gold_graph(g: ProblemGraph, var: dict[int, str], answer: int) -> dict:
    """Nodes = Define'd parameters in solution order; dependencies sorted by name (the official shape)."""
    names = _name_table(g)[0]
    position = {x: i for i, x in enumerate(g.topo)}
    nodes, deps = [], []
    for x in g.topo:
        d = [q for q in g.parents[x] if q != RNG]
        deps.append([position[q] for q in d])
        nodes.append({"name": names[x], "variable": var[x], "value": g.values[x],
                      "dependencies": sorted({names[q] for q in d})})
    order = _kahn(deps)
    return {"nodes": nodes, "answer": answer, "topological_order": [nodes[i]["name"] for i in order]}


def _kahn(deps: list[list[int]]) -> list[int] | None:
    """Kahn's algorithm over node indices; ties broken by definition order (the official: set order)."""
    indegree = [len(set(d)) for d in deps]
    followers: list[list[int]] = [[] for _ in deps]
    for i, d in enumerate(deps):
        for j in set(d):
            followers[j].append(i)
    queue = [i for i, n in enumerate(indegree) if n == 0]
    head = 0
    while head < len(queue):
        cur = queue[head]
        head += 1
        for f in followers[cur]:  # already ascending: followers are appended in index order
            indegree[f] -= 1
            if indegree[f] == 0:
                queue.append(f)
    return queue if len(queue) == len(deps) else None


def topological_order(nodes: list[dict]) -> list[str] | None:
    """Kahn's order of a node list (dependencies by name; unknown names ignored), ties by definition order."""
    index = {n["name"]: i for i, n in enumerate(nodes)}
    order = _kahn([[index[d] for d in n["dependencies"] if d in index] for n in nodes])
    return None if order is None else [nodes[i]["name"] for i in order]
