"""The linear-time parser gives exactly the official regex parser's result, and is total and fast.

The official ``DEFINE_RE`` is re-implemented as a forward scan; these tests pin the two together on
hand-picked quirks, on random token soups and on mutated official solutions (hypothesis), and check
that the adversarial inputs that make the official regex take minutes are handled.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import interplay_hf.verify.parser as parser_module
from interplay_hf.verify import evaluate_arithmetic, find_defines, parse_solution, verify
from interplay_hf.verify.folding import fold_case
from interplay_hf.verify.naive import naive_define_matches, naive_parse_graph
from interplay_hf.verify.parser import _strip_tags, normalize_name

_ROWS_FILE = Path(__file__).parent / "fixtures" / "official_rows.jsonl"
ROWS = [json.loads(line) for line in _ROWS_FILE.read_text("utf-8").splitlines() if line.strip()]
SOLUTIONS = [r["solution"] for r in ROWS]

# Differential tests run the quadratic official regex, so they use fewer examples than test_verify_fuzz.py.
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("verify-ci", max_examples=300, **_COMMON)
settings.register_profile("verify-dev", max_examples=3000, **_COMMON)
settings.register_profile("verify-long", max_examples=30000, **_COMMON)
_PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile("verify-" + (_PROFILE_NAME if _PROFILE_NAME in ("ci", "dev", "long") else "ci"))


def _key(graph):
    """Graph as comparable data (NaN values compare equal to each other)."""
    nodes = {
        name: (n.variable, "nan" if n.value is not None and n.value != n.value else n.value, n.dependencies)
        for name, n in graph.nodes.items()
    }
    return nodes, graph.answer


def _same_as_official(text: str) -> None:
    cleaned = _strip_tags(text).strip()
    assert find_defines(cleaned) == naive_define_matches(cleaned)
    assert _key(parse_solution(text, max_chars=None).to_graph()) == _key(naive_parse_graph(text))


# --- hand-picked quirks of the official parser --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "a" accepted for "as", any case, extra words before the letter
        ("Define bear in Zoo a B; so B = 2.", [("bear in Zoo", "B")]),
        ("DEFINE bear in Zoo AS big fat B; so B = 2.", [("bear in Zoo", "B")]),
        # the lazy name stops at the FIRST " a <words> L;" — even inside the name
        ("Define bear in a zoo as B; so B = 2.", [("bear in", "B")]),
        # a step without "as X;" is swallowed by the next one; the last "Define" in the name wins
        ("Define bear in Zoo; so B = 2. Define wolf in Zoo as W; so W = 3.", [("wolf in Zoo", "W")]),
        # empty name when "Define" is followed by two spaces and "as X;"
        ("Define  as X; so X = 1.", [("", "X")]),
        ("Define as X; so X = 1.", []),
        # NUL is not whitespace: the first step is lost
        ("Define\x00 bear as B; so B = 2. Define wolf as W; so W = B.", [("wolf", "W")]),
        # U+FFFD is removed from names, whitespace collapsed, " .;" stripped
        ("Define \ufffdbear  in\n Zoo. as B; so B = 2.", [("bear in Zoo", "B")]),
        # non-ASCII case-insensitive matches of the official regex (İ ~ i, ſ ~ s)
        ("Defİne bear aſ B; so B = 2.", [("bear", "B")]),
    ],
)
def test_define_scan_quirks(text, expected):
    _same_as_official(text)
    steps = parse_solution(text).steps
    assert [(s.name, s.variable) for s in steps] == expected


def test_values_dependencies_and_answer_quirks():
    text = (
        "Define a as B; so B = 02. Define c as C; so C = B + 1 = 3 apples. Define d as D; so D = Bob. "
        "Define e as E; T = C * 2 = 6; so E = T = 6. Answer: 6. Define late as L; so L = 9."
    )
    _same_as_official(text)
    steps = parse_solution(text).steps
    got = {s.name: (s.value, sorted(s.dependencies)) for s in steps}
    assert got["a"] == (2.0, [])  # "02" is a SyntaxError for eval: falls back to the last number
    assert got["c"] == (3.0, ["a"])  # "3 apples" is not arithmetic: last number
    assert got["d"] == (None, ["a"])  # "Bob" contains the letter B: a dependency (single-letter scan)
    assert got["e"] == (6.0, ["c"])  # the temporary T folds C in
    assert parse_solution("Define e as E; so E = 1. Answer: 6.").answer == 6.0


def test_letters_defined_later_are_not_dependencies():
    steps = parse_solution("Define r as R; so R = B = 2. Define b as B; so B = 2.").steps
    assert steps[0].dependencies == set() and steps[1].dependencies == set()


def test_duplicate_names_keep_the_last_definition():
    graph = parse_solution("Define a as A; so A = 1. Define b as B; so B = A = 1. Define a as C; so C = 7.").to_graph()
    assert list(graph.nodes) == ["a", "b"] and graph.nodes["a"].value == 7.0 and graph.nodes["a"].variable == "C"


def test_strict_tokens_mode_scans_whole_words():
    text = "Define a as B; so B = 2. Define sob as S; so S = B + 1 = 3. Define w as W; so W = So on = 4."
    _same_as_official(text)
    compat = {s.name: s.dependencies for s in parse_solution(text).steps}
    strict = {s.name: s.dependencies for s in parse_solution(text, mode="strict_tokens").steps}
    assert compat["w"] == {"sob"} and strict["w"] == set()
    assert strict["sob"] == {"a"}


def test_normalize_name():
    assert normalize_name("  total \ufffdnumber  of schools. ") == "total number of schools"
    assert normalize_name("x; so B = 2. Define  adult bear") == "adult bear"
    assert normalize_name("undefined bear") == "undefined bear"
    assert normalize_name("predefine bear") == "predefine bear"  # \bDefine needs a word boundary


def test_fold_case_reproduces_ignorecase_for_all_of_unicode():
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1))
    folded = fold_case(everything)
    assert len(folded) == len(everything)

    def originals(pattern: str) -> set[str]:  # the characters whose folded form matches ``pattern``
        return {everything[m.start()] for m in re.finditer(pattern, folded)}

    assert set(re.findall(r"[A-Za-z]", everything, re.IGNORECASE)) == originals(r"[a-z]")
    for letter in "definaswr":
        assert set(re.findall(letter, everything, re.IGNORECASE)) == originals(letter), letter
    for char in [*";<>/:", *(c for c in everything if c.isspace())]:
        assert originals(re.escape(char)) == {char}, repr(char)


# --- differential tests against the official regexes ---------------------------------------------

TOKENS = [
    "Define", "define", "DEFINE", "Defİne", " ", "  ", "\n", "\t", "\xa0", "as", "a", "A", "aS", "ſ", "K",
    "X", "x", "B", "H", "so", ";", ";", ".", "=", "= ", "2", "3", "0", "02", "-", "+", "*", "**", "/", "(", ")",
    "Answer:", "<answer>", "</answer>", "<", ">", "\ufffd", "\x00", "adult bear in Zoo", " as ", " a ", "T1", "e",
    "1.5", "é", "İ",
]


@PROFILE
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_token_soup_parses_like_the_official_regex(text):
    _same_as_official(text)


_EDITS = [
    " ", "\n", ";", ".", "=", "a ", "as ", "Define ", "x", "2", "-", "(", ")", "**", "<answer>", "Answer:", "0", "\xa0",
]


@st.composite
def mutated_solutions(draw):
    text = draw(st.sampled_from(SOLUTIONS))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "move"]))
        if kind == "insert":
            text = text[:i] + draw(st.sampled_from(_EDITS)) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        else:
            j = draw(st.integers(0, len(text)))
            a, b = sorted((i, j))
            text = text[:a] + text[b:] + text[a:b]
    return text


@PROFILE
@given(mutated_solutions())
def test_mutated_solutions_parse_like_the_official_regex(text):
    _same_as_official(text)


@PROFILE
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_uncached_long_window_path_agrees(text):
    """Windows longer than the memo limit take the direct path; force it for every window."""
    old = parser_module._MEMO_CHARS
    parser_module._MEMO_CHARS = -1
    try:
        _same_as_official(text)
    finally:
        parser_module._MEMO_CHARS = old


# --- adversarial and bounded inputs ---------------------------------------------------------------


def test_catastrophic_define_input_is_linear():
    """Minutes for the official regex; here a plain scan (timing is measured in the benchmark)."""
    text = "Define " + "a " * 51200
    assert parse_solution(text).steps == []
    assert verify(text, gold_solution=SOLUTIONS[0]).format_error
    _same_as_official("Define " + "a " * 50 + "b;")
    ending = text + "b;"  # now a match exists: name "a", letter b
    steps = parse_solution(ending, max_chars=None).steps
    assert [(s.name, s.variable) for s in steps] == [("a", "b")]


@pytest.mark.parametrize(
    "text",
    [
        "<" * 100_000,
        "<answer>" * 20_000,
        "a =" + " " * 100_000,
        "Define x as B; so B = " + "(" * 5000 + "1" + ")" * 5000 + ".",
        "Define x as B; so B = " + "9**" * 1000 + "9.",
        "Define x as B; so B = " + "1+" * 40_000 + "1.",
        "Define " + " a" * 30_000 + " 1; " + " a" * 30_000 + " b;",
        bytes(range(256)).decode("latin-1") * 4000,
    ],
    ids=["lt", "answer-tags", "spaces", "parens", "power-tower", "long-sum", "improper-then-proper", "junk-1MB"],
)
def test_adversarial_inputs_are_total(text):
    result = verify(text, gold_solution=SOLUTIONS[0])
    assert 0.0 <= result.process_score <= 1.0
    parse_solution(text, max_chars=None)


def test_max_chars_truncates_the_input():
    solution = SOLUTIONS[-1]
    completion = " " + solution.rpartition("Answer:")[0] + "</solution> <answer> " + ROWS[-1]["answer"]
    assert verify(completion, gold_solution=solution).process_verified
    short = verify(completion, gold_solution=solution, max_chars=len(completion) // 2)
    assert short.truncated and short.missing and not short.outcome


# --- the arithmetic evaluator is Python's eval on the allowed alphabet -----------------------------


def _python_eval(expr: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = eval(expr, {"__builtins__": {}})  # noqa: S307 - generated test input only, no names
            return float(value)
        except Exception:  # noqa: BLE001
            return None


_ARITH = ["1", "2", "0", "00", "02", "007.5", "5.", ".5", "12", "3.25", "+", "-", "*", "/", "//", "(", ")", " ", "\t",
          "\n", "\x0c", "\xa0", "."]


@PROFILE
@given(st.lists(st.sampled_from(_ARITH), min_size=1, max_size=16).map("".join))
def test_evaluator_matches_python_eval(expr):
    expected = _python_eval(expr.strip())
    got = evaluate_arithmetic(expr)
    if expected is None or got is None:
        assert expected == got
    else:
        assert got == expected or (got != got and expected != expected)


@pytest.mark.parametrize(
    "expr",
    ["2**3", "-2**2", "2**-1", "2**3**2", "2**-3**2", "(-8)**0.5", "(-8)**(1/3)", "0**-1", "0.0**-1", "10.0**400",
     "10**400/10**399", "2**1024*1.0", "(1)(2)", "2(3)", "()", "()+()", "-()", "7//2", "-7//2", "1.5//0.5", "1/0",
     "(\n1\n+2)", "1\n+2", "1 2", "1.2.3", "5..", "(" * 200 + "1" + ")" * 200, "(" * 201 + "1" + ")" * 201],
)
def test_evaluator_edge_cases_match_python(expr):
    assert evaluate_arithmetic(expr) == _python_eval(expr) or (
        evaluate_arithmetic(expr) is None and _python_eval(expr) is None
    )


def test_evaluator_refuses_what_eval_cannot_finish():
    assert evaluate_arithmetic("9**9**9") is None  # eval would run for hours
    assert evaluate_arithmetic("2**10**8") is None
    assert evaluate_arithmetic("1" * 5000) is None  # CPython: integer literal over 4300 digits
    assert evaluate_arithmetic("-" * 5000 + "1") is None  # CPython: too deep to compile
    assert evaluate_arithmetic("3**1000 // 3**999") == 3.0  # big but bounded integers still work


def test_memo_tables_never_change_a_verdict(official_scored):
    """The parser memoises step windows and names across calls; warm and cold caches must agree exactly."""
    from interplay_hf.verify import clear_gold_cache
    from interplay_hf.verify import parser as parser_module

    def clear_all():
        clear_gold_cache()
        for obj in vars(parser_module).values():
            if hasattr(obj, "cache_clear") and not isinstance(obj, type):
                obj.cache_clear()

    rows = official_scored[::7]
    clear_all()
    cold = []
    for row in rows:
        clear_all()
        cold.append(verify(row["completion"], gold_solution=row["solution"]).to_dict())
    warm = [verify(row["completion"], gold_solution=row["solution"]).to_dict() for row in rows]
    warm_again = [verify(row["completion"], gold_solution=row["solution"]).to_dict() for row in reversed(rows)]
    assert cold == warm == list(reversed(warm_again))
