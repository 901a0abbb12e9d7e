"""pass@k estimators, chance baseline and the k/op/regime parsers (pure Python, microseconds)."""

from __future__ import annotations

import json
import math

import pytest

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.chance import AnswerDistribution, answer_key, chance_pass_at_k
from interplay_hf.evaluation.passk import (
    DEFAULT_REGIMES,
    default_k_list,
    first_k_pass,
    parse_int_list,
    parse_regimes,
    pass_at_k,
    regime_of,
)


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize("n", [1, 2, 5, 16, 128])
def test_unbiased_estimator_matches_exact_combinatorics(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_estimator_edge_cases():
    assert pass_at_k(128, 0, 1) == 0.0 and pass_at_k(128, 0, 128) == 0.0  # never correct
    assert pass_at_k(128, 128, 1) == 1.0  # always correct
    assert pass_at_k(128, 1, 128) == 1.0  # k = n: any correct sample is in the only subset
    assert pass_at_k(128, 7, 1) == pytest.approx(7 / 128)  # pass@1 is the success rate
    assert pass_at_k(10, 8, 3) == 1.0  # n - c < k
    # large n stays finite and exact where binomials would be astronomically large
    assert pass_at_k(4096, 1, 2048) == pytest.approx(0.5)


def test_first_k_pass_uses_the_first_success_rank():
    assert first_k_pass(None, 128) is False
    assert first_k_pass(0, 1) is True
    assert first_k_pass(3, 3) is False and first_k_pass(3, 4) is True


def test_chance_baseline_on_a_hand_made_distribution():
    # op 2: answers 1,1,2,4 -> leave-one-out p(1) = 1/3, p(2) = 0, p(4) = 0
    dist = AnswerDistribution(leave_one_out=True).update([(2, "1"), (2, 1), (2, "2"), (2, "4.0")])
    assert dist.hit_prob(2, "1") == pytest.approx(1 / 3)
    assert dist.hit_prob(2, "2") == 0.0
    assert dist.hit_prob(3, "1") == 0.0  # unseen op
    plain = AnswerDistribution(leave_one_out=False).update([(2, "1"), (2, "1"), (2, "2"), (2, "4")])
    assert plain.hit_prob(2, "4") == pytest.approx(1 / 4)
    assert chance_pass_at_k(0.25, 1) == pytest.approx(0.25)
    assert chance_pass_at_k(0.25, 16) == pytest.approx(1 - 0.75**16)
    # uniform answers 1-4 (op 2-3 in the paper): 16 guesses nearly always hit
    assert chance_pass_at_k(0.25, 16) > 0.98


def test_chance_distribution_generates_known_ops_and_falls_back_to_the_eval_set():
    from interplay_hf.evaluation.chance import chance_distribution

    dist = chance_distribution([(2, "3"), (25, "7"), (25, "7"), (25, "9")], ["zoo", "teacher"], samples_per_op=200)
    assert dist.source[2].startswith("generated") and sum(dist.counts[2].values()) == 200
    assert set(dist.counts[2]) <= {"1", "2", "3", "4"}  # op 2 answers are 1-4 (docs/data-format.md §1)
    assert 0.1 < dist.hit_prob(2, "3") < 0.5
    assert dist.source[25] == "eval set (leave-one-out)"  # beyond the generator's ops
    assert dist.hit_prob(25, "7") == pytest.approx(1 / 2) and dist.hit_prob(25, "9") == 0.0
    with pytest.raises(ConfigError, match="unknown context 'my-own-context'"):  # loud, not a silent fallback
        chance_distribution([(2, "3"), (2, "3")], ["my-own-context"], samples_per_op=200)
    fallback = chance_distribution([(2, "3"), (2, "3")], ["my-own-context"], samples_per_op=0)
    assert fallback.source[2].startswith("eval") and fallback.hit_prob(2, "3") == 1.0


def test_generated_chance_answers_are_cached_and_a_bad_entry_is_recomputed(tmp_path, monkeypatch):
    from interplay_hf.evaluation import chance

    monkeypatch.setenv("INTERPLAY_HF_CACHE", str(tmp_path))
    fresh = chance.generated_answers(3, ["zoo", "teacher"], 40, seed=5)
    entries = list((tmp_path / "chance").glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["value"] == fresh
    calls = []
    monkeypatch.setattr("interplay_hf.data.problem_answer", lambda **kw: calls.append(kw) or 0)
    assert chance.generated_answers(3, ["zoo", "teacher"], 40, seed=5) == fresh and not calls  # read, not drawn
    assert chance.generated_answers(3, ["zoo"], 40, seed=5) == [0] * 40 and len(calls) == 40  # another key
    entries[0].write_text("{not json")
    assert chance.generated_answers(3, ["zoo", "teacher"], 40, seed=5) == [0] * 40  # corrupt: recomputed
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("INTERPLAY_HF_CACHE", str(blocked))
    assert chance.generated_answers(2, ["zoo"], 5, seed=1) == [0] * 5  # cannot be written: skipped, no error
    assert blocked.read_text() == "not a directory"  # nothing it did not write is touched


def test_answer_key_is_numeric():
    assert answer_key("007") == answer_key(7) == answer_key("7.0") == answer_key(" 7. ") == "7"
    assert answer_key("2.50") == "2.5"
    assert answer_key("abc") == "abc" and answer_key(None) == ""


def test_parsers():
    assert parse_int_list("1,8,32", "--k") == [1, 8, 32]
    assert parse_int_list("11-14", "--ops") == [11, 12, 13, 14]
    assert parse_int_list("2, 4,8-10", "--ops") == [2, 4, 8, 9, 10]
    assert parse_int_list([8, 1, 8], "--k") == [1, 8]
    assert parse_int_list(None, "--ops") is None
    assert default_k_list(128) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert default_k_list(6) == [1, 2, 4, 6]
    with pytest.raises(ConfigError, match="--ops"):
        parse_int_list("14-11", "--ops")
    with pytest.raises(ConfigError, match="--k"):
        parse_int_list("one", "--k")


def test_regimes():
    assert parse_regimes(None) == DEFAULT_REGIMES
    regimes = parse_regimes("easy=2-4,edge=5-5")
    assert regimes == {"easy": [2, 4], "edge": [5, 5]}
    assert regime_of(11, DEFAULT_REGIMES) == "OOD-edge" and regime_of(21, DEFAULT_REGIMES) is None
    with pytest.raises(ConfigError, match="--regimes"):
        parse_regimes("ID:2-10")
