"""Confidence intervals: coverage on simulated evaluations, paired vs unpaired width, determinism, bad input.

The simulations draw each problem's true pass rate p from a known Beta distribution (the population of
problems), then n samples per problem, so the truth (the population's expected pass@k) is known exactly:
E[1 - (1 - p)^k] = 1 - B(a, b + k) / B(a, b).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_schema, results_from_records

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import metric_values, summarize
from interplay_hf.evaluation.compare import compare_runs, require_same_problems, run_difference
from interplay_hf.evaluation.passk import pass_at_k
from interplay_hf.evaluation.results_schema import Findings
from interplay_hf.evaluation.stats import (
    BootstrapSpec,
    align_by_id,
    bootstrap_ci,
    paired_difference,
    unpaired_difference,
)

SIMULATIONS = 1000


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def true_pass_at_k(a: float, b: float, k: int) -> float:
    return 1.0 - math.exp(_log_beta(a, b + k) - _log_beta(a, b))


def simulated_estimates(rng: np.random.Generator, a: float, b: float, problems: int, n: int, k: int) -> list[float]:
    rates = rng.beta(a, b, size=problems)
    correct = rng.binomial(n, rates)
    return [pass_at_k(n, int(c), k) for c in correct]


@pytest.mark.parametrize(("a", "b", "problems", "n", "k"), [
    (0.6, 1.4, 50, 8, 1),   # a mid-range model: pass@1 ≈ 0.30
    (0.6, 1.4, 50, 8, 8),   # the same at pass@8 (skewed towards 1)
    (0.3, 3.0, 100, 16, 16),  # an edge regime: most problems near 0
])
def test_intervals_cover_the_truth_in_93_to_97_percent(a, b, problems, n, k):
    rng = np.random.default_rng(1234)
    truth = true_pass_at_k(a, b, k)
    covered = 0
    for sim in range(SIMULATIONS):
        lo, hi = bootstrap_ci(simulated_estimates(rng, a, b, problems, n, k), BootstrapSpec(resamples=1000, seed=sim))
        covered += lo <= truth <= hi
    assert 0.93 <= covered / SIMULATIONS <= 0.97, covered / SIMULATIONS


def test_paired_difference_covers_the_true_change():
    """RL raises every problem's rate by the same logit shift; the truth is the population mean change."""
    rng = np.random.default_rng(7)
    truth_rng = np.random.default_rng(99)
    big = truth_rng.beta(0.8, 1.2, size=400_000)
    shifted = 1 / (1 + np.exp(-(np.log(big / (1 - big + 1e-12) + 1e-12) + 0.4)))
    truth = float(shifted.mean() - big.mean())
    covered = 0
    for sim in range(SIMULATIONS):
        p = rng.beta(0.8, 1.2, size=60)
        q = 1 / (1 + np.exp(-(np.log(p / (1 - p + 1e-12) + 1e-12) + 0.4)))
        a = rng.binomial(8, p) / 8
        b = rng.binomial(8, q) / 8
        rec = paired_difference(a, b, BootstrapSpec(resamples=1000, seed=sim))
        covered += rec["ci"][0] <= truth <= rec["ci"][1]
    assert 0.93 <= covered / SIMULATIONS <= 0.97, covered / SIMULATIONS


def test_paired_intervals_are_narrower_than_unpaired_on_correlated_runs():
    rng = np.random.default_rng(3)
    narrower = 0
    for sim in range(50):
        p = rng.beta(0.7, 1.3, size=50)
        a = rng.binomial(16, p) / 16
        b = rng.binomial(16, np.clip(p + 0.05, 0, 1)) / 16
        spec = BootstrapSpec(resamples=500, seed=sim)
        paired, unpaired = paired_difference(a, b, spec), unpaired_difference(a, b, spec)
        assert paired["difference"] == pytest.approx(unpaired["difference"])
        narrower += (paired["ci"][1] - paired["ci"][0]) < (unpaired["ci"][1] - unpaired["ci"][0])
    assert narrower == 50


def test_intervals_are_seeded_and_bracket_the_estimate():
    values = [0.0, 0.25, 1.0, 0.5, 0.0, 1.0, 0.75, 0.5]
    spec = BootstrapSpec(resamples=200, seed=5)
    assert bootstrap_ci(values, spec) == bootstrap_ci(values, spec)
    lo, hi = bootstrap_ci(values, spec)
    assert lo <= np.mean(values) <= hi
    assert bootstrap_ci(values, BootstrapSpec(resamples=200, seed=6)) != (lo, hi)
    assert bootstrap_ci([], spec) is None
    assert bootstrap_ci([0.5] * 10, spec) == [0.5, 0.5]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"resamples": 0}, "--bootstrap-resamples"),
    ({"resamples": -5}, "--bootstrap-resamples"),
    ({"resamples": 2.5}, "--bootstrap-resamples"),
    ({"confidence": 0.0}, "--confidence"),
    ({"confidence": 1.0}, "--confidence"),
    ({"confidence": 95}, "--confidence"),
])
def test_bad_interval_settings_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        BootstrapSpec(**kwargs)


# ------------------------------------------------------------------------- on results.json records


def _record(idx: int, op: int, process: int, n: int = 8, missing: int = 0) -> dict:
    return {"id": f"zoo-{op}-{idx}", "op": op, "context": "zoo", "n": n, "outcome_correct": min(n, process + 1),
            "process_correct": process, "first_process_rank": 0 if process else None, "greedy_outcome": None,
            "greedy_process": None, "mean_process_score": process / n, "index": idx, "answer": "2",
            "chance_p": 0.3, "truncated": 0,
            "error_counts": {"missing": missing, "extra": 0, "value_mismatch": 0, "dependency_mismatch": 0,
                             "answer_mismatch": 0, "format": 0, "unsupported_answer": 0}}


def _results(records: list[dict], model: str) -> dict:
    return results_from_records(records, model=model, n=8, ks=(1, 8), regimes={"ID": [2, 3], "OOD-edge": [4, 4]})


def _write(tmp_path, name: str, results: dict):
    (tmp_path / name).mkdir()
    (tmp_path / name / "results.json").write_text(json.dumps(results))
    return tmp_path / name


def _runs(shift: int, problems: int = 40, offset: int = 0) -> list[dict]:
    rng = np.random.default_rng(11)
    base = rng.integers(0, 9, size=problems)
    return [_record(i + offset, 2 + i % 3, int(min(8, max(0, c + shift))), missing=int(8 - c)) for i, c in enumerate(base)]


def test_summary_blocks_carry_intervals_per_k():
    spec = BootstrapSpec(resamples=300)
    summary = summarize(_runs(0), [1, 8], {"ID": [2, 3], "OOD-edge": [4, 4]}, spec)
    for blk in (summary["overall"], summary["per_op"]["2"], summary["per_regime"]["ID"]):
        for metric in ("process_pass@k", "outcome_pass@k"):
            for k in ("1", "8"):
                lo, hi = blk[f"{metric}_ci"][k]
                assert lo <= blk[metric][k] <= hi
    assert "process_pass@k_ci" not in summarize(_runs(0), [1], {"ID": [2, 3]})["overall"]


def test_metric_values_error_share_and_bad_metric():
    recs = [_record(0, 2, 3, missing=2), _record(1, 2, 0, missing=8)]
    assert metric_values(recs, "error:missing") == [0.25, 1.0]
    with pytest.raises(ConfigError, match="unknown error type"):
        metric_values(recs, "error:typo")
    with pytest.raises(ConfigError, match="unknown"):
        metric_values(recs, "proces_pass@k", 1)
    with pytest.raises(ConfigError, match="k = 16"):
        metric_values(recs, "process_pass@k", 16)


def test_report_pairs_runs_on_the_same_problems(tmp_path):
    a = _write(tmp_path, "base", _results(_runs(0), "base"))
    b = _write(tmp_path, "rl", _results(_runs(3), "rl"))
    report = compare_runs([a, b], ["base", "rl"], tmp_path / "cmp", intervals=BootstrapSpec(resamples=300))
    diff = report["differences"]["rl"]
    assert diff["paired"] is True and diff["against"] == "base"
    rec = diff["per_regime"]["all"]["process_pass@k"]["1"]
    assert rec["difference"] > 0 and rec["excludes_zero"] and rec["paired"]
    md = (tmp_path / "cmp" / "report.md").read_text()
    lines = md.splitlines()
    assert lines[2].startswith("1. **base**") and lines[3].startswith("2. **rl** vs **base**")
    assert lines[4].startswith("3. Beyond noise") and "up" in lines[4]
    assert "## Change against base" in md and "**\\***" in md
    assert report["intervals"]["method"].startswith("BCa bootstrap over problems")
    # identical inputs -> identical report.json
    again = compare_runs([a, b], ["base", "rl"], tmp_path / "cmp2", intervals=BootstrapSpec(resamples=300))
    assert again["differences"] == report["differences"]


def test_report_on_different_problems_is_unpaired_and_paired_is_refused(tmp_path):
    a = _write(tmp_path, "base", _results(_runs(0), "base"))
    b = _write(tmp_path, "other", _results(_runs(0, offset=1000), "other"))
    report = compare_runs([a, b], ["base", "other"], tmp_path / "cmp", intervals=BootstrapSpec(resamples=200))
    assert report["differences"]["other"]["paired"] is False
    assert "paired comparison refused" in (tmp_path / "cmp" / "report.md").read_text()
    with pytest.raises(ConfigError, match="different problems"):
        compare_runs([a, b], ["base", "other"], tmp_path / "cmp3", paired=True)
    with pytest.raises(ConfigError, match="different problems"):
        require_same_problems(json.loads((a / "results.json").read_text()), json.loads((b / "results.json").read_text()),
                              ("base", "other"))


def test_run_difference_on_an_error_type_and_align_by_id():
    a, b = _results(_runs(0), "a"), _results(_runs(2), "b")
    rec = run_difference(a, b, "error:missing", None, BootstrapSpec(resamples=200), regime="ID")
    assert rec["paired"] and rec["difference"] == pytest.approx(0.0)
    assert align_by_id(a["problems"], b["problems"][:-1]) is None
    assert align_by_id(a["problems"], list(reversed(b["problems"])))[1][0]["id"] == a["problems"][0]["id"]


@pytest.mark.parametrize(("flag", "value", "field"), [
    ("--bootstrap-resamples", "0", "--bootstrap-resamples"), ("--confidence", "1.5", "--confidence"),
])
def test_report_cli_rejects_bad_interval_settings(tmp_path, flag, value, field):
    a = _write(tmp_path, "base", _results(_runs(0), "base"))
    proc = subprocess.run([sys.executable, "-m", "interplay_hf.cli", "report", str(a), "--output-dir",
                           str(tmp_path / "out"), flag, value], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert field in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ findings


def test_findings_spec_to_json(tmp_path):
    from interplay_hf.evaluation.findings import evaluate_findings, findings_markdown, load_findings_spec

    _write(tmp_path, "base", _results(_runs(0), "base"))
    _write(tmp_path, "rl", _results(_runs(3), "rl"))
    _write(tmp_path, "rl_id", _results(_runs(1), "rl_id"))
    (tmp_path / "f.yaml").write_text(
        "findings:\n"
        "  - {name: up, claim: RL helps, a: base, b: rl, metric: process_pass@1, regime: ID, direction: increase,\n"
        "     conditions: [{a: rl_id}]}\n"
        "  - {name: fewer_missing, claim: fewer missing steps, a: base, b: rl, metric: 'error:missing', regime: all,\n"
        "     direction: decrease}\n"
        "  - {name: down, claim: wrong way, a: base, b: rl, metric: outcome_pass@8, regime: ID, direction: decrease}\n"
    )
    result = evaluate_findings(load_findings_spec(tmp_path / "f.yaml", tmp_path), tmp_path,
                               BootstrapSpec(resamples=300))
    assert_schema(result, Findings)
    up, fewer, down = result["findings"]
    assert up["reproduced"] and up["paired"] and up["ci95"][0] > 0 and up["conditions"][0]["a"] == "rl_id"
    assert up["conditions"][0]["b"] == "rl" and up["conditions"][0]["metric"] == "process_pass@1"
    assert fewer["difference"] == pytest.approx(0.0) and not fewer["reproduced"]
    assert not down["reproduced"]
    assert "`up`" in findings_markdown(result)


def test_findings_at_equal_compute_and_not_decrease(tmp_path):
    """A compute check (interplay-hf compute files) gates the claim; not_decrease holds unless b is clearly worse."""
    from interplay_hf.evaluation.findings import evaluate_findings, load_findings_spec

    _write(tmp_path, "rl", _results(_runs(0), "rl"))
    _write(tmp_path, "mid_rl", _results(_runs(3), "mid_rl"))
    for name, flops in (("rl", 1.0e12), ("mid_rl", 1.05e12), ("big", 2.0e12)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"total_flops": flops, "stages": []}))
    (tmp_path / "f.yaml").write_text(
        "findings:\n"
        "  - {name: equal, claim: c, a: rl, b: mid_rl, metric: process_pass@1, regime: ID, direction: increase,\n"
        "     compute: {a: rl.json, b: mid_rl.json}}\n"
        "  - {name: unequal, claim: c, a: rl, b: mid_rl, metric: process_pass@1, regime: ID, direction: increase,\n"
        "     compute: {a: rl.json, b: big.json, tolerance: 0.2}}\n"
        "  - {name: no_worse, claim: c, a: rl, b: mid_rl, metric: process_pass@1, regime: ID, direction: not_decrease}\n"
        "  - {name: worse, claim: c, a: mid_rl, b: rl, metric: process_pass@1, regime: ID, direction: not_decrease}\n"
    )
    equal, unequal, no_worse, worse = evaluate_findings(
        load_findings_spec(tmp_path / "f.yaml", tmp_path), tmp_path, BootstrapSpec(resamples=300))["findings"]
    assert equal["reproduced"] and equal["compute"]["equal"] and equal["compute"]["ratio"] == pytest.approx(1.05)
    assert unequal["ci95"][0] > 0 and not unequal["compute"]["equal"] and not unequal["reproduced"]
    assert no_worse["reproduced"] and not worse["reproduced"]


@pytest.mark.parametrize(("body", "message"), [
    ("findings: []\n", "non-empty list"),
    ("findings: [{name: x, claim: y, a: base, b: base, metric: process_pass@1, regime: ID, direction: increase,"
     " compute: {a: none.json, b: none.json}}]\n", "compute.a: no compute.json"),
    ("findings: [{name: x, claim: y, a: base, b: base, metric: pass@1, regime: ID, direction: increase}]\n", "metric"),
    ("findings: [{name: x, claim: y, a: base, b: nowhere, metric: process_pass@1, regime: ID, direction: up}]\n",
     "direction"),
    ("findings: [{name: x, claim: y, a: base, b: nowhere, metric: process_pass@1, regime: ID, direction: increase}]\n",
     "no results.json"),
    ("findings: [{name: x, claim: y, a: base, b: base, metric: process_pass@1, regime: ID, direction: increase,"
     " colour: red}]\n", "unknown key"),
])
def test_findings_spec_errors_name_the_field(tmp_path, body, message):
    from interplay_hf.evaluation.findings import load_findings_spec

    _write(tmp_path, "base", _results(_runs(0), "base"))
    (tmp_path / "f.yaml").write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_findings_spec(tmp_path / "f.yaml", tmp_path)


def test_summary_lines_name_regimes_solved_by_neither_and_say_when_nothing_is_beyond_noise(tmp_path):
    def zero_edge(records):
        return [{**r, "process_correct": 0, "outcome_correct": 0} if r["op"] == 4 else r for r in records]

    a = _write(tmp_path, "base", _results(zero_edge(_runs(0)), "base"))
    b = _write(tmp_path, "same", _results(zero_edge(_runs(0)), "same"))
    report = compare_runs([a, b], ["base", "same"], tmp_path / "cmp", intervals=BootstrapSpec(resamples=200))
    one, two, three = report["summary_lines"]
    assert one.startswith("1. **base**") and "OOD-edge 0.0%" in one
    assert "ID pass@1 +0.0 points" in two and two.endswith("OOD-edge: solved by neither.")
    assert three.startswith("3. Beyond noise") and "none" in three
    assert "the pass@1 intervals span ±0.0 points on 27 ID problems" in three  # identical runs: what could be seen


def test_summary_line_three_reads_every_k_of_the_tables():
    """A change beyond noise at a k that line 2 does not quote (pass@4 of 1, 4, 8) is still reported."""
    from interplay_hf.evaluation.compare import summary_lines

    def rec(diff, lo, hi):
        return {"difference": diff, "ci": [lo, hi], "paired": True, "excludes_zero": lo > 0 or hi < 0}

    block = {"num_problems": 50, "process_pass@k": {"1": 0.4, "4": 0.6, "8": 0.8}}
    summaries = {lab: {"overall": block, "per_regime": {"ID": block}} for lab in ("base", "rl")}
    per_k = {"1": rec(-0.01, -0.04, 0.02), "4": rec(-0.025, -0.063, -0.003), "8": rec(-0.04, -0.14, 0.06)}
    differences = {"rl": {"against": "base", "paired": True, "per_regime": {"ID": {"process_pass@k": per_k}}}}
    lines = summary_lines(summaries, differences, ["base", "rl"], {"ID": [2, 2]}, 8)
    assert "ID pass@4" not in lines[1] and "ID pass@4 down (-2.5 [-6.3, -0.3])" in lines[2]
