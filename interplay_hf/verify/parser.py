"""Parse any completion into ``Define`` steps and a final answer — the official semantics in linear time.

Semantics (``mode="compat"``, docs/verifier.md §2), reproduced quirks included:
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

Speed: GRPO scores many samples of one prompt, and they share most of their text. The text after each
``Define`` head up to the next head (a "chunk") is memoised with everything the chunk alone decides —
the match, the normalised name, the body's assignments with their letters and literal values — so a
parse mostly looks chunks up and then only resolves letters to earlier names and values. Memo keys are
the text itself (and at most ``2 * _MEMO_CHARS`` long), so a result never depends on what was parsed
before; ``benchmarks/bench_verify.py`` reports warm and cold-memo throughput.

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


def strip_tags_mapped(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """``_strip_tags(text).strip()``, the text steps are parsed from, and where it came from: per run of text between
    tags, (its start in the cleaned text, its start and end in ``text``). Lets a viewer find a step in the original."""
    last_close = text.rfind(">")
    kept: list[tuple[int, int]] = []
    pos = 0
    if last_close >= 0:
        for match in _TAG_RE.finditer(text, 0, last_close + 1):
            kept.append((pos, match.start()))
            pos = match.end()
    kept.append((pos, len(text)))
    joined = "".join(text[a:b] for a, b in kept)
    offset = len(joined.lstrip()) - len(joined)  # the cleaned text starts after the leading whitespace
    pieces = []
    for a, b in kept:
        if b > a:
            pieces.append((offset, a, b))
        offset += b - a
    return joined.strip(), pieces


def _proper_semicolon(folded: str, semi: int) -> bool:
    """``folded[semi] == ";"`` preceded by ``<space><letter>``: where a DEFINE_RE match can end."""
    return semi >= 2 and "a" <= folded[semi - 1] <= "z" and folded[semi - 2].isspace()


def _first_good_run(folded: str, start: int, end: int | None = None) -> tuple[int, int] | None:
    """(start of the first good run at or after ``start``, index of its ``;``), or ``None``.

    With ``end``, only ``;`` before ``end`` are tried (``None`` then means: none before ``end``).
    """
    semi = start
    find = folded.find
    if end is None:
        end = len(folded)
    while True:
        semi = find(";", semi, end)
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
    return [found[:4] for found in _scan_defines(text, folded)]


class _Memo(dict):
    """A plain dict memo whose values may be ``None``; emptied when full (``cache_clear`` like lru_cache)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def put(self, key, value) -> None:
        if len(self) >= self.maxsize:
            self.clear()
        self[key] = value

    cache_clear = dict.clear


# "Chunk" = the text after one ``Define\s+`` head up to the next head (or the end). When the chunk itself
# holds the head's match (its ";" comes before the next head, the usual case), the match is a function
# of the chunk alone (it starts after whitespace and is not whitespace itself), and so are the
# normalised name and (when the next head matches too, so that the step's body is the rest of the
# chunk) the compat-mode body analysis. Chunks repeat across the samples of one prompt, so they are
# memoised: (end offset in the chunk, raw name, variable, name, body analysis, simple step). ``None``:
# the match (if any) needs the text beyond the chunk; the general scan handles that head. Keys are the
# original text; the good-run scan only looks at ASCII letters, spaces and ";", which fold_case maps
# the same way in any context.
_chunk_memo = _Memo(1 << 15)
_MISSING = object()


def _chunk_plan(text: str, folded: str, name_start: int, chunk_end: int):
    """The memoised plan of ``text[name_start:chunk_end]``."""
    if chunk_end - name_start > _MEMO_CHARS * 2:
        return _chunk_match(text, folded, name_start, chunk_end)
    chunk = text[name_start:chunk_end]
    plan = _chunk_memo.get(chunk, _MISSING)
    if plan is _MISSING:
        plan = _chunk_match(text, folded, name_start, chunk_end)
        _chunk_memo.put(chunk, plan)
    return plan


def _chunk_match(text: str, folded: str, name_start: int, chunk_end: int):
    hit = _first_good_run(folded, name_start, chunk_end)
    if hit is None:
        return None
    run_start, semi = hit
    raw = text[name_start:run_start]
    variable = text[semi - 1]
    analysis = _analyse_body(text[semi + 1 : chunk_end], False)
    return semi + 1 - name_start, raw, variable, normalize_name(raw), analysis, _simple_step(variable, *analysis)


def _simple_step(variable: str, body: str, assignments: tuple[_Assignment, ...]):
    """For a body whose assignments all target the step's own letter with values fixed by the text (most
    steps: ``so b = V = 2.``), what the step loop would compute, as far as the text decides it:
    (letters that may add dependencies, expressions, value). ``None`` for any other body."""
    letters: frozenset = frozenset()
    expressions = []
    value = None
    for target, expr_letters, expr_eval, expr_value, eval_letters in assignments:
        if target != variable or eval_letters is not None:
            return None
        if expr_letters:
            letters = letters | expr_letters if letters else expr_letters
        if expr_eval:
            expressions.append(expr_eval)
        if expr_value is not None:
            value = expr_value
    if value is None:
        value = _last_number(body)
    return letters, tuple(expressions), value


def _scan_defines(text: str, folded: str) -> list[tuple]:
    """:func:`find_defines` as ``(start, end, raw name, variable, name, chunk end, body analysis, simple)``.

    Every head's chunk is looked up in the memo first; the body analysis and ``simple``
    (:func:`_simple_step`, compat mode) are those of ``text[end:chunk end]`` (``None`` from the general scan).
    """
    found: list[tuple] = []
    # Fast path: every head is a plain "Define " (each "define" of the folded text is one, and none is
    # followed by more whitespace): str.split finds the chunks at C speed, and each chunk is a memo key.
    # (One head gains nothing from it, and that is the shape of the long adversarial inputs.)
    heads = folded.count("define")
    parts = text.split("Define ") if heads > 1 else ()
    if len(parts) - 1 == heads > 1:
        head = len(parts[0])
        for index in range(1, len(parts)):
            chunk = parts[index]
            if not chunk or chunk[0].isspace():
                return _scan_general(text, folded, head, found)
            # (long chunks are never memoised: skip hashing them)
            plan = _chunk_memo.get(chunk, _MISSING) if len(chunk) <= _MEMO_CHARS * 2 else _MISSING
            name_start = head + 7
            chunk_end = name_start + len(chunk)
            if plan is _MISSING:
                plan = _chunk_plan(text, folded, name_start, chunk_end)
            if plan is None:
                return _scan_general(text, folded, head, found)
            rel_end, raw, variable, name, analysis, simple = plan
            found.append((head, name_start + rel_end, raw, variable, name, chunk_end, analysis, simple))
            head = chunk_end
        return found
    return _scan_general(text, folded, 0, found)


def _scan_general(text: str, folded: str, pos: int, found: list[tuple]) -> list[tuple]:
    """:func:`_scan_defines` from the first head at or after ``pos`` on, appending to ``found``."""
    heads = _DEFINE_HEAD_RE.finditer(folded, pos)  # every "define\s+" (never overlapping), read lazily
    current = next(heads, None)
    while current is not None:
        head, name_start = current.span()
        following = next(heads, None)
        chunk_end = len(text) if following is None else following.start()
        plan = _chunk_plan(text, folded, name_start, chunk_end)
        if plan is not None:
            # The match ends before the next head, so the next search (from its end) finds that head.
            rel_end, raw, variable, name, analysis, simple = plan
            found.append((head, name_start + rel_end, raw, variable, name, chunk_end, analysis, simple))
            current = following
            continue
        # The official DEFINE_RE from this head on: the lazy name may run past later heads.
        hit = _first_good_run(folded, name_start)
        if hit is not None:
            raw = text[name_start : hit[0]]
            semi = hit[1]
        else:
            # DEFINE_RE may give back part of ``Define\s+`` (it keeps one space, the tail's ``\s+``
            # takes the rest) and match with an empty name: "Define  as X;". Otherwise nothing later
            # can match either, since every later good run would also follow this Define.
            own = head + 6
            if name_start - own < 2 or _GOOD_RUN_RE.match(folded, own) is None:
                break
            semi = _SEGMENT_RE.match(folded, own).end()
            if semi >= len(folded) or folded[semi] != ";" or not _proper_semicolon(folded, semi):
                break
            raw = ""
        found.append((head, semi + 1, raw, text[semi - 1], normalize_name(raw), -1, None, None))
        current = following
        while current is not None and current.start() <= semi:  # the next search starts after the ";"
            current = next(heads, None)
    return found


_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_EVAL_MEMO_CHARS = 64  # substituted expressions up to this length are memoised ("3 + 2", "20 * 1.0")


def _is_int_literal(expr: str) -> bool:
    """A plain ASCII integer literal without leading zeros: ``eval`` gives ``float(expr)`` exactly."""
    return expr.isdigit() and expr.isascii() and (expr[0] != "0" or len(expr) == 1)


_evaluate_arithmetic_memo = lru_cache(maxsize=1 << 14)(evaluate_arithmetic)


def _evaluate(expr: str, values: dict[str, float]) -> float | None:
    """The official ``_evaluate_expression``: substitute known letters, eval if pure arithmetic."""
    if _is_int_literal(expr) and len(expr) < 17:
        return float(expr)  # fast path: a plain integer literal
    if not _ASCII_LETTERS.isdisjoint(expr):
        for letter in _ASCII_LETTERS.intersection(expr):
            if letter not in values:
                return None
        expr = _STANDALONE_LETTER_RE.sub(lambda m: repr(values[m.group()]), expr)
    expr = expr.strip()
    if not expr or not ALLOWED_EVAL_RE.match(expr):
        return None
    if len(expr) <= _EVAL_MEMO_CHARS:  # pure function of the string; small ones repeat across samples
        return _evaluate_arithmetic_memo(expr)
    return evaluate_arithmetic(expr)


# One assignment of a body, everything that depends on the text alone (computed once per distinct body):
# (target letter, letters of expr that may add dependencies, expr_eval, value, letters of expr_eval).
# ``value`` is final when the last item is None (no letters: the evaluation needs no state); otherwise
# it is the fallback (last number of the assignment) and the letters must be substituted at parse time.
_Assignment = tuple[str, frozenset, str, "float | None", "frozenset | None"]


def _analyse_body(raw_body: str, strict_tokens: bool) -> tuple[str, tuple[_Assignment, ...]]:
    """The stripped step body (cut at ``Answer:``) and its assignments, as far as the text decides them."""
    body = raw_body.strip()
    cut = body.find("Answer:")
    if cut != -1:
        body = body[:cut].strip()
    assignments = []
    for match in _ASSIGNMENT_RE.finditer(body):
        target, expr = match.groups()
        expr = expr.strip()
        expr_eval = expr.rpartition("=")[2].strip() if "=" in expr else expr
        if strict_tokens:
            letters = frozenset(_STANDALONE_LETTER_RE.findall(expr))
        else:
            letters = _ASCII_LETTERS.intersection(expr)  # the official single-character scan
        eval_letters = None
        if expr_eval.isdigit() and expr_eval.isascii() and (expr_eval[0] != "0" or len(expr_eval) == 1):
            value = float(expr_eval)  # a plain integer literal (_is_int_literal, inlined): eval gives the same
        else:
            value = None
            if expr_eval:
                if _ASCII_LETTERS.isdisjoint(expr_eval):
                    value = _evaluate(expr_eval, {})
                else:
                    eval_letters = _ASCII_LETTERS.intersection(expr_eval)
            if value is None:
                value = _last_number(match.group(0))
        assignments.append((target, letters, expr_eval, value, eval_letters))
    return body, tuple(assignments)


_analyse_body_memo = lru_cache(maxsize=1 << 15)(_analyse_body)


def _last_number(text: str) -> float | None:
    last = None
    for match in _NUMBER_RE.finditer(text):
        last = match
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
    steps, answer = parse_steps(text, mode, folded)
    return ParsedSolution([Step(*step) for step in steps], answer=answer)


# One piece on purpose (~90 lines): a single left-to-right scan over the "Define ..." sentences that carries its
# position and state from one sentence to the next (docs/verifier.md §2); it runs for every completion scored.
def parse_steps(text: str, mode: str, folded: str) -> tuple[list[list], float | None]:
    """:func:`parse_text` with each step as a list ``[name, variable, dependencies, value, expressions]``
    (the fields of :class:`Step`): :func:`~interplay_hf.verify.core.verify` needs no Step objects."""
    answer = extract_graph_answer(text, folded)
    if ";" not in text:  # every step ends in "X;": nothing to parse (and no need to strip tags)
        return [], answer
    cleaned = _strip_tags(text).strip()
    defines = _scan_defines(cleaned, fold_case(cleaned))
    if not defines:
        return [], answer

    # The official ``_process_step`` for each step, inlined (this loop is the hot path): letter → name of
    # earlier steps, every letter's latest value, and per step its temporaries' folded dependencies.
    strict_tokens = mode == "strict_tokens"
    var_to_param: dict[str, str] = {}
    values: dict[str, float] = {}
    steps: list[list] = []
    last = len(defines) - 1
    for index, (_start, end, _raw, current, name, chunk_end, analysis, simple) in enumerate(defines):
        body_end = defines[index + 1][0] if index < last else len(cleaned)
        if body_end == chunk_end and not strict_tokens:  # the body is the rest of the (memoised) chunk
            if simple is not None:  # no temporaries, no evaluation: only the dependencies need the state
                letters, expressions_fixed, value = simple
                deps = {var_to_param[c] for c in letters if c in var_to_param} if letters else set()
                if value is not None:
                    values[current] = value
                steps.append([name, current, deps, value, list(expressions_fixed)])
                var_to_param[current] = name
                continue
            body, assignments = analysis
        elif body_end - end <= _MEMO_CHARS * 2:  # bodies repeat across the samples of one prompt
            body, assignments = _analyse_body_memo(cleaned[end:body_end], strict_tokens)
        else:
            body, assignments = _analyse_body(cleaned[end:body_end], strict_tokens)
        step_deps: set[str] = set()
        expressions: list[str] = []
        temporaries: dict[str, set[str]] = {}
        last_value: float | None = None
        for target, letters, expr_eval, value, eval_letters in assignments:
            # Dependencies: parameters of earlier steps whose letter occurs, plus temporaries' folded ones.
            if not letters:
                deps: set[str] = set()
            else:
                deps = {var_to_param[c] for c in letters if c in var_to_param}
                if temporaries:
                    for letter in letters:
                        folded_deps = temporaries.get(letter)
                        if folded_deps:
                            deps.update(folded_deps)
            if target == current:
                if deps:
                    step_deps.update(deps)
                if expr_eval:
                    expressions.append(expr_eval)
            elif target in temporaries:
                temporaries[target].update(deps)
            else:
                temporaries[target] = deps
            if eval_letters is not None and values.keys() >= eval_letters:
                evaluated = _evaluate(expr_eval, values)
                if evaluated is not None:
                    value = evaluated
            if value is not None:
                values[target] = value
                if target == current:
                    last_value = value
        if last_value is None:
            last_value = _last_number(body)
            if last_value is not None:
                values[current] = last_value
        steps.append([name, current, step_deps, last_value, expressions])
        var_to_param[current] = name  # after the step: self-references never become dependencies

    # Post pass: a step without a value takes a later value of its letter (reverse-mode "x").
    for step in steps:
        _name, variable, _deps, value, expressions = step
        if value is None:
            for expr in reversed(expressions):
                value = _evaluate(expr, values)
                if value is not None:
                    break
            if value is None:
                value = values.get(variable)
            step[3] = value
        if value is not None:
            values[variable] = value

    return steps, answer
