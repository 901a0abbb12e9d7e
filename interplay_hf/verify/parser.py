"""Parse any completion into ``Define`` steps and a final answer — the official semantics in linear time.

Semantics (``mode="compat"``, reference.md §2.1), reproduced quirks included:
1. The graph answer is read from the raw text (:func:`~interplay_hf.verify.answers.extract_graph_answer`),
   then tags ``<…>`` are removed and the text stripped.
2. Steps are the matches of the official ``DEFINE_RE``
   ``Define\\s+(.*?)\\s+(?:as|a)\\s+(?:[A-Za-z]+\\s+)*([A-Za-z]);`` (any case, ``.`` spans newlines): the name
   runs lazily to the first place where ``" as X;"``-like text follows, *even across other steps* (the
   last ``Define`` inside a name then wins in normalisation). Normalisation: collapse whitespace, drop
   U+FFFD, strip ``" .;"``, keep the text after the last ``"Define "``.
3. A step's body runs to the next step (text from ``Answer:`` on is ignored). Each ``L = expr`` (``L`` any
   ASCII letter, ``expr`` up to ``.``/``;``) is an assignment; its value is the last ``=`` segment
   evaluated when it is pure arithmetic after substituting known letters, else the last number of the
   assignment. Letters defined by *earlier* steps that occur anywhere in ``expr`` are dependencies (a
   single-character scan: ``so`` contains ``s`` and ``o``); temporaries fold their dependencies in.
4. The step value is the last value assigned to its letter, else the last number in its body; a post
   pass fills steps without a value from later assignments (reverse-mode ``x``).

``DEFINE_RE`` backtracks super-linearly (minutes on ``"Define " + "a " * 51200``). Here the same matches
come from a forward scan in which every character is visited a bounded number of times. The lazy name
of a ``Define`` at ``p`` stops at the first "good run" after it: a run of spaces followed by
``as``/``a`` and a space, such that everything from there to the next character that is neither a
letter nor a space is letters and spaces, and that character is a ``;`` preceded by ``<space><letter>``.
The scan walks the ``;`` candidates in order and, between them, the space runs followed by ``as``/``a``;
a candidate whose letters-and-spaces segment does not reach a proper ``;`` lets the scan skip that whole
segment. Searches run case-sensitively on :func:`~interplay_hf.verify.folding.fold_case` of the text,
which reproduces ``re.IGNORECASE`` exactly. ``tests/test_verify_parser.py`` checks the scan against the
official regex on random text. Evaluation never calls ``eval`` (see :mod:`interplay_hf.verify.arith`).

``mode="strict_tokens"`` (a documented cleaner option, never the default): dependencies are the
*standalone* letters of an expression (word-bounded), so prose such as ``we solve`` adds none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from interplay_hf.verify.answers import extract_graph_answer
from interplay_hf.verify.arith import ALLOWED_EVAL_RE, evaluate_arithmetic
from interplay_hf.verify.folding import fold_case
from interplay_hf.verify.graph import GraphNode, SolutionGraph

MODES = ("compat", "strict_tokens")
DEFAULT_MAX_CHARS = 100_000

_TAG_RE = re.compile(r"<[^>]+>")
# The following run on fold_case(text), where [a-z] and lower-case literals equal the official
# case-insensitive [A-Za-z], "Define", "as" and "a".
_DEFINE_HEAD_RE = re.compile(r"define\s+")
_GOOD_RUN_RE = re.compile(r"(?<!\s)\s++(?=as\s|a\s)")
_SEGMENT_RE = re.compile(r"[a-z\s]*+")

_ASSIGNMENT_RE = re.compile(r"([A-Za-z])\s*=\s*([^.;]+)")
_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
_STANDALONE_LETTER_RE = re.compile(r"\b[A-Za-z]\b")


@dataclass(slots=True)
class Step:
    """One ``Define {name} as {variable};`` step."""

    name: str
    variable: str
    dependencies: set[str] = field(default_factory=set)
    value: float | None = None
    expressions: list[str] = field(default_factory=list)


@dataclass
class ParsedSolution:
    """The steps in text order (duplicates kept), the graph answer, and whether input was cut."""

    steps: list[Step]
    answer: float | None
    truncated: bool = False

    def to_graph(self) -> SolutionGraph:
        nodes: dict[str, GraphNode] = {}
        for step in self.steps:  # a name defined twice keeps its last definition
            nodes[step.name] = GraphNode(step.name, step.variable, step.value, frozenset(step.dependencies))
        return SolutionGraph(nodes=nodes, answer=self.answer)


_MEMO_CHARS = 512  # names and windows up to this length are memoised (they repeat across samples)


def normalize_name(raw: str) -> str:
    """The official parameter-name normalisation (whitespace, U+FFFD, ``" .;"``, last ``Define``)."""
    return _normalize_name_memo(raw) if len(raw) <= _MEMO_CHARS else _normalize_name(raw)


def _normalize_name(raw: str) -> str:
    name = " ".join(raw.split())
    if "\ufffd" in name:
        name = name.replace("\ufffd", "")
    name = name.strip(" .;")
    folded = fold_case(name)
    pos = folded.rfind("define")
    while pos != -1:
        # re.finditer(r"\bDefine\s+", name, re.I): keep the text after the last such match.
        after = pos + 6
        if after < len(name) and name[after].isspace() and (pos == 0 or not _is_word_char(name[pos - 1])):
            while after < len(name) and name[after].isspace():
                after += 1
            name = name[after:]
            break
        pos = folded.rfind("define", 0, pos)
    return name.strip(" .;")


_normalize_name_memo = lru_cache(maxsize=1 << 15)(_normalize_name)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _strip_tags(text: str) -> str:
    # ``<[^>]+>`` is quadratic on many "<" without a later ">"; no tag can start after the last ">".
    last_close = text.rfind(">")
    if last_close < 0:
        return text
    return _TAG_RE.sub("", text[: last_close + 1]) + text[last_close + 1 :]


def _proper_semicolon(folded: str, semi: int) -> bool:
    """``folded[semi] == ";"`` preceded by ``<space><letter>``: where a DEFINE_RE match can end."""
    return semi >= 2 and "a" <= folded[semi - 1] <= "z" and folded[semi - 2].isspace()


def _first_good_run(folded: str, start: int) -> tuple[int, int] | None:
    """(start of the first good run at or after ``start``, index of its ``;``), or ``None``."""
    semi = start
    find = folded.find
    while True:
        semi = find(";", semi)
        if semi == -1:
            return None
        # A proper ";" is preceded by "<space><letter>" (inlined _proper_semicolon: this is the hot loop).
        if semi >= 2 and "a" <= folded[semi - 1] <= "z" and folded[semi - 2].isspace():
            if semi - start <= _MEMO_CHARS:
                offset = _good_run_in_window(folded[start:semi])
                if offset is not None:
                    return start + offset, semi
            else:
                found = _good_run_between(folded, start, semi)
                if found is not None:
                    return found, semi
        start = semi + 1  # runs before a ";" belong to segments that end at or before it
        semi += 1


def _good_run_between(folded: str, start: int, semi: int) -> int | None:
    """The first good run in ``[start, semi)`` whose letters-and-spaces segment ends at ``semi``."""
    low = start
    while low < semi - 1:
        run = _GOOD_RUN_RE.search(folded, low, semi - 1)
        if run is None:
            return None
        segment_end = _SEGMENT_RE.match(folded, run.start()).end()
        if segment_end == semi:
            return run.start()
        low = segment_end + 1  # every run before segment_end shares its (improper) end
    return None


@lru_cache(maxsize=1 << 15)
def _good_run_in_window(window: str) -> int | None:
    # ``window`` is folded[start:semi]; folded[start - 1] is never a space that a run could extend.
    return _good_run_between(window, 0, len(window))


def find_defines(text: str, folded: str | None = None) -> list[tuple[int, int, str, str]]:
    """``DEFINE_RE.finditer(text)`` as ``(start, end, raw name, variable)``, in linear time."""
    if folded is None:
        folded = fold_case(text)
    found: list[tuple[int, int, str, str]] = []
    pos = 0
    while True:
        head = _DEFINE_HEAD_RE.search(folded, pos)
        if head is None:
            break
        name_start = head.end()
        hit = _first_good_run(folded, name_start)
        if hit is not None:
            name = text[name_start : hit[0]]
            semi = hit[1]
        else:
            # DEFINE_RE may give back part of ``Define\s+`` (it keeps one space, the tail's ``\s+``
            # takes the rest) and match with an empty name: "Define  as X;". Otherwise nothing later
            # can match either, since every later good run would also follow this Define.
            own = head.start() + 6
            if name_start - own < 2 or _GOOD_RUN_RE.match(folded, own) is None:
                break
            semi = _SEGMENT_RE.match(folded, own).end()
            if semi >= len(folded) or folded[semi] != ";" or not _proper_semicolon(folded, semi):
                break
            name = ""
        found.append((head.start(), semi + 1, name, text[semi - 1]))
        pos = semi + 1
    return found


_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class _StepParser:
    """State of one parse: letter → parameter name of earlier steps, and every letter's latest value."""

    def __init__(self, mode: str) -> None:
        self.strict_tokens = mode == "strict_tokens"
        self.var_to_param: dict[str, str] = {}
        self.values: dict[str, float] = {}

    def dependencies(self, expr: str, temporaries: dict[str, set[str]]) -> set[str]:
        """Parameters of earlier steps (and temporaries' folded ones) whose letter occurs in ``expr``."""
        if self.strict_tokens:
            letters = set(_STANDALONE_LETTER_RE.findall(expr))
        else:
            letters = _ASCII_LETTERS.intersection(expr)  # the official single-character scan
        deps: set[str] = set()
        var_to_param = self.var_to_param
        for letter in letters:
            param = var_to_param.get(letter)
            if param is not None:
                deps.add(param)
            if temporaries:
                folded = temporaries.get(letter)
                if folded:
                    deps.update(folded)
        return deps

    def evaluate(self, expr: str) -> float | None:
        """The official ``_evaluate_expression``: substitute known letters, eval if pure arithmetic."""
        if expr.isdigit() and expr.isascii() and (expr[0] != "0" or len(expr) == 1) and len(expr) < 17:
            return float(expr)  # fast path: a plain integer literal
        if not _ASCII_LETTERS.isdisjoint(expr):
            values = self.values
            for letter in _ASCII_LETTERS.intersection(expr):
                if letter not in values:
                    return None
            expr = _STANDALONE_LETTER_RE.sub(lambda m: repr(values[m.group()]), expr)
        expr = expr.strip()
        if not expr or not ALLOWED_EVAL_RE.match(expr):
            return None
        return evaluate_arithmetic(expr)

    def process(self, step: Step, body: str) -> None:
        """Run the body's assignments: dependencies, temporaries and values (official ``_process_step``)."""
        current = step.variable
        temporaries: dict[str, set[str]] = {}
        values = self.values
        var_to_param = self.var_to_param
        step_deps = step.dependencies
        expressions = step.expressions
        strict_tokens = self.strict_tokens
        last_value: float | None = None
        for match in _ASSIGNMENT_RE.finditer(body):
            target, expr = match.groups()
            expr = expr.strip()
            expr_eval = expr.rpartition("=")[2].strip() if "=" in expr else expr
            if strict_tokens or temporaries:
                deps = self.dependencies(expr, temporaries)
            else:  # the common case, inlined: single-character scan, no temporaries yet
                letters = _ASCII_LETTERS.intersection(expr)
                deps = {var_to_param[c] for c in letters if c in var_to_param} if letters else set()
            if target == current:
                if deps:
                    step_deps.update(deps)
                if expr_eval:
                    expressions.append(expr_eval)
            elif target in temporaries:
                temporaries[target].update(deps)
            else:
                temporaries[target] = deps
            if expr_eval.isdigit() and expr_eval.isascii() and (expr_eval[0] != "0" or len(expr_eval) == 1):
                value = float(expr_eval)  # fast path: a plain integer literal (eval gives the same)
            else:
                value = self.evaluate(expr_eval) if expr_eval else None
                if value is None:
                    value = _last_number(match.group(0))
            if value is not None:
                values[target] = value
                if target == current:
                    last_value = value
        if last_value is None:
            last_value = _last_number(body)
            if last_value is not None:
                values[current] = last_value
        step.value = last_value
        var_to_param[current] = step.name


def _last_number(text: str) -> float | None:
    last = None
    for last in _NUMBER_RE.finditer(text):
        pass
    if last is None:
        return None
    try:
        return float(last.group())
    except ValueError:  # pragma: no cover - \d only matches digits float() accepts
        return None


def parse_solution(text: str, mode: str = "compat", max_chars: int | None = DEFAULT_MAX_CHARS) -> ParsedSolution:
    """Parse a solution or completion (total: any string gives a result, never an exception).

    Text beyond ``max_chars`` characters is dropped before parsing (``truncated=True``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    truncated = max_chars is not None and len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    parsed = parse_text(text, mode, fold_case(text))
    parsed.truncated = truncated
    return parsed


def parse_text(text: str, mode: str, folded: str) -> ParsedSolution:
    """:func:`parse_solution` of an already truncated ``text`` whose :func:`fold_case` is ``folded``."""
    answer = extract_graph_answer(text, folded)
    if ";" not in text:  # every step ends in "X;": nothing to parse (and no need to strip tags)
        return ParsedSolution([], answer=answer)
    cleaned = _strip_tags(text).strip()
    defines = find_defines(cleaned)
    if not defines:
        return ParsedSolution([], answer=answer)

    parser = _StepParser(mode)
    steps: list[Step] = []
    last = len(defines) - 1
    for index, (_start, end, raw_name, variable) in enumerate(defines):
        body = cleaned[end : defines[index + 1][0] if index < last else len(cleaned)].strip()
        cut = body.find("Answer:")
        if cut != -1:
            body = body[:cut].strip()
        step = Step(normalize_name(raw_name), variable)
        parser.process(step, body)
        steps.append(step)

    # Post pass: a step without a value takes a later value of its letter (reverse-mode "x").
    values = parser.values
    for step in steps:
        if step.value is None:
            for expr in reversed(step.expressions):
                value = parser.evaluate(expr)
                if value is not None:
                    step.value = value
                    break
            if step.value is None and step.variable in values:
                step.value = values[step.variable]
        if step.value is not None:
            values[step.variable] = step.value

    return ParsedSolution(steps, answer=answer)
