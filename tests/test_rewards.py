"""TRL reward functions: exact values (docs/verifier.md §6), completion shapes, registry and config."""

from __future__ import annotations

import functools
import pickle

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.rewards import (
    REWARD_FUNCS,
    format_reward,
    get_reward_func,
    get_reward_funcs,
    mixed_reward,
    outcome_reward,
    process_reward,
    strict_reward,
    validate_reward_config,
)
from interplay_hf.verify.core import verify

GOLD = (
    "Define elementary school in Hawkesbury as B; so B = 2. Define private middle school in Hawkesbury as X; "
    "so X = B = 2. Define culinarian school in Hawkesbury as R; so R = B = 2. Define total number of schools in "
    "Hawkesbury as E; U = R + B = 2 + 2 = 4; so E = U + X = 4 + 2 = 6. Answer: 6."
)
B = "Define elementary school in Hawkesbury as B; so B = 2."
X = "Define private middle school in Hawkesbury as X; so X = B = 2."
R = "Define culinarian school in Hawkesbury as R; so R = B = 2."
E = "Define total number of schools in Hawkesbury as E; U = R + B = 2 + 2 = 4; so E = U + X = 4 + 2 = 6."
EXTRA = "Define adult bear in South Zoo as Q; so Q = 3."


def completion(*steps: str, answer: str = "6") -> str:
    """A released checkpoint's continuation of the prompt (the closing tag is dropped by the stop)."""
    return " " + " ".join(steps) + f" </solution> <answer> {answer}"


# docs/verifier.md §6 (gold example A, α = 0.2): (completion, R_pv, mixed R, strict R)
EXAMPLE_A = {
    "exact gold": (completion(B, X, R, E), 1.0, 1.0, 1.0),
    "wrong answer 7": (completion(B, X, R, E, answer="7"), 0.75, 0.0, 0.0),
    "one step missing": (completion(B, X, E), 0.5, 0.6, 0.0),
    "one extra step": (completion(B, X, R, EXTRA, E), 0.75, 0.8, 0.0),
    "identical step duplicated": (completion(B, X, X, R, E), 1.0, 1.0, 1.0),
    "one wrong intermediate value": (completion(B, X.replace("= 2.", "= 3."), R, E), 0.75, 0.8, 0.0),
    "letter used before its definition": (completion(R, B, X, E), 0.75, 0.8, 0.0),
    "gold text with Answer: 6. and no tags": (" " + GOLD, 1.0, 0.0, 0.0),
}


@pytest.mark.parametrize("case", EXAMPLE_A, ids=list(EXAMPLE_A))
def test_format_md_example_a_values(case):
    text, r_pv, mixed, strict = EXAMPLE_A[case]
    columns = {"solution": [GOLD], "answer": ["6"]}
    assert process_reward([text], **columns) == [pytest.approx(r_pv)]
    assert mixed_reward([text], **columns) == [pytest.approx(mixed)]
    assert strict_reward([text], **columns) == [strict]


def test_ungated_blend_and_alpha():
    text = completion(B, X, R, E, answer="7")  # R_out = 0, R_pv = 0.75
    assert mixed_reward([text], solution=[GOLD], gated=False) == [pytest.approx(0.8 * 0.75)]
    assert get_reward_func("mixed_ungated")([text], solution=[GOLD]) == [pytest.approx(0.6)]
    one_missing = completion(B, X, E)
    assert get_reward_func("mixed", alpha=0.5)([one_missing], solution=[GOLD]) == [pytest.approx(0.75)]
    assert get_reward_func("mixed", alpha=1.0)([one_missing], solution=[GOLD]) == [1.0]


def test_outcome_reward_is_a_string_check_with_answer_colon_fallback():
    columns = {"solution": [GOLD] * 5, "answer": ["6"] * 5}
    texts = [completion(B, answer="6"), completion(B, answer="6."), completion(B, answer="006"), " " + GOLD, "nothing"]
    assert outcome_reward(texts, **columns) == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert get_reward_func("outcome", answer_colon=False)(texts, **columns) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_format_reward_needs_a_step_and_a_numeric_answer():
    texts = [completion(B), completion(B, answer="six"), " <answer> 6", completion(B) + " </answer>", "", None]
    assert format_reward(texts) == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_conversational_and_chat_wrapped_completions_score_like_plain_text():
    body = " ".join([B, X, R, E])
    plain = completion(B, X, R, E)
    chat = [{"role": "assistant", "content": plain.strip()}]
    wrapped = [
        {
            "role": "assistant",
            "content": f"Sure! Let me work through it.\n\n```text\n{body}\n```\n\nSo the result is <answer>6</answer>",
        }
    ]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": plain}]}]
    columns = {"solution": [GOLD] * 4, "answer": ["6"] * 4}
    for fn in (mixed_reward, strict_reward, process_reward, outcome_reward):
        assert fn([plain, chat, wrapped, parts], **columns) == [1.0, 1.0, 1.0, 1.0], fn.__name__


def test_trl_calling_convention_and_extra_columns():
    """TRL passes prompts, completion_ids, trainer_state, logging hooks and every dataset column."""
    columns = {
        "prompts": ["<question> ... </question> <solution>"] * 2,
        "completion_ids": [[1, 2], [3]],
        "trainer_state": object(),
        "log_extra": lambda *a, **k: None,
        "log_metric": lambda *a, **k: None,
        "solution": [GOLD, GOLD],
        "answer": ["6", "6"],
        "gold_graph": [None, None],
        "mode": ["normalforward", "normalforward"],  # a real dataset column: must not clash with options
        "op": [6, 6],
        "problem": ["...", "..."],
    }
    for name, fn in REWARD_FUNCS.items():
        values = fn(completions=[completion(B, X, R, E), completion(B, answer="9")], **columns)
        assert len(values) == 2 and all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values), name


def test_gold_graph_column_alone_is_enough():
    from interplay_hf.verify import parse_solution

    graph_json = parse_solution(GOLD).to_graph().to_json()
    assert mixed_reward([completion(B, X, R, E)], gold_graph=[graph_json]) == [1.0]
    assert mixed_reward([completion(B, X, E)], gold_graph=[graph_json]) == [pytest.approx(0.6)]


def test_rewards_never_raise():
    junk = [None, 5, b"\xff\xfe", {"content": None}, [], [{"role": "assistant"}], "Define " + "a " * 60_000]
    columns = {"solution": [GOLD] * len(junk), "answer": ["6"] * len(junk)}
    for fn in REWARD_FUNCS.values():
        values = fn(junk, **columns)
        assert len(values) == len(junk) and all(0.0 <= v <= 1.0 for v in values)
    # Missing, short or malformed gold columns: 0, not an exception.
    assert mixed_reward([completion(B)], solution=[]) == [0.0]
    assert strict_reward([completion(B)], gold_graph=["{not json"]) == [0.0]
    assert process_reward([completion(B), completion(B)], solution=[GOLD]) == [pytest.approx(0.25), 0.0]
    assert mixed_reward([]) == []


def _trl_name(func) -> str:
    """What TRL logs (trl.trainer.utils.get_callable_name; checked against TRL in test_rewards_grpo.py)."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


def test_names_are_kept_for_trl_logging():
    funcs = get_reward_funcs(["mixed", "strict", "outcome"], {"mixed": {"alpha": 0.2}})
    assert [_trl_name(f) for f in funcs] == ["mixed_reward", "strict_reward", "outcome_reward"]
    assert isinstance(funcs[0], functools.partial) and funcs[0].__name__ == "mixed_reward"
    assert funcs[0].__doc__ == mixed_reward.__doc__
    assert pickle.loads(pickle.dumps(funcs[0]))([completion(B, X, R, E)], solution=[GOLD]) == [1.0]


@pytest.mark.parametrize(
    ("names", "kwargs", "message"),
    [
        (["mixed", "nope"], None, "unknown reward 'nope'; valid rewards are: outcome, process, mixed"),
        ([], None, "reward_funcs is empty"),
        (["mixed"], {"mixed": {"alpha": 1.5}}, "reward_kwargs.mixed.alpha must be a number in [0, 1]"),
        (["mixed"], {"mixed": {"alpha": True}}, "reward_kwargs.mixed.alpha"),
        (["mixed"], {"mixed": {"beta": 0.1}}, "unknown option 'beta'; valid options for 'mixed' are: alpha, gated"),
        (["mixed"], {"mixed": {"gated": "no"}}, "reward_kwargs.mixed.gated must be true or false"),
        (["strict"], {"strict": {"alpha": 0.2}}, "unknown option 'alpha'"),
        (["mixed"], {"strict": {}}, "'strict' is not in reward_funcs"),
        (["mixed"], {"mixed": {"verify_mode": "loose"}}, "verify_mode must be one of compat, strict_tokens"),
        (["process"], {"process": {"max_chars": 0}}, "max_chars must be a positive integer"),
        (["mixed"], {"mixed": [0.2]}, "reward_kwargs.mixed must be a mapping"),
    ],
)
def test_config_errors_name_the_field_and_the_fix(names, kwargs, message):
    with pytest.raises(ConfigError) as err:
        validate_reward_config(names, kwargs)
    assert message in str(err.value)
    with pytest.raises(ConfigError):
        get_reward_funcs(names, kwargs)


def test_valid_configs():
    validate_reward_config(["mixed"], {"mixed": {"alpha": 0, "gated": False, "verify_mode": "strict_tokens"}})
    validate_reward_config("strict")
    assert get_reward_funcs("format") == [format_reward]


def test_process_reward_is_the_verifiers_process_score():
    """The reward reads the same verdicts as ``verify`` (a missing node, a dependency mismatch) and no others."""
    result = verify(completion(B, X, E), gold_solution=GOLD, gold_answer="6", mode="compat")
    assert result.missing == ["culinarian school in Hawkesbury"]
    assert result.dependency_mismatch == ["total number of schools in Hawkesbury"]
    assert process_reward([completion(B, X, E)], solution=[GOLD], answer=["6"]) == [result.process_score] != [1.0]
