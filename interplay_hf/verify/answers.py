"""Final-answer extraction and the two official outcome checks (docs/verifier.md §1).

Three extractors exist officially and each is used where the paper used it:
- :func:`extract_answer` (RL and evaluation): the text inside the first ``<answer> … </answer>``; if
  there is no closing tag, the text after the *last* ``<answer>`` up to the next ``<``, newline or end.
  With ``answer_colon=True`` (the outcome-only RL dataset reward) a plain ``Answer: N`` is a third choice.
- :func:`extract_graph_answer` (process verifier): the first ``<answer>`` followed by a number, else the
  first ``Answer: <number>``, as a float.

And two comparisons that disagree on purpose:
- :func:`outcome_eval` (evaluation): numeric (``007``, ``+7``, ``7.0``, ``7/1``, ``0,007`` all equal
  ``7``; relative tolerance 1e-8), else string equality after stripping a trailing ".".
- :func:`outcome_rl` (RL reward): string equality after ``strip()`` and ``rstrip(".")``.

Deliberate deviation: the official numeric check goes through ``float`` and so counts an absurdly long
answer (``"9" * 100_000`` → ``inf``) as equal to anything ``inf``-close, i.e. correct. Here numbers are
parsed exactly (``fractions.Fraction``) and a number with more than :data:`MAX_NUMBER_DIGITS` significant
digits is not treated as a number (it then only matches an identical string). The testdata contains no
such answer; every official ``outcome_eval`` verdict is reproduced.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from interplay_hf.verify.folding import fold_case

MAX_NUMBER_DIGITS = 1_000
_TOLERANCE = Fraction(1, 10**8)

_TAIL_STOP_RE = re.compile(r"[<\n]")
_SPACES_RE = re.compile(r"\s*")
_ANSWER_SPLIT_RE = re.compile(r"[\n<]")
# The official graph-answer regexes; the first runs on fold_case(text) (= IGNORECASE).
_GRAPH_TAG_RE = re.compile(r"<answer>\s*([-+]?\d+(?:\.\d+)?)")
_GRAPH_COLON_RE = re.compile(r"Answer:\s*([-+]?\d+(?:\.\d+)?)")

_FRACTION_RE = re.compile(r"([+-]?\d+)\s*/\s*([+-]?\d+)")
_DIGIT_COMMA_RE = re.compile(r"(?<=\d),(?=\d)")
_DECIMAL_RE = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?")
_ASCII_INT_RE = re.compile(r"[+-]?[0-9]{1,300}")


def extract_answer(
    text: str, answer_colon: bool = False, exact_lower: bool = True, folded: str | None = None
) -> str | None:
    """The answer text of a completion (stripped), or ``None`` when it has no ``<answer>`` tag.

    ``answer_colon`` adds the ``Answer: N`` fallback of the outcome-only RL reward.
    ``exact_lower`` keeps the official quirk of locating the last ``<answer>`` in ``text.lower()`` and
    slicing the original text at that index (they differ only after characters such as ``İ`` whose
    lower-case form is longer); ``False`` searches the original text case-insensitively instead.
    ``folded`` may pass :func:`~interplay_hf.verify.folding.fold_case` of ``text`` if already computed.
    """
    if not isinstance(text, str):
        return None
    if folded is None:
        folded = fold_case(text)
    opened = folded.find("<answer>")
    if opened != -1:
        closed = folded.find("</answer>", opened + 8)
        if closed != -1:
            return text[opened + 8 : closed].strip()
        if exact_lower:  # text.lower() is the folded text unless one of the three special letters occurs
            special = "\u0130" in text or "\u017f" in text or "\u0131" in text
            pos = (text.lower() if special else folded).rfind("<answer>")
        else:
            pos = folded.rfind("<answer>")
        if pos != -1:
            tail_start = pos + 8
            stop = _TAIL_STOP_RE.search(text, tail_start)
            return text[tail_start : stop.start() if stop else len(text)].strip()
    if answer_colon:
        colon = folded.find("answer:")
        if colon != -1:
            # Official: re.search(r"Answer:\s*(.*)", re.I), strip, then cut at the first newline or "<".
            start = _SPACES_RE.match(text, colon + 7).end()
            stop = _ANSWER_SPLIT_RE.search(text, start)
            return text[start : stop.start() if stop else len(text)].strip()
    return None


def extract_graph_answer(text: str, folded: str | None = None) -> float | None:
    """The process verifier's answer: first ``<answer> number`` (any case), else first ``Answer: number``."""
    if folded is None:
        folded = fold_case(text)
    # fold_case leaves digits, signs, dots and spaces alone, so the number can be read from ``folded``.
    match = _GRAPH_TAG_RE.search(folded) or _GRAPH_COLON_RE.search(text)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:  # pragma: no cover - every \d is a Unicode decimal float() accepts
        return None


def _to_int(digits: str) -> int:
    # int() accepts any Unicode decimal digits, like float() in the official code.
    return int(digits) if digits else 0


def parse_number(text: str) -> Fraction | None:
    """The exact value of an answer string as the official evaluation reads it, or ``None``.

    Accepts ``N/M`` fractions, digit-grouping commas, signs, leading zeros, ``5.`` and ``.5``
    (after stripping whitespace and trailing dots), with any Unicode decimal digits.
    """
    if not isinstance(text, str):
        return None
    t = text.strip().rstrip(".")
    if not t:
        return None
    frac = _FRACTION_RE.fullmatch(t)
    if frac is not None:
        num, den = frac.group(1), frac.group(2)
        if _significant(num) > MAX_NUMBER_DIGITS or _significant(den) > MAX_NUMBER_DIGITS:
            return None
        den_value = int(den)
        if den_value == 0:
            return None
        return Fraction(int(num), den_value)
    t = _DIGIT_COMMA_RE.sub("", t)
    dec = _DECIMAL_RE.fullmatch(t)
    if dec is None:
        return None
    sign, whole, frac_digits = dec.group(1), dec.group(2), dec.group(3)
    if frac_digits is None:
        if not whole:
            return None
        frac_digits = ""
    elif not whole and not frac_digits:
        return None  # a lone "." (or sign)
    whole = whole.lstrip("0")
    frac_digits = frac_digits.rstrip("0")
    if len(whole) + len(frac_digits) > MAX_NUMBER_DIGITS:
        return None  # deliberate: no float-infinity equality for absurdly long numbers
    value = Fraction(_to_int(whole)) + (Fraction(_to_int(frac_digits), 10 ** len(frac_digits)) if frac_digits else 0)
    return -value if sign == "-" else value


def _significant(digits: str) -> int:
    return len(digits.lstrip("+-").lstrip("0"))


# A gold answer that reads as NaN or an infinity (a NaN cell, a float overflow) is no answer at all: a sample that
# writes the same word must not be scored correct.
_NON_FINITE_RE = re.compile(r"[+-]?(?:nan|inf|infinity)\.?", re.IGNORECASE)


def gold_is_usable(gold: object) -> bool:
    """A gold answer a sample can match: present, not empty, not NaN/inf (as a float or as text)."""
    if gold is None or isinstance(gold, bool):
        return False
    if isinstance(gold, float) and not math.isfinite(gold):
        return False
    text = str(gold).strip()
    return bool(text) and not _NON_FINITE_RE.fullmatch(text)


def outcome_eval(pred: str | None, gold: str | int | None) -> bool:
    """Evaluation check (numeric, docs/verifier.md §1): the official ``exact_match`` without its float quirk."""
    if not gold_is_usable(gold):
        return False
    gold_text = str(gold).strip()
    pred_text = "" if pred is None else pred.strip()
    if pred_text == gold_text:
        return True  # every branch below agrees on identical strings; the usual case for a right answer
    if _ASCII_INT_RE.fullmatch(pred_text) and _ASCII_INT_RE.fullmatch(gold_text):
        # Fast path (integers of realistic length): |a − b| ≤ 1e-8 · max(1, |a|, |b|) in exact arithmetic.
        ia, ib = int(pred_text), int(gold_text)
        return abs(ia - ib) * 10**8 <= max(1, abs(ia), abs(ib))
    a, b = parse_number(pred_text), parse_number(gold_text)
    if a is not None and b is not None:
        return abs(a - b) <= _TOLERANCE * max(1, abs(a), abs(b))
    return pred_text.rstrip(".") == gold_text.rstrip(".")


def normalise_rl_answer(text: str | None) -> str:
    return text.strip().rstrip(".") if isinstance(text, str) else ""


def outcome_rl(pred: str | None, gold: str | int | None) -> bool:
    """RL check (string, docs/verifier.md §1): equal after ``strip()`` and ``rstrip(".")``; needs a gold answer."""
    if not gold_is_usable(gold):
        return False
    return normalise_rl_answer(pred) == normalise_rl_answer(str(gold))


def gold_answer_from_solution(solution: str) -> str | None:
    """The gold answer the official RL dataset derives from a solution (``Answer: 6.`` → ``"6"``)."""
    answer = extract_answer(solution, answer_colon=True)
    if answer is None:
        return None
    return answer.rstrip(".")
