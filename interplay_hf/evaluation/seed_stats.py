"""Differences pooled over training seeds: an interval that covers the problems *and* the training randomness.

A change b − a measured on one training run per arm says nothing about how much another seed would move it: the
quickstart's fp32 and bf16 runs of one recipe changed pass@8 by −22 and −4 points. With several runs per arm the
estimate is the mean over problems of (mean over b's seeds − mean over a's seeds), and its variance has three parts:

* the problems: the spread of the per-problem differences of seed means, over the N problems (the runs share the
  problems, so this also holds each problem's sampling noise);
* each seeded arm's seed-to-seed shift: the variance of its runs' means, less the part the within-problem noise
  explains (one-way variance components), divided by its number of runs.

Why not a bootstrap over seeds: with two seeds a bootstrap treats the one observed seed difference as the whole
distribution and undercovers badly whenever seeds differ. The seed part has S − 1 degrees of freedom, so the
interval uses Student's t with Satterthwaite's degrees of freedom: with two seeds that disagree, the interval is
wide (t with ~1 df), as it must be; with seeds that agree, it is close to the problem-only interval.
Simulated coverage and false-positive rates: tests/test_eval_seed_stats.py and docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from interplay_hf.errors import ConfigError


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta (modified Lentz; Press et al., §6.4)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` (> 0) degrees of freedom."""
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2.0))
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def student_t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile (0.5 < q < 1) of Student's t, by bisection on the survival function (deterministic)."""
    lo, hi = 0.0, 1.0
    while student_t_sf(hi, df) > 1.0 - q:
        hi *= 2.0
    while hi - lo > 1e-10 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if student_t_sf(mid, df) > 1.0 - q else (lo, mid)
    return 0.5 * (lo + hi)


def _seed_component(runs: np.ndarray) -> float:
    """Between-seed variance of an arm's run means beyond what within-problem noise explains (0 for one run)."""
    num_runs, num_problems = runs.shape
    if num_runs < 2:
        return 0.0
    between = float(np.var(runs.mean(axis=1), ddof=1))
    within = float(np.var(runs, axis=0, ddof=1).mean()) / num_problems
    return max(0.0, between - within)


def pooled_difference(a_runs: Sequence[Sequence[float]], b_runs: Sequence[Sequence[float]],
                      confidence: float = 0.95) -> dict:
    """b − a pooled over each arm's runs (rows: runs, columns: the same problems in the same order).

    Returns the difference, its ``confidence`` interval, the standard error, the degrees of freedom and the
    two-sided p-value of "no difference".
    """
    a, b = np.asarray(a_runs, dtype=np.float64), np.asarray(b_runs, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ConfigError("pooled difference: every run of both arms must hold the same problems")
    num_problems = a.shape[1]
    if num_problems < 2:
        raise ConfigError(f"pooled difference: {num_problems} problem(s); an interval needs at least 2")
    per_problem = b.mean(axis=0) - a.mean(axis=0)
    difference = float(per_problem.mean())
    problem_var = float(np.var(per_problem, ddof=1)) / num_problems
    seed_parts = [(_seed_component(x) / x.shape[0], x.shape[0] - 1) for x in (a, b) if x.shape[0] > 1]
    variance = problem_var + sum(part for part, _ in seed_parts)
    if variance <= 0.0:  # every problem moved by exactly the same amount in every run (typically: all scored 0)
        return {"difference": difference, "ci95": [difference, difference], "se": 0.0, "df": None,
                "p_value": 1.0 if difference == 0 else 0.0, "confidence": confidence, "degenerate": _why_constant(a, b)}
    denom = problem_var**2 / (num_problems - 1) + sum(part**2 / df for part, df in seed_parts)
    df = variance**2 / denom if denom > 0 else math.inf
    se = math.sqrt(variance)
    half = student_t_quantile(0.5 + confidence / 2.0, df) * se
    p_value = min(1.0, 2.0 * student_t_sf(abs(difference) / se, df))
    return {"difference": difference, "ci95": [difference - half, difference + half], "se": se, "df": df,
            "p_value": p_value, "confidence": confidence}


def _why_constant(a: np.ndarray, b: np.ndarray) -> str:
    if not a.any() and not b.any():
        return "every run scored 0 on every problem: the comparison has no signal to test"
    return "every problem changed by the same amount in every run: no spread to build an interval from"


def interval_at(record: dict, confidence: float) -> list[float]:
    """The interval of a pooled record at another confidence level (e.g. a Holm-adjusted one)."""
    if record["se"] == 0.0:
        return [record["difference"], record["difference"]]
    half = student_t_quantile(0.5 + confidence / 2.0, record["df"]) * record["se"]
    return [record["difference"] - half, record["difference"] + half]


def detectable_difference(record: dict, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest true difference this comparison would call (two-sided level ``alpha``) with probability
    ``power``: what a negative result can rule out, given its standard error and degrees of freedom. None when
    the comparison has no spread (``degenerate``): it cannot say what it could have detected."""
    if record["se"] == 0.0:
        return None
    return (student_t_quantile(1.0 - alpha / 2.0, record["df"]) + student_t_quantile(power, record["df"])) * record["se"]


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control without independence assumptions)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def sign_test(gained: int, lost: int) -> float:
    """Exact two-sided binomial sign test of ``gained`` vs ``lost`` problems (ties dropped)."""
    total = gained + lost
    if total == 0:
        return 1.0
    extreme = min(gained, lost)
    tail = sum(math.comb(total, i) for i in range(extreme + 1)) / 2.0**total
    return min(1.0, 2.0 * tail)
