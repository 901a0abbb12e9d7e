"""Findings pooled over training seeds: the t machinery, Holm, the sign test, calibration in simulation, and the
spec's seeds, problems and registration checks (interplay_hf/evaluation/seed_stats.py, findings.py)."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
from conftest import assert_schema, results_from_records

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.results_schema import Findings
from interplay_hf.evaluation.seed_stats import (
    detectable_difference,
    holm_adjust,
    pooled_difference,
    regularized_beta,
    sign_test,
    student_t_quantile,
    student_t_sf,
)


@pytest.mark.parametrize(("df", "quantile"), [(1, 12.7062), (2, 4.3027), (5, 2.5706), (10, 2.2281), (30, 2.0423),
                                             (math.inf, 1.9600)])
def test_student_t_quantiles_match_the_tables(df, quantile):
    assert student_t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-4)
    assert student_t_sf(student_t_quantile(0.975, df), df) == pytest.approx(0.025, abs=1e-9)


def test_regularized_beta_closed_forms():
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert regularized_beta(1.0, 1.0, x) == pytest.approx(x)
        assert regularized_beta(3.0, 1.0, x) == pytest.approx(x**3)
        assert regularized_beta(2.5, 4.0, x) == pytest.approx(1 - regularized_beta(4.0, 2.5, 1 - x))
    assert student_t_sf(0.0, 3) == pytest.approx(0.5) and student_t_sf(-2.0, 7) == pytest.approx(1 - student_t_sf(2.0, 7))


def test_holm_and_sign_test_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5]) == [0.5] and holm_adjust([0.4, 0.4]) == [0.8, 0.8]
    assert sign_test(10, 0) == pytest.approx(2 / 1024) and sign_test(5, 5) == 1.0 and sign_test(0, 0) == 1.0
    assert sign_test(7, 2) == pytest.approx(2 * sum(math.comb(9, i) for i in range(3)) / 512)


def test_pooled_difference_shapes_and_degenerate_cases():
    flat = [[0.5] * 10, [0.5] * 10]
    same = pooled_difference(flat, flat)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0 and same["ci95"] == [0.0, 0.0]
    shifted = pooled_difference(flat, [[0.7] * 10, [0.7] * 10])
    assert shifted["difference"] == pytest.approx(0.2) and shifted["p_value"] == 0.0
    assert "same amount" in shifted["degenerate"]
    zeros = pooled_difference([[0.0] * 10] * 2, [[0.0] * 10] * 2)  # no run solved anything: nothing to test
    assert "scored 0" in zeros["degenerate"] and zeros["df"] is None and detectable_difference(zeros) is None
    json.dumps(zeros, allow_nan=False)  # findings.json stays valid JSON (no inf degrees of freedom)
    with pytest.raises(ConfigError, match="same problems"):
        pooled_difference([[0.1, 0.2]], [[0.1, 0.2, 0.3]])
    with pytest.raises(ConfigError, match="at least 2"):
        pooled_difference([[0.1]], [[0.2]])


def test_seeds_that_disagree_widen_the_interval():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.6, 100)
    a = [base, base + rng.normal(0, 0.01, 100)]
    agree = pooled_difference(a, [base + 0.10, base + 0.11])
    disagree = pooled_difference(a, [base + 0.01, base + 0.20])
    width = lambda r: r["ci95"][1] - r["ci95"][0]  # noqa: E731
    assert agree["ci95"][0] > 0 and disagree["ci95"][0] < 0 < disagree["ci95"][1]  # one seed's luck is no effect
    assert width(disagree) > 10 * width(agree) and disagree["df"] < 3


# ------------------------------------------------------------------------ calibration in simulation
# Problems with pass rates in [0.3, 0.5], n = 32 samples each, 100 problems; each seeded run shifts every problem
# by a seed effect N(0, tau); arm b adds delta plus a problem-by-arm interaction N(0, 0.03). No clipping happens at
# these values, so the truth is exactly delta. A one-run arm is a fixed model (a base): no seed effect.

def _arm(rng, q, runs, shift, interaction, tau, n=32):
    return np.array([rng.binomial(n, q + shift + rng.normal(0, tau) + interaction) / n for _ in range(runs)])


def _simulated_pair(rng, runs_a, runs_b, tau, delta, problems=100):
    q = rng.uniform(0.3, 0.5, problems)
    interaction = rng.normal(0, 0.03, problems) if delta else 0.0
    return _arm(rng, q, runs_a, 0.0, 0.0, tau if runs_a > 1 else 0.0), _arm(rng, q, runs_b, delta, interaction, tau)


@pytest.mark.parametrize(("runs", "tau", "low", "high"), [
    ((2, 2), 0.0, 0.93, 0.975),
    ((2, 2), 0.02, 0.90, 0.96),   # seed variance ~4x the problem part: 1-2 df for it (docs/statistics.md)
    ((2, 2), 0.05, 0.93, 0.97),
    ((3, 3), 0.02, 0.92, 0.97),
    ((1, 2), 0.0, 0.93, 0.98),
])
def test_pooled_interval_coverage(runs, tau, low, high):
    rng = np.random.default_rng(1)
    sims, delta = 500, 0.05
    covered = 0
    for _ in range(sims):
        a, b = _simulated_pair(rng, *runs, tau, delta)
        lo, hi = pooled_difference(a, b)["ci95"]
        covered += lo <= delta <= hi
    assert low <= covered / sims <= high


@pytest.mark.parametrize("tau", [0.02, 0.05])
def test_pure_seed_noise_is_not_called_reproduced_by_the_registered_rule(tau):
    """Four claims with no effect but seed-level noise (the mini study's designs: base vs two seeds, then three
    two-seed vs two-seed claims): Holm-adjusted p < 0.05 in the direction, every seed agreeing, in <= 5% of runs."""
    rng = np.random.default_rng(3)
    designs, sims = [(1, 2), (2, 2), (2, 2), (2, 2)], 400
    calls = np.zeros(len(designs))
    for _ in range(sims):
        records = []
        for runs_a, runs_b in designs:
            a, b = _simulated_pair(rng, runs_a, runs_b, tau, 0.0)
            seeds = [b[s].mean() - a[min(s, runs_a - 1)].mean() for s in range(runs_b)]
            records.append((pooled_difference(a, b), all(d > 0 for d in seeds)))
        adjusted = holm_adjust([r["p_value"] for r, _ in records])
        calls += [p < 0.05 and r["difference"] > 0 and agree for (r, agree), p in zip(records, adjusted)]
    assert (calls / sims <= 0.05).all(), calls / sims


# ------------------------------------------------------------------------------ findings with seeds

def _record(i: int, op: int, process: int, n: int = 16, outcome: int | None = None) -> dict:
    return {"id": f"p{op}-{i}", "op": op, "context": "zoo", "n": n,
            "outcome_correct": process if outcome is None else outcome, "process_correct": process,
            "first_process_rank": 0 if process else None, "greedy_outcome": None, "greedy_process": None,
            "mean_process_score": process / n, "index": i, "answer": "2", "chance_p": 0.3, "truncated": 0,
            "error_counts": {"missing": 0, "extra": 0, "value_mismatch": 0, "dependency_mismatch": 0,
                             "answer_mismatch": 0, "format": 0, "unsupported_answer": 0}}


def _eval_dir(root, name: str, shift: int, seed: int, problems: int = 60, unverified: int = 0):
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).integers(0, 12, problems)
    records = [_record(i, 4, int(np.clip(c + shift + rng.integers(-1, 2), 0, 16)), outcome=None) for i, c in
               enumerate(base)]
    for r in records:
        r["outcome_correct"] = min(16, r["process_correct"] + unverified)
    (root / name).mkdir()
    results = results_from_records(records, model=name, n=16, ks=(1, 16), regimes={"OOD-edge": [4, 4]})
    (root / name / "results.json").write_text(json.dumps(results))


SPEC = """alpha: 0.05
correction: holm
findings:
  - name: up
    claim: b beats a
    a: base
    b: [rl_s0, rl_s1]
    metric: process_pass@1
    regime: OOD-edge
    direction: increase
    conditions:
      - {a: [ctl_s0, ctl_s1]}
    supplementary:
      - {metric: process_pass@16}
  - name: hacking
    claim: fewer right answers with an unverified process
    a: [out_s0, out_s1]
    b: [rl_s0, rl_s1]
    metric: right_answer_unverified
    regime: OOD-edge
    direction: decrease
"""


@pytest.fixture
def seeded_runs(tmp_path):
    _eval_dir(tmp_path, "base", 0, 1)
    for s in (0, 1):
        _eval_dir(tmp_path, f"rl_s{s}", 3, 10 + s)
        _eval_dir(tmp_path, f"ctl_s{s}", 0, 20 + s)
        _eval_dir(tmp_path, f"out_s{s}", 3, 30 + s, unverified=4)
    (tmp_path / "f.yaml").write_text(SPEC)
    return tmp_path


def test_findings_pool_seeds_with_holm_and_per_seed_differences(seeded_runs):
    from interplay_hf.evaluation.findings import evaluate_findings, findings_markdown, parse_findings_spec

    result = evaluate_findings(parse_findings_spec(seeded_runs / "f.yaml", seeded_runs), seeded_runs)
    assert_schema(result, Findings)
    up, hacking = result["findings"]
    assert result["family"] == {"correction": "holm", "alpha": 0.05, "claims": ["up", "hacking"]}
    assert up["pooled_over_seeds"] and len(up["per_seed"]) == 2 and up["seeds_agree"]
    assert up["holm"]["adjusted_p"] >= up["p_value"] and up["reproduced"]
    assert up["holm"]["detectable_80"] > up["se"] * 2.8  # t quantiles above the normal's 1.96 + 0.84
    assert up["conditions"][0]["a"] == ["ctl_s0", "ctl_s1"] and up["conditions"][0]["reproduced"]
    assert up["supplementary"][0]["metric"] == "process_pass@16" and "holm" not in up["supplementary"][0]
    assert all(s["gained"] >= 0 and 0 <= s["sign_test_p"] <= 1 for s in up["solved"])
    assert hacking["difference"] == pytest.approx(-4 / 16, abs=0.02) and hacking["reproduced"]
    table = findings_markdown(result)
    assert "Holm p" in table and "(seeds: " in table and "Supplementary" in table
    lo, hi = up["holm"]["interval"]
    assert f"[{100 * lo:+.1f}, {100 * hi:+.1f}] at " in table  # the Holm-corrected interval, not only the 95% one
    again = evaluate_findings(parse_findings_spec(seeded_runs / "f.yaml", seeded_runs), seeded_runs)
    assert json.dumps(again) == json.dumps(result)  # deterministic


def test_a_missing_seed_and_other_problems_are_one_line_errors(seeded_runs):
    from interplay_hf.evaluation.findings import evaluate_findings, parse_findings_spec

    spec = seeded_runs / "f.yaml"
    spec.write_text(SPEC.replace("b: [rl_s0, rl_s1]\n    metric: right", "b: [rl_s0]\n    metric: right"))
    with pytest.raises(ConfigError, match="hacking.b lists 1 run.*add the missing seed"):
        parse_findings_spec(spec, seeded_runs)
    spec.write_text(SPEC.replace("[ctl_s0, ctl_s1]", "[ctl_s0, ctl_s9]"))
    with pytest.raises(ConfigError, match="ctl_s9.*missing seed"):
        parse_findings_spec(spec, seeded_runs)
    _eval_dir(seeded_runs, "other", 3, 5, problems=50)
    spec.write_text(SPEC.replace("b: [rl_s0, rl_s1]\n    metric: process", "b: [rl_s0, other]\n    metric: process"))
    with pytest.raises(ConfigError, match="different problems"):
        evaluate_findings(parse_findings_spec(spec, seeded_runs), seeded_runs)


def test_a_claim_changed_after_registration_is_exploratory(seeded_runs):
    from interplay_hf.evaluation.findings import evaluate_findings, parse_findings_spec

    def git(*args):
        subprocess.run(["git", "-C", str(seeded_runs), *args], check=True, capture_output=True, timeout=60)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "root")
    git("add", "f.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "register")
    commit = subprocess.run(["git", "-C", str(seeded_runs), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    spec = seeded_runs / "f.yaml"
    spec.write_text(f"registered: {commit}\n" + SPEC)
    parsed = parse_findings_spec(spec, seeded_runs)
    assert parsed.warnings == () and not any(f.exploratory for f in parsed.findings)
    spec.write_text(f"registered: {commit}\n" + SPEC.replace("process_pass@1\n", "process_pass@4\n"))
    parsed = parse_findings_spec(spec, seeded_runs)
    assert [f.name for f in parsed.findings if f.exploratory] == ["up"]
    assert len(parsed.warnings) == 1 and "'up'" in parsed.warnings[0] and "exploratory" in parsed.warnings[0]
    result = evaluate_findings(parsed, seeded_runs)
    assert result["family"]["claims"] == ["hacking"] and result["findings"][0]["exploratory"]
    spec.write_text("registered: 0000000000000000000000000000000000000000\n" + SPEC)
    assert all(f.exploratory for f in parse_findings_spec(spec, seeded_runs).findings)


def test_a_claim_no_run_can_score_on_is_reported_untestable(seeded_runs):
    from interplay_hf.evaluation.findings import evaluate_findings, findings_markdown, parse_findings_spec

    for name in ("out_s0", "out_s1", "rl_s0", "rl_s1"):
        path = seeded_runs / name / "results.json"
        results = json.loads(path.read_text())
        for p in results["problems"]:
            p["process_correct"] = p["outcome_correct"] = 0
        path.write_text(json.dumps(results))
    result = evaluate_findings(parse_findings_spec(seeded_runs / "f.yaml", seeded_runs), seeded_runs)
    hacking = result["findings"][1]
    assert "scored 0" in hacking["degenerate"] and hacking["holm"]["detectable_80"] is None
    assert not hacking["reproduced"]
    json.dumps(result, allow_nan=False)
    assert "`hacking` | right_answer_unverified | right_answer_unverified (OOD-edge): untestable, every run scored 0" \
        in findings_markdown(result)
