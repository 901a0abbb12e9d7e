"""Reverse-mode algebra: sympy strings exactly as the official generator prints them.

The official reverse solutions carry ``str(sympify(...))`` of linear expressions in ``x`` and the
steps of its linear-equation solver (docs/generator.md §8). We call sympy the same way so the text is
byte-identical, import it lazily (forward generation never needs it) and memoise, because the same
small expressions recur constantly.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1 << 16)
def canonical(expr: str) -> str:
    """``str(sympify(expr))``: sympy's canonical text for a linear expression."""
    from sympy import sympify

    return str(sympify(expr))


@lru_cache(maxsize=1 << 14)
def solve_linear(equation: str) -> tuple[tuple[str, ...], str] | None:
    """The official solver's steps and solution for ``"<expr> = <number>"``; None unless first-order in x."""
    from sympy import Eq, symbols, sympify

    x = symbols("x")
    lhs_str, rhs_str = equation.split("=", 1)
    lhs, rhs = sympify(lhs_str), sympify(rhs_str)
    poly = (lhs - rhs).as_poly(x)
    if poly is None or poly.degree() != 1:
        return None
    moved = Eq(lhs - rhs, 0)
    poly = moved.lhs.as_poly(x)
    coeff = poly.coeff_monomial(x)
    constant = poly.as_expr() - coeff * x
    solution = -constant / coeff
    steps = (
        f"Simplifying the equation: {lhs} = {rhs}",
        f"Move all terms to one side: {moved.lhs} = {moved.rhs}",
        f"Isolate the term with x: {coeff}*x = {-constant}",
        f"Divide both sides by {coeff}: x = {-constant} / {coeff}",
        f"Solution: x = {solution}",
    )
    return steps, str(solution)
