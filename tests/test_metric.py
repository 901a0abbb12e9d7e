"""The ``evaluate`` metric loads offline from its folder and reports the verifier's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interplay_hf.metrics import PROCESS_VERIFIER_PATH
from interplay_hf.verify import ERROR_TYPES, verify

pytestmark = pytest.mark.slow  # importing evaluate alone takes seconds

with open(Path(__file__).parent / "fixtures" / "official_scored.jsonl", encoding="utf-8") as _f:
    SCORED = [json.loads(line) for line in _f]


@pytest.fixture(scope="module")
def metric(tmp_path_factory):
    import evaluate

    return evaluate.load(PROCESS_VERIFIER_PATH, cache_dir=str(tmp_path_factory.mktemp("evaluate_cache")))


def test_metric_loads_without_network(tmp_path, monkeypatch):
    import socket

    import evaluate

    def no_network(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    metric = evaluate.load(PROCESS_VERIFIER_PATH, cache_dir=str(tmp_path))
    gold = SCORED[0]["solution"]
    assert metric.compute(predictions=[SCORED[0]["completion"]], references=[gold])["strict_accuracy"] == 1.0


def test_metric_reproduces_official_counts(metric):
    rows = SCORED[:74]  # two problems × 37 variants
    out = metric.compute(predictions=[r["completion"] for r in rows], references=[r["solution"] for r in rows])
    n = len(rows)
    assert out["num_predictions"] == n
    assert out["outcome_accuracy"] == pytest.approx(sum(r["official"]["outcome_eval"] for r in rows) / n)
    assert out["outcome_reward_accuracy"] == pytest.approx(sum(r["official"]["outcome_reward"] for r in rows) / n)
    assert out["process_accuracy"] == pytest.approx(sum(r["official"]["process_verified"] for r in rows) / n)
    assert out["strict_accuracy"] == pytest.approx(sum(r["official"]["strict"] for r in rows) / n)
    assert out["mean_process_score"] == pytest.approx(sum(r["official"]["process_score"] for r in rows) / n)
    assert out["mean_mixed_reward"] == pytest.approx(sum(r["official"]["mixed_alpha_0.2"] for r in rows) / n)
    expected = dict.fromkeys(ERROR_TYPES, 0)
    for r in rows:
        for error in verify(r["completion"], gold_solution=r["solution"]).errors:
            expected[error] += 1
    assert out["error_counts"] == expected
    blank = sum(r["official"]["missing"] is None for r in rows)  # the official scorer skips these
    assert expected["format"] == blank == 4
    assert expected["answer_mismatch"] == sum(bool(r["official"]["answer_mismatch"]) for r in rows) + blank


def test_metric_batches_and_empty_input(metric):
    gold = SCORED[0]["solution"]
    metric.add_batch(predictions=[SCORED[0]["completion"]], references=[gold])
    metric.add(predictions="", references=gold)
    out = metric.compute()
    assert out["num_predictions"] == 2 and out["process_accuracy"] == 0.5 and out["error_counts"]["format"] == 1
    assert metric.compute(predictions=[], references=[])["num_predictions"] == 0


def test_metric_options(metric):
    gold = "Define a as B; so B = 2. Define c as C; so C = B = 2. Answer: 2."
    wrong = " Define a as B; so B = 2. </solution> <answer> 2"  # one of two steps missing
    out = metric.compute(predictions=[wrong], references=[gold], alpha=1.0)
    assert out["mean_mixed_reward"] == 1.0 and out["mean_process_score"] == 0.5 and out["process_accuracy"] == 0.0
