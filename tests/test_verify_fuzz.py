"""Property-based fuzzing: the verifier and the rewards are total and well-behaved on any input.

Examples per run come from a hypothesis profile chosen by ``HYPOTHESIS_PROFILE``: ``ci`` (default,
2,000 examples), ``dev`` (10,000) or ``long`` (100,000).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interplay_hf.rewards import REWARD_FUNCS
from interplay_hf.verify import verify

_ROWS_FILE = Path(__file__).parent / "fixtures" / "official_rows.jsonl"
ROWS = [json.loads(line) for line in _ROWS_FILE.read_text("utf-8").splitlines() if line.strip()]

_COMMON = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": False}
settings.register_profile("verify-fuzz-ci", max_examples=2_000, **_COMMON)
settings.register_profile("verify-fuzz-dev", max_examples=10_000, **_COMMON)
settings.register_profile("verify-fuzz-long", max_examples=100_000, **_COMMON)
_PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
PROFILE = settings.get_profile("verify-fuzz-" + (_PROFILE_NAME if _PROFILE_NAME in ("ci", "dev", "long") else "ci"))

# Generous: only a super-linear blow-up (the official regex takes minutes) could reach it.
MAX_SECONDS_PER_CALL = 10.0

_PIECES = [
    " Define ", "Define ", " as ", " a ", ";", ". ", " = ", "so ", "+", "-", "*", "**", "/", "(", ")", "0", "02",
    "7", "1.5", "-3", "x", "X", "B", "U", "</solution>", " <answer> ", "</answer>", "<answer>", "Answer: ", "\n",
    "\x00", "\ufffd", "😀", "İ", "ſ", "\xa0", "\u200b", "[EOS]", "<", ">", "adult bear in South Zoo",
    "total number of schools in Hawkesbury",
]


def _completion(row: dict) -> str:
    body, _, tail = row["solution"].rpartition("Answer:")
    return f" {body.strip()} </solution> <answer> {tail.strip().rstrip('.')}"


@st.composite
def completions(draw):
    row = draw(st.sampled_from(ROWS))
    kind = draw(st.sampled_from(["text", "soup", "mutated", "bytes", "chat", "gold"]))
    if kind == "text":
        text = draw(st.text(max_size=3000))
    elif kind == "soup":
        steps = row["solution"].rpartition("Answer:")[0].split(". ")
        pieces = st.sampled_from(_PIECES + steps)
        text = "".join(draw(st.lists(pieces, max_size=120)))
    elif kind == "bytes":
        text = draw(st.binary(max_size=3000)).decode("latin-1")
    else:
        text = _completion(row)
        if kind != "gold":
            for _ in range(draw(st.integers(1, 8))):
                i = draw(st.integers(0, len(text)))
                j = draw(st.integers(i, min(len(text), i + 40)))
                text = text[:i] + draw(st.sampled_from(["", *_PIECES])) + text[j:]
    if kind == "chat":
        content = draw(st.sampled_from([text, None, 5, [{"type": "text", "text": text}]]))
        return row, [{"role": "user", "content": "q"}, {"role": "assistant", "content": content}]
    return row, text


@PROFILE
@given(completions(), st.sampled_from(["compat", "strict_tokens"]))
@pytest.mark.slow
def test_verify_and_rewards_are_total_and_bounded(case, mode):
    row, completion = case
    start = time.process_time()
    r = verify(completion, gold_solution=row["solution"], gold_answer=row["answer"], mode=mode)
    assert time.process_time() - start < MAX_SECONDS_PER_CALL
    assert 0.0 <= r.process_score <= 1.0
    assert r.strict_reward() <= float(r.outcome_reward)
    assert r.strict_reward() <= float(r.process_verified or not r.has_gold_graph)
    for alpha in (0.0, 0.2, 1.0):
        assert 0.0 <= r.mixed_reward(alpha) <= 1.0 and 0.0 <= r.mixed_reward(alpha, gated=False) <= 1.0
    if not r.outcome_reward:
        assert r.mixed_reward() == 0.0
    if r.process_verified:
        assert not (r.missing or r.value_mismatch or r.dependency_mismatch or r.answer_mismatch)
        assert r.process_score >= 1.0 - min(len(r.extra), r.num_gold_nodes) / max(r.num_gold_nodes, 1)
    json.dumps(r.to_dict(), allow_nan=False)

    columns = {"solution": [row["solution"]], "answer": [row["answer"]], "mode": ["normalforward"], "op": [row["op"]]}
    rewards = {
        name: fn([completion], prompts=["p"], completion_ids=[[1]], **columns) for name, fn in REWARD_FUNCS.items()
    }
    for name, values in rewards.items():
        assert len(values) == 1 and isinstance(values[0], float) and 0.0 <= values[0] <= 1.0, name
    assert rewards["strict"][0] <= rewards["mixed"][0]
    if rewards["mixed"][0] > 0:  # the gate: a mixed reward needs the right answer
        assert rewards["outcome"][0] == 1.0
    assert rewards["mixed"][0] <= rewards["mixed_ungated"][0] + 1e-12
