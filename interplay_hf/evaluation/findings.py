"""``interplay-hf findings``: the paper's claims checked against committed evaluation results.

A findings spec (YAML) names, per claim, two results.json files (``a`` without the intervention, ``b`` with it),
a metric, a regime and the paper's direction. Each claim's change b − a gets a paired interval over problems
(unpaired when the runs hold different problems), and it is *reproduced* only when the interval excludes 0 in
the paper's direction. A claim may add ``conditions`` (more comparisons, e.g. "edge RL beats ID RL too"): it
is reproduced only when every one is. Everything in the output recomputes from the results files.

An arm given as a *list* of runs (one per training seed) is pooled over its seeds (``seed_stats``): the interval
covers problems and seeds, each seed's own difference is listed, and the claim also needs every seed to agree in
sign. With ``correction: holm`` the main comparisons form one family and decide at Holm-adjusted p < ``alpha``.
``supplementary`` rows are reported and decide nothing. ``registered: <commit>`` names the commit that
pre-registered the spec: a claim whose text differs from that commit's (or that it lacks) is reported as
exploratory, with a warning, and leaves the family.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from interplay_hf.atomic_io import write_json
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import load_results, metric_values, records_in
from interplay_hf.evaluation.compare import run_difference
from interplay_hf.evaluation.registration import mark_unregistered
from interplay_hf.evaluation.results_schema import Findings
from interplay_hf.evaluation.seed_stats import (
    detectable_difference,
    holm_adjust,
    interval_at,
    pooled_difference,
    sign_test,
)
from interplay_hf.evaluation.stats import BootstrapSpec, align_by_id, paired_difference
from interplay_hf.guard.outputs import check_apart, check_file
from interplay_hf.yaml_io import load_yaml_mapping, reject_unknown_keys

# "not_decrease": no significant decrease (the interval's upper end >= 0), for "at equal or better" conditions.
DIRECTIONS = ("increase", "decrease", "not_decrease")
_METRIC = re.compile(r"^(process_pass|outcome_pass)@(\d+)$|^error:(\w+)$|^(right_answer_unverified)$")


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: ``metric`` on ``regime`` moves from run ``a`` to run ``b`` in ``direction``."""

    a: str | tuple[str, ...]  # one run, or one run per training seed
    b: str | tuple[str, ...]
    metric: str
    regime: str
    direction: str
    context: str | None = None

    @property
    def seeded(self) -> bool:
        return isinstance(self.a, tuple) or isinstance(self.b, tuple)

    def metric_and_k(self) -> tuple[str, int | None]:
        match = _METRIC.match(self.metric)
        if not match:
            raise ConfigError(f"metric {self.metric!r}: write process_pass@K, outcome_pass@K, error:<type> or "
                              "right_answer_unverified")
        if match.group(3) or match.group(4):
            return self.metric, None
        return f"{match.group(1)}@k", int(match.group(2))


@dataclass(frozen=True)
class ComputeCheck:
    """Both runs' training FLOPs (``interplay-hf compute`` files): the claim holds only at equal compute."""

    a: str
    b: str
    tolerance: float = 0.1  # |b / a - 1| allowed


@dataclass(frozen=True)
class Finding:
    name: str
    claim: str
    main: Comparison
    conditions: tuple[Comparison, ...] = field(default_factory=tuple)
    compute: ComputeCheck | None = None
    supplementary: tuple[Comparison, ...] = field(default_factory=tuple)
    exploratory: bool = False


@dataclass(frozen=True)
class FindingsSpec:
    """A parsed spec: the claims, the family's correction and level, and the registration commit (if any)."""

    findings: list[Finding]
    alpha: float = 0.05
    correction: str | None = None  # "holm": the main comparisons are one family
    registered: str | None = None
    warnings: tuple[str, ...] = ()


_COMPARISON_KEYS = {"a", "b", "metric", "regime", "direction", "context"}
_FINDING_KEYS = {"name", "claim", "conditions", "compute", "supplementary", "exploratory"} | _COMPARISON_KEYS
_SPEC_KEYS = {"findings", "alpha", "correction", "registered"}


def _compute_check(raw, where: str, root: Path) -> ComputeCheck | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a mapping {{a: compute.json, b: compute.json, tolerance: 0.1}}")
    reject_unknown_keys(raw, {"a", "b", "tolerance"}, where)
    for key in ("a", "b"):
        if not isinstance(raw.get(key), str) or not (root / raw[key]).is_file():
            raise ConfigError(f"{where}.{key}: no compute.json at {raw.get(key)!r}; write it with interplay-hf compute")
    tolerance = raw.get("tolerance", 0.1)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        raise ConfigError(f"{where}.tolerance: {tolerance!r}; a fraction in (0, 1), e.g. 0.1 for within 10%")
    return ComputeCheck(raw["a"], raw["b"], float(tolerance))


def evaluate_compute(check: ComputeCheck, root: Path) -> dict:
    """Both totals, their ratio, and whether they are equal within the tolerance."""
    totals = {}
    for key in ("a", "b"):
        path = root / getattr(check, key)
        try:
            totals[key] = float(json.loads(path.read_text(encoding="utf-8"))["total_flops"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError):
            raise ConfigError(f"{path}: not a compute.json (no total_flops); write it with interplay-hf compute") from None
    ratio = totals["b"] / totals["a"] if totals["a"] > 0 else float("inf")
    return {"a": check.a, "b": check.b, "a_flops": totals["a"], "b_flops": totals["b"], "ratio": ratio,
            "tolerance": check.tolerance, "equal": abs(ratio - 1) <= check.tolerance}


def _comparison(raw: dict, where: str, root: Path, defaults: dict | None = None) -> Comparison:
    values = {**(defaults or {}), **raw}
    reject_unknown_keys(raw, _COMPARISON_KEYS, where)
    for key in ("metric", "regime", "direction"):
        if not isinstance(values.get(key), str) or not values[key]:
            raise ConfigError(f"{where}.{key}: required (a string)")
    if values["direction"] not in DIRECTIONS:
        raise ConfigError(f"{where}.direction: {values['direction']!r}; write one of {', '.join(DIRECTIONS)}")
    for key in ("a", "b"):
        values[key] = _runs(values.get(key), f"{where}.{key}", root)
    comp = Comparison(**{k: values.get(k) for k in _COMPARISON_KEYS})
    comp.metric_and_k()
    return comp


def _runs(raw, where: str, root: Path) -> str | tuple[str, ...]:
    """One run (a path) or one run per seed (a list of paths); each must hold a results.json."""
    paths = raw if isinstance(raw, list) else [raw]
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise ConfigError(f"{where}: required (an eval folder, or a list of them, one per training seed)")
    if len(set(paths)) != len(paths):
        raise ConfigError(f"{where}: a run is listed twice; list each seed's eval folder once")
    for p in paths:
        path = root / p
        if not (path / "results.json").is_file() and not (path.is_file() and path.name == "results.json"):
            raise ConfigError(f"{where}: no results.json at {path}; give an eval folder or its results.json "
                              "(a missing seed: run its stages, then collect its results)")
    return tuple(paths) if isinstance(raw, list) else paths[0]


def _check_seed_counts(findings: list[Finding], path) -> None:
    """Every seeded arm lists as many runs as the most seeded one: a missing seed is an error, not a smaller n."""
    arms = [(f.name, side, getattr(c, side)) for f in findings for c in (f.main, *f.conditions, *f.supplementary)
            for side in ("a", "b")]
    counts = {len(runs) for _, _, runs in arms if isinstance(runs, tuple)}
    if len(counts) > 1:
        name, side, runs = next((n, s, r) for n, s, r in arms if isinstance(r, tuple) and len(r) < max(counts))
        raise ConfigError(f"{path}: {name}.{side} lists {len(runs)} run(s) where other arms list {max(counts)} "
                          "seeds; add the missing seed's results")


def load_findings_spec(path: str | Path, root: str | Path | None = None) -> list[Finding]:
    """Parse and check a findings spec; result paths resolve against ``root`` (default: the current folder)."""
    return parse_findings_spec(path, root).findings


def parse_findings_spec(path: str | Path, root: str | Path | None = None) -> FindingsSpec:
    """The spec with its family settings; rows changed since the registered commit are marked exploratory."""
    spec = load_yaml_mapping(path)
    root_dir = Path(root) if root is not None else Path.cwd()
    findings = _parse_findings(spec, path, root_dir)
    _check_seed_counts(findings, path)
    alpha = spec.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConfigError(f"{path}: alpha {alpha!r}; a level in (0, 1), e.g. 0.05")
    correction = spec.get("correction")
    if correction not in (None, "holm"):
        raise ConfigError(f"{path}: correction {correction!r}; write holm (or leave it out for none)")
    registered = spec.get("registered")
    warnings: tuple[str, ...] = ()
    if registered is not None:
        findings, warnings = mark_unregistered(findings, spec, path, str(registered))
    return FindingsSpec(findings, float(alpha), correction, registered, warnings)


def _parse_findings(spec: dict, path, root_dir: Path) -> list[Finding]:
    items = spec.get("findings")
    reject_unknown_keys(spec, _SPEC_KEYS, str(path))
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: 'findings' must be a non-empty list of claims")
    findings = []
    for i, raw in enumerate(items):
        where = f"{path}: findings[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: each finding is a mapping (name, claim, a, b, metric, regime, direction)")
        reject_unknown_keys(raw, _FINDING_KEYS, where)
        for key in ("name", "claim"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ConfigError(f"{where}.{key}: required (a string)")
        main_raw = {k: v for k, v in raw.items() if k in _COMPARISON_KEYS}
        main = _comparison(main_raw, where, root_dir)
        conditions, supplementary = (
            tuple(_comparison(c, f"{where}.{key}[{j}]", root_dir, defaults=main_raw)
                  for j, c in enumerate(raw.get(key) or []))
            for key in ("conditions", "supplementary")
        )
        compute = _compute_check(raw.get("compute"), f"{where}.compute", root_dir)
        exploratory = raw.get("exploratory", False)
        if not isinstance(exploratory, bool):
            raise ConfigError(f"{where}.exploratory: {exploratory!r}; write true or false")
        findings.append(Finding(raw["name"], raw["claim"], main, conditions, compute, supplementary, exploratory))
    names = [f.name for f in findings]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: finding names must be distinct, got {names}")
    return findings


def _holds(direction: str, lo: float, hi: float) -> bool:
    return {"increase": lo > 0, "decrease": hi < 0, "not_decrease": hi >= 0}[direction]


def _aligned_values(comp: Comparison, root: Path) -> tuple[list[list[float]], list[list[float]], list[dict]]:
    """Per-problem values of every run of both arms, in one problem order; refuses runs on other problems."""
    metric, k = comp.metric_and_k()
    runs = {side: getattr(comp, side) if isinstance(getattr(comp, side), tuple) else (getattr(comp, side),)
            for side in ("a", "b")}
    records = {p: records_in(load_results(root / p, need_problems=True), comp.regime, comp.context) for side in runs for p in runs[side]}
    first = runs["a"][0]
    if not records[first]:
        raise ConfigError(f"{first}: no problems in regime {comp.regime!r}; check the regime name")
    ordered = {}
    for p, recs in records.items():
        aligned = align_by_id(records[first], recs)
        if aligned is None:
            raise ConfigError(f"{p} and {first}: evaluated on different problems in regime {comp.regime!r}; "
                              "evaluate every seed of both arms on the same eval set")
        ordered[p] = aligned[1]
    values = {p: _values(recs, comp.metric, metric, k, p) for p, recs in ordered.items()}
    return [values[p] for p in runs["a"]], [values[p] for p in runs["b"]], [ordered[p] for p in (*runs["a"], *runs["b"])]


def _values(records: list[dict], name: str, metric: str, k: int | None, where: str) -> list[float]:
    if name != "right_answer_unverified":
        return metric_values(records, metric, k)
    for r in records:  # verified implies a right answer for every sample this tool scored; counts must agree
        if r["process_correct"] > r["outcome_correct"]:
            raise ConfigError(f"{where}: problem {r['id']} has more verified than right answers, so the share of "
                              "right answers with an unverified process cannot be computed from counts")
    return [(r["outcome_correct"] - r["process_correct"]) / r["n"] for r in records]


def _seed_pairs(num_a: int, num_b: int) -> list[tuple[int, int]]:
    """Seed s of b against seed s of a; a one-run arm stands against every seed of the other."""
    return [(min(i, num_a - 1), min(i, num_b - 1)) for i in range(max(num_a, num_b))]


def _per_seed(comp: Comparison, a: list[list[float]], b: list[list[float]]) -> list[dict]:
    """Each seed's own difference (the seed pairing of ``_seed_pairs``)."""
    label = lambda runs, i: runs[i] if isinstance(runs, tuple) else runs  # noqa: E731
    return [{"a": label(comp.a, i), "b": label(comp.b, j), "difference": sum(b[j]) / len(b[j]) - sum(a[i]) / len(a[i])}
            for i, j in _seed_pairs(len(a), len(b))]


def _solved_changes(records: list[list[dict]], num_a: int) -> list[dict]:
    """Per seed pairing: problems with no verified sample in a and at least one in b (gained), the reverse (lost)."""
    a_runs, b_runs = records[:num_a], records[num_a:]
    out = []
    for i, j in _seed_pairs(len(a_runs), len(b_runs)):
        pairs = list(zip(a_runs[i], b_runs[j]))
        gained = sum(x["process_correct"] == 0 < y["process_correct"] for x, y in pairs)
        lost = sum(y["process_correct"] == 0 < x["process_correct"] for x, y in pairs)
        out.append({"gained": gained, "lost": lost, "sign_test_p": sign_test(gained, lost)})
    return out


def evaluate_comparison(comp: Comparison, root: Path, spec: BootstrapSpec) -> dict:
    """The output record of one comparison (paths as given, relative to the repository root)."""
    if comp.seeded:
        return _pooled_comparison(comp, root)
    metric, k = comp.metric_and_k()
    if comp.metric == "right_answer_unverified":  # from counts, on aligned problems (loads both runs itself)
        values_a, values_b, _ = _aligned_values(comp, root)
        rec = paired_difference(values_a[0], values_b[0], spec)
    else:
        a, b = load_results(root / comp.a, need_problems=True), load_results(root / comp.b, need_problems=True)
        rec = run_difference(a, b, metric, k, spec, comp.regime, comp.context)
    if rec is None:
        raise ConfigError(f"{comp.a} vs {comp.b}: no problems in regime {comp.regime!r}; check the regime name")
    lo, hi = rec["ci"]
    out = {"a": comp.a, "b": comp.b, "metric": comp.metric, "regime": comp.regime, "direction": comp.direction,
           "difference": rec["difference"], "ci95": [lo, hi], "paired": rec["paired"],
           "reproduced": _holds(comp.direction, lo, hi)}
    if comp.context is not None:
        out["context"] = comp.context
    return out


def _pooled_comparison(comp: Comparison, root: Path) -> dict:
    """A comparison with at least one seeded arm: pooled interval over problems and seeds, per-seed differences."""
    a, b, records = _aligned_values(comp, root)
    rec = pooled_difference(a, b)
    per_seed = _per_seed(comp, a, b)
    sign = {"increase": 1, "decrease": -1}.get(comp.direction)
    agree = sign is None or all(s["difference"] * sign > 0 for s in per_seed)
    out = {"a": list(comp.a) if isinstance(comp.a, tuple) else comp.a,
           "b": list(comp.b) if isinstance(comp.b, tuple) else comp.b,
           "metric": comp.metric, "regime": comp.regime, "direction": comp.direction,
           "difference": rec["difference"], "ci95": rec["ci95"], "paired": True, "pooled_over_seeds": True,
           "se": rec["se"], "df": rec["df"], "p_value": rec["p_value"], "per_seed": per_seed,
           "seeds_agree": agree, "reproduced": _holds(comp.direction, *rec["ci95"]) and agree}
    if "degenerate" in rec:  # e.g. no run solved any problem: the row is reported as untestable, not as [0, 0]
        out["degenerate"] = rec["degenerate"]
    if comp.metric.startswith("process_pass"):
        out["solved"] = _solved_changes(records, len(a))
    if comp.context is not None:
        out["context"] = comp.context
    return out


def _apply_family(records: list[dict], findings: list[Finding], alpha: float) -> None:
    """Holm over the confirmatory claims' main comparisons: adjusted p, the interval at the claim's Holm level,
    and the verdict (adjusted p < alpha, the paper's direction, every seed agreeing)."""
    family = [i for i, f in enumerate(findings) if not f.exploratory]
    for i in family:
        if "p_value" not in records[i] or records[i]["direction"] == "not_decrease":
            raise ConfigError(f"finding {findings[i].name!r}: a Holm family needs pooled increase/decrease "
                              "comparisons (list each arm's seeds)")
    adjusted = holm_adjust([records[i]["p_value"] for i in family])
    order = sorted(range(len(family)), key=lambda j: records[family[j]]["p_value"])
    for rank, j in enumerate(order):
        rec = records[family[j]]
        level = 1.0 - alpha / (len(family) - rank)
        lo, hi = interval_at(rec, level)
        rec["holm"] = {"adjusted_p": adjusted[j], "level": level, "interval": [lo, hi],
                       # the first Holm step is the strictest (alpha / family size): what a negative can rule out
                       "detectable_80": detectable_difference(rec, alpha / len(family))}
        in_direction = _holds(rec["direction"], rec["difference"], rec["difference"])
        rec["main_reproduced"] = adjusted[j] < alpha and in_direction and rec["seeds_agree"]


def evaluate_findings(findings: list[Finding] | FindingsSpec, root: str | Path,
                      spec: BootstrapSpec | None = None) -> Findings:
    """findings.json: every claim with its main comparison, its conditions, and whether all reproduced."""
    spec = spec or BootstrapSpec()
    if spec.confidence != 0.95:
        raise ConfigError("findings: intervals are reported as ci95; keep --confidence at 0.95")
    family = findings if isinstance(findings, FindingsSpec) else FindingsSpec(list(findings))
    root_dir = Path(root)
    mains = [evaluate_comparison(f.main, root_dir, spec) for f in family.findings]
    if family.correction == "holm":
        _apply_family(mains, family.findings, family.alpha)
    out = []
    for f, main in zip(family.findings, mains):
        conditions = [evaluate_comparison(c, root_dir, spec) for c in f.conditions]
        compute = evaluate_compute(f.compute, root_dir) if f.compute else None
        main_ok = main.pop("main_reproduced", main["reproduced"])
        record = {"name": f.name, "claim": f.claim, **main,
                  "reproduced": main_ok and all(c["reproduced"] for c in conditions)
                  and (compute is None or compute["equal"])}
        if conditions:
            record["conditions"] = conditions
        if compute:
            record["compute"] = compute
        if f.supplementary:
            record["supplementary"] = [evaluate_comparison(c, root_dir, spec) for c in f.supplementary]
        if family.correction or family.registered:
            record["exploratory"] = f.exploratory
        out.append(record)
    result: dict = {"intervals": spec.record(), "findings": out}
    if family.correction:
        result["family"] = {"correction": family.correction, "alpha": family.alpha,
                            "claims": [f.name for f in family.findings if not f.exploratory]}
    if family.registered:
        result["registered"] = family.registered
    return result


def _cell(r: dict) -> str:
    where = f"{r['regime']}{', ' + r['context'] if r.get('context') else ''}"
    if r.get("degenerate"):
        return f"{r['metric']} ({where}): untestable, {r['degenerate']}"
    text = (f"{r['metric']} ({where}): {100 * r['difference']:+.1f} "
            f"[{100 * r['ci95'][0]:+.1f}, {100 * r['ci95'][1]:+.1f}]")
    if r.get("per_seed"):
        text += " (seeds: " + ", ".join(f"{100 * s['difference']:+.1f}" for s in r["per_seed"]) + ")"
    return text


def findings_markdown(result: dict) -> str:
    """One table: each claim, its change with interval (per seed where pooled), reproduced or not."""
    holm = "family" in result
    head = ("| finding | metric (regime) | b − a, points [95% CI]; conditions | "
            + ("Holm-corrected interval | Holm p | detectable at 80% power, points | " if holm else "")
            + "reproduced |")
    lines = [head, "|---|---|---|" + ("---|---|---|" if holm else "") + "---|"]
    for f in result["findings"]:
        verdict = "**yes**" if f["reproduced"] else "no"
        if f.get("exploratory"):
            verdict += " (exploratory)"
        p = (_holm_cells(f["holm"]) if "holm" in f else ("– | – | – | " if holm else ""))
        cells = [_cell(f)] + [f"against {_arm(c['a'])}: {_cell(c)}" for c in f.get("conditions", [])]
        lines.append(f"| `{f['name']}` | {f['metric']} | {'; '.join(cells)} | {p}{verdict} |")
    supplementary = [(f["name"], r) for f in result["findings"] for r in f.get("supplementary", [])]
    if supplementary:
        lines += ["", "Supplementary (reported, decide nothing):", ""]
        lines += [f"- `{name}`: {_a_to_b(r)} {_cell(r)}" for name, r in supplementary]
    return "\n".join(lines)


def _holm_cells(h: dict) -> str:
    if h["detectable_80"] is None:  # a degenerate comparison: no interval, no power
        return f"– | {h['adjusted_p']:.3g} | – | "
    lo, hi = h["interval"]
    return (f"[{100 * lo:+.1f}, {100 * hi:+.1f}] at {100 * h['level']:.4g}% | {h['adjusted_p']:.3g} | "
            f"{100 * h['detectable_80']:.1f} | ")


def _arm(runs: str | list[str]) -> str:
    """An arm's name: its first run's folder, without the seed suffix when the arm lists seeds."""
    if isinstance(runs, list):
        return re.sub(r"_s\d+$", "", Path(runs[0]).name)
    return Path(runs).name


def _a_to_b(r: dict) -> str:
    return f"{_arm(r['a'])} → {_arm(r['b'])}:"


def _result_paths(parsed: FindingsSpec, root: Path) -> list[tuple[str, Path]]:
    """Every results or compute file a spec reads, named ``<finding>.<part>.a|b`` (what --output must not be)."""
    paths = []
    for f in parsed.findings:
        parts = [("", f.main), *((f".conditions[{j}]", c) for j, c in enumerate(f.conditions)),
                 *((f".supplementary[{j}]", c) for j, c in enumerate(f.supplementary))]
        parts += [(".compute", f.compute)] if f.compute is not None else []
        for part, comp in parts:
            for key in ("a", "b"):
                runs = getattr(comp, key)
                paths += [(f"{f.name}{part}.{key}", root / run) for run in (runs if isinstance(runs, tuple) else (runs,))]
    return paths


def run_findings(spec_path: str, output: str | None, root: str | None, spec: BootstrapSpec,
                 warn=lambda message: None) -> dict:
    parsed = parse_findings_spec(spec_path, root)
    check_file(output)
    check_apart(output, [("spec", spec_path), *_result_paths(parsed, Path(root) if root is not None else Path.cwd())],
                "--output")
    for message in parsed.warnings:
        warn(message)
    result = evaluate_findings(parsed, root or Path.cwd(), spec)
    if output:
        write_json(Path(output), result)
    return result
