"""Answer extraction and the two official outcome checks (docs/verifier.md)."""

from __future__ import annotations

import pytest

from interplay_hf.verify import (
    extract_answer,
    extract_graph_answer,
    gold_answer_from_solution,
    outcome_eval,
    outcome_rl,
    parse_number,
    verify,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" ... </solution> <answer> 6 </answer>", "6"),
        (" ... </solution> <answer> 6", "6"),  # sampling stops at </answer> and drops it
        (" ... <answer> 6 </answer> <answer> 5 </answer>", "6"),  # first closed pair
        (" ... <answer> 6 <answer> 5", "5"),  # no closing tag: the LAST open tag
        (" ... <ANSWER> 6 </Answer>", "6"),
        (" ... <answer> 5 trailing <tag> 5", "5 trailing"),  # up to the next "<"
        (" ... <answer> 5\n7", "5"),  # ... or newline
        (" ... <answer>", ""),
        ("Answer: 6.", None),  # RL and evaluation need the tag
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_answer_colon_fallback_is_only_for_the_outcome_only_reward():
    text = "Define a as B; so B = 6. Answer:\n 6. <eos>"
    assert extract_answer(text) is None
    assert extract_answer(text, answer_colon=True) == "6."
    assert extract_answer("<answer> 7 ... Answer: 6", answer_colon=True) == "7 ... Answer: 6"


def test_lowercase_index_quirk_is_kept_in_compat_only():
    # "İ".lower() is two characters: the official code slices the original text late.
    text = "İİ <answer> 12"
    assert extract_answer(text) == "2"
    assert extract_answer(text, exact_lower=False) == "12"


def test_graph_answer_prefers_a_numeric_tag_then_answer_colon():
    assert extract_graph_answer("<answer> abc </answer> <answer> 5") == 5.0
    assert extract_graph_answer("<answer> +05.50") == 5.5
    assert extract_graph_answer("<answer> 0,005") == 0.0
    assert extract_graph_answer("Answer: 6. <answer> x") == 6.0
    assert extract_graph_answer("answer: 6") is None  # "Answer:" is case-sensitive here
    assert extract_graph_answer("<answer> ５") == 5.0  # Unicode digits, as float() reads them


@pytest.mark.parametrize(
    ("pred", "gold", "evaluation", "rl"),
    [
        ("7", "7", True, True),
        ("007", "7", True, False),
        ("+7", "7", True, False),
        ("7.0", "7", True, False),
        ("7.", "7", True, True),
        ("14/2", "7", True, False),
        ("0,007", "7", True, False),
        ("７", "7", True, False),
        ("-7", "7", False, False),
        ("the answer is 7", "7", False, False),
        ("7\u200b", "7", False, False),  # a zero-width space is not whitespace
        ("", "7", False, False),
        (None, "7", False, False),
        ("7", "", False, False),  # no gold answer: never correct
        ("abc", "abc", True, True),  # non-numbers compare as strings
        ("100000001", "100000000", True, False),  # relative tolerance 1e-8, as float comparison
    ],
)
def test_outcome_checks(pred, gold, evaluation, rl):
    assert outcome_eval(pred, gold) is evaluation
    assert outcome_rl(pred, gold) is rl


def test_absurdly_long_answers_are_not_infinitely_equal():
    """Deliberate deviation: the official float() check calls 9 × 100,000 equal to any huge number."""
    huge = "9" * 100_000
    assert parse_number(huge) is None
    assert not outcome_eval(huge, "81")
    assert not outcome_eval(huge, "9" * 99_999 + "8")
    assert outcome_eval(huge, huge)  # identical strings still match
    assert outcome_eval("0" * 5000 + "81", "81")  # leading zeros do not count towards the cap
    completion = " Define a as B; so B = 81. </solution> <answer> " + huge
    assert not verify(completion, gold_solution="Define a as B; so B = 81. Answer: 81.").outcome


def test_parse_number_is_exact():
    assert parse_number("0.1") * 3 == parse_number("0.3")
    assert parse_number("-.5") == parse_number("-0.5") == -parse_number("1/2")
    assert parse_number("1/0") is None and parse_number(".") is None and parse_number("+") is None


def test_gold_answer_from_solution():
    assert gold_answer_from_solution("Define a as B; so B = 6. Answer: 6.") == "6"
    assert gold_answer_from_solution("no answer here") is None
    r = verify(" <answer> 6", gold_solution="Define a as B; so B = 6. Answer: 6.")
    assert r.gold_answer == "6" and r.outcome_reward
    assert verify(" <answer> 6", gold_answer=6).outcome  # an int gold answer works too
