"""A small, safe evaluator for the arithmetic the official parser hands to Python's ``eval``.

The official parser (docs/verifier.md §2) evaluates a step's last ``=`` segment with ``eval`` whenever it
matches ``^[0-9+\\-*/().\\s]+$``. Calling ``eval`` on model output is not acceptable here (``9**9**9``
hangs the process), so this module re-implements exactly what ``eval`` does on that character set:
Python's tokenizer rules for numbers (``02`` is a syntax error, ``007.5`` and ``5.`` are floats),
Python's operator precedence (``-2**2 == -4``, ``2**-1 == 0.5``, ``//`` floors), ``()`` is an empty
tuple and a number followed by ``(`` is a call (both end in ``TypeError``), newlines are only legal
inside brackets, and exotic Unicode spaces are syntax errors. Anything ``eval`` would reject, raise on,
or return as a non-float (tuple, complex) gives ``None``; the result is ``float(value)``.

Deliberate bounds (where ``eval`` would hang or exhaust memory, we return ``None``):
- integer results are capped at :data:`MAX_INT_BITS` bits (``eval`` computes them, then ``float()``
  overflows anyway unless they are divided back down — an absurd input either way);
- expressions longer than :data:`MAX_EXPR_CHARS` characters are not evaluated;
- nesting: more than 200 open brackets is a ``SyntaxError`` in CPython too; an expression tree deeper
  than :data:`MAX_DEPTH` levels fails to compile in CPython (the exact limit depends on the caller's
  stack depth, about 2,990 at top level), and gives ``None`` here.
The evaluator is iterative (shunting-yard), so no input can exhaust Python's recursion limit.
"""

from __future__ import annotations

import operator
import re

MAX_INT_BITS = 20_000
MAX_EXPR_CHARS = 10_000
MAX_DEPTH = 2_950
MAX_PAREN_LEVEL = 200
MAX_INT_LITERAL_DIGITS = 4_300  # sys.int_info.default_max_str_digits: longer literals are SyntaxErrors

# The official ALLOWED_EVAL_RE; ``match`` + ``$`` (also true before one trailing newline).
ALLOWED_EVAL_RE = re.compile(r"^[0-9+\-*/().\s]+$")

# Tokens of the allowed alphabet, as CPython's tokenizer splits them. Any other character (Unicode
# spaces other than ' ', '\t', '\f', newlines) is caught by the final alternative.
_TOKEN_RE = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"|(?P<op>\*\*|//|[-+*/().])"
    r"|(?P<sp>[ \t\f]+)"
    r"|(?P<nl>\r\n|\r|\n)"
    r"|(?P<bad>.)",
    re.DOTALL,
)

_BINARY = {
    "+": (1, operator.add),
    "-": (1, operator.sub),
    "*": (2, operator.mul),
    "/": (2, operator.truediv),
    "//": (2, operator.floordiv),
    "**": (4, operator.pow),
}
_UNARY_PREC = 3  # binds tighter than * / but looser than ** on its right: -2**2 == -(2**2)


class _Reject(Exception):
    """Internal: the expression is one ``eval`` would reject or fail on."""


def _number(text: str) -> int | float:
    if "." in text:
        return float(text)  # leading zeros are fine in float literals; huge ones become inf, as in eval
    if text[0] == "0":
        if text.strip("0"):
            raise _Reject  # "leading zeros in decimal integer literals are not permitted"
        return 0
    if len(text) > MAX_INT_LITERAL_DIGITS:
        raise _Reject  # CPython: "Exceeds the limit (4300 digits) for integer string conversion"
    return int(text)


def _apply_binary(op: str, left, right):
    if isinstance(left, tuple) or isinstance(right, tuple):
        raise _Reject  # tuple arithmetic never ends in a float
    if type(left) is int and type(right) is int:
        if op == "*" and left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise _Reject
        if op == "**" and right > 0 and abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS + right:
            raise _Reject
    try:
        value = _BINARY[op][1](left, right)
    except (ArithmeticError, ValueError, TypeError):
        raise _Reject from None
    if isinstance(value, complex):
        raise _Reject  # e.g. (-8) ** 0.5; float(complex) raises in the official code
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise _Reject
    return value


def _apply_unary(op: str, value):
    if isinstance(value, tuple):
        raise _Reject
    return -value if op == "-" else +value


def evaluate_arithmetic(expr: str) -> float | None:
    """``float(eval(expr))`` for an expression of the allowed alphabet, or ``None`` where eval fails.

    ``expr`` should already satisfy :data:`ALLOWED_EVAL_RE` (other characters are rejected here too).
    """
    if not expr or len(expr) > MAX_EXPR_CHARS:
        return None
    try:
        value = _evaluate(expr.strip())
    except _Reject:
        return None
    if isinstance(value, tuple):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError):
        return None


# One piece on purpose (~90 lines): a shunting-yard evaluator whose operand and operator stacks and parser state
# are shared by the nested reduce step and the token loop; split, they would travel as parameters of every call.
def _evaluate(expr: str):
    # Operand stack holds (value, depth); operator stack holds (kind, symbol) with kind in
    # {"bin", "un", "("}. ``expect_operand`` is the parser state (True at the start and after operators).
    values: list[tuple[object, int]] = []
    ops: list[tuple[str, str]] = []
    expect_operand = True
    level = 0

    def reduce_top() -> None:
        kind, sym = ops.pop()
        if kind == "un":
            value, depth = values.pop()
            values.append((_apply_unary(sym, value), depth + 1))
        else:
            right, rdepth = values.pop()
            left, ldepth = values.pop()
            values.append((_apply_binary(sym, left, right), max(ldepth, rdepth) + 1))
        if values[-1][1] > MAX_DEPTH:
            raise _Reject

    def reduce_for(prec: int, right_assoc: bool) -> None:
        while ops and ops[-1][0] != "(":
            kind, sym = ops[-1]
            top = _UNARY_PREC if kind == "un" else _BINARY[sym][0]
            if top > prec or (top == prec and not right_assoc):
                reduce_top()
            else:
                break

    for match in _TOKEN_RE.finditer(expr):
        group = match.lastgroup
        if group == "sp":
            continue
        if group == "nl":
            if level == 0:
                raise _Reject  # a NEWLINE token in the middle of an eval expression
            continue
        if group == "bad":
            raise _Reject
        token = match.group()
        if group == "num":
            if not expect_operand:
                raise _Reject  # two numbers in a row ("1 2", "1.2.3")
            values.append((_number(token), 0))
            expect_operand = False
        elif token == "(":
            if not expect_operand:
                raise _Reject  # a call such as 2(3): TypeError at run time
            level += 1
            if level > MAX_PAREN_LEVEL:
                raise _Reject  # "too many nested parentheses"
            ops.append(("(", "("))
        elif token == ")":
            if expect_operand:
                # Only "()" (the empty tuple) is legal here.
                if not ops or ops[-1][0] != "(":
                    raise _Reject
                ops.pop()
                level -= 1
                values.append(((), 0))
                expect_operand = False
                continue
            while ops and ops[-1][0] != "(":
                reduce_top()
            if not ops:
                raise _Reject  # unbalanced ")"
            ops.pop()
            level -= 1
        elif token == ".":
            raise _Reject  # attribute access needs a name
        elif expect_operand:
            if token in ("+", "-"):
                ops.append(("un", token))
            else:
                raise _Reject  # "*", "/", "//", "**" cannot start an operand
        else:
            prec = _BINARY[token][0]
            reduce_for(prec, right_assoc=token == "**")
            ops.append(("bin", token))
            expect_operand = True
    if expect_operand or level:
        raise _Reject
    while ops:
        reduce_top()
    assert len(values) == 1
    return values[0][0]
