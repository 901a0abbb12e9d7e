"""``interplay-hf findings``: the paper's claims checked against committed evaluation results.

A findings spec (YAML) names, per claim, two results.json files (``a`` without the intervention, ``b`` with it),
a metric, a regime and the paper's direction. Each claim's change b − a gets a paired interval over problems
(unpaired when the runs hold different problems), and it is *reproduced* only when the interval excludes 0 in
the paper's direction. A claim may add ``conditions`` (more comparisons, e.g. "edge RL beats ID RL too"): it
is reproduced only when every one is. Everything in the output recomputes from the results files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from interplay_hf.atomic_io import write_json
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import load_results
from interplay_hf.evaluation.compare import run_difference
from interplay_hf.evaluation.results_schema import Findings
from interplay_hf.evaluation.stats import BootstrapSpec
from interplay_hf.yaml_io import load_yaml_mapping, reject_unknown_keys

# "not_decrease": no significant decrease (the interval's upper end >= 0), for "at equal or better" conditions.
DIRECTIONS = ("increase", "decrease", "not_decrease")
_METRIC = re.compile(r"^(process_pass|outcome_pass)@(\d+)$|^error:(\w+)$")


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: ``metric`` on ``regime`` moves from run ``a`` to run ``b`` in ``direction``."""

    a: str
    b: str
    metric: str
    regime: str
    direction: str
    context: str | None = None

    def metric_and_k(self) -> tuple[str, int | None]:
        match = _METRIC.match(self.metric)
        if not match:
            raise ConfigError(f"metric {self.metric!r}: write process_pass@K, outcome_pass@K or error:<type>")
        if match.group(3):
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


_COMPARISON_KEYS = {"a", "b", "metric", "regime", "direction", "context"}
_FINDING_KEYS = {"name", "claim", "conditions", "compute"} | _COMPARISON_KEYS


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
    for key in ("a", "b", "metric", "regime", "direction"):
        if not isinstance(values.get(key), str) or not values[key]:
            raise ConfigError(f"{where}.{key}: required (a string)")
    if values["direction"] not in DIRECTIONS:
        raise ConfigError(f"{where}.direction: {values['direction']!r}; write one of {', '.join(DIRECTIONS)}")
    for key in ("a", "b"):
        path = root / values[key]
        if not (path / "results.json").is_file() and not (path.is_file() and path.name == "results.json"):
            raise ConfigError(f"{where}.{key}: no results.json at {path}; give an eval folder or its results.json")
    comp = Comparison(**{k: values.get(k) for k in _COMPARISON_KEYS})
    comp.metric_and_k()
    return comp


def load_findings_spec(path: str | Path, root: str | Path | None = None) -> list[Finding]:
    """Parse and check a findings spec; result paths resolve against ``root`` (default: the current folder)."""
    spec = load_yaml_mapping(path)
    root_dir = Path(root) if root is not None else Path.cwd()
    items = spec.get("findings")
    reject_unknown_keys(spec, {"findings"}, str(path))
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
        conditions = tuple(_comparison(c, f"{where}.conditions[{j}]", root_dir, defaults=main_raw)
                           for j, c in enumerate(raw.get("conditions") or []))
        compute = _compute_check(raw.get("compute"), f"{where}.compute", root_dir)
        findings.append(Finding(raw["name"], raw["claim"], main, conditions, compute))
    names = [f.name for f in findings]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: finding names must be distinct, got {names}")
    return findings


def evaluate_comparison(comp: Comparison, root: Path, spec: BootstrapSpec) -> dict:
    """The output record of one comparison (paths as given, relative to the repository root)."""
    metric, k = comp.metric_and_k()
    a, b = load_results(root / comp.a), load_results(root / comp.b)
    rec = run_difference(a, b, metric, k, spec, comp.regime, comp.context)
    if rec is None:
        raise ConfigError(f"{comp.a} vs {comp.b}: no problems in regime {comp.regime!r}; check the regime name")
    lo, hi = rec["ci"]
    reproduced = {"increase": lo > 0, "decrease": hi < 0, "not_decrease": hi >= 0}[comp.direction]
    out = {"a": comp.a, "b": comp.b, "metric": comp.metric, "regime": comp.regime, "direction": comp.direction,
           "difference": rec["difference"], "ci95": [lo, hi], "paired": rec["paired"], "reproduced": bool(reproduced)}
    if comp.context is not None:
        out["context"] = comp.context
    return out


def evaluate_findings(findings: list[Finding], root: str | Path, spec: BootstrapSpec | None = None) -> Findings:
    """findings.json: every claim with its main comparison, its conditions, and whether all reproduced."""
    spec = spec or BootstrapSpec()
    if spec.confidence != 0.95:
        raise ConfigError("findings: intervals are reported as ci95; keep --confidence at 0.95")
    root_dir = Path(root)
    out = []
    for f in findings:
        main = evaluate_comparison(f.main, root_dir, spec)
        conditions = [evaluate_comparison(c, root_dir, spec) for c in f.conditions]
        compute = evaluate_compute(f.compute, root_dir) if f.compute else None
        record = {"name": f.name, "claim": f.claim, **main,
                  "reproduced": main["reproduced"] and all(c["reproduced"] for c in conditions)
                  and (compute is None or compute["equal"])}
        if conditions:
            record["conditions"] = conditions
        if compute:
            record["compute"] = compute
        out.append(record)
    return {"intervals": spec.record(), "findings": out}


def findings_markdown(result: dict) -> str:
    """One table: each claim, its change with interval, reproduced or not."""
    lines = ["| finding | metric (regime) | b − a, points [95% CI] | reproduced |", "|---|---|---|---|"]
    for f in result["findings"]:
        rows = [f] + f.get("conditions", [])
        cells = "; ".join(
            f"{r['metric']} ({r['regime']}{', ' + r['context'] if r.get('context') else ''}): "
            f"{100 * r['difference']:+.1f} [{100 * r['ci95'][0]:+.1f}, {100 * r['ci95'][1]:+.1f}]"
            for r in rows
        )
        lines.append(f"| `{f['name']}` | {rows[0]['metric']} | {cells} | {'**yes**' if f['reproduced'] else 'no'} |")
    return "\n".join(lines)


def run_findings(spec_path: str, output: str | None, root: str | None, spec: BootstrapSpec) -> dict:
    findings = load_findings_spec(spec_path, root)
    result = evaluate_findings(findings, root or Path.cwd(), spec)
    if output:
        write_json(Path(output), result)
    return result
