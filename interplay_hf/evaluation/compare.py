"""``interplay-hf report``: several eval runs side by side, with each run's change against the first.

The first run is the reference (typically the base model). For every other run the change b − a of
process-verified and outcome pass@k gets a 95% interval by bootstrap over problems: **paired** when both runs
were evaluated on the same problems (the usual base → RL case: much narrower), unpaired otherwise, with a
line saying why. A change counts as beyond noise only when its interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interplay_hf.atomic_io import write_json, write_text
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import INTERVAL_METRICS, load_results, metric_values, records_in, summarize
from interplay_hf.evaluation.formatting import (
    context_per_op,
    error_table,
    fill_interval,
    k_axis,
    markdown_table,
    metric_columns,
    pct,
    pyplot,
    regime_block,
    safe_name,
    save_figure,
    shade_regimes,
    style_axes,
    table_ks,
)
from interplay_hf.evaluation.passk import parse_regimes
from interplay_hf.evaluation.report import HEADLINE_NOTE
from interplay_hf.evaluation.results_schema import Report
from interplay_hf.evaluation.stats import BootstrapSpec, align_by_id, paired_difference, unpaired_difference


def run_difference(a: dict, b: dict, metric: str, k: int | None, spec: BootstrapSpec, regime: str = "all",
                   context: str | None = None) -> dict | None:
    """Change b − a of ``metric`` on ``regime`` (and ``context``): paired when the runs hold the same problems there.

    Returns ``{"difference", "ci", "paired", "excludes_zero"}`` (None when a run has no problem there).
    """
    recs_a = records_in(a, regime, context)
    recs_b = records_in(b, regime, context)
    aligned = align_by_id(recs_a, recs_b)
    if aligned is not None:
        return paired_difference(metric_values(aligned[0], metric, k), metric_values(aligned[1], metric, k), spec)
    return unpaired_difference(metric_values(recs_a, metric, k), metric_values(recs_b, metric, k), spec)


def require_same_problems(a: dict, b: dict, names: tuple[str, str]) -> None:
    """Refuse a *paired* comparison of runs evaluated on different problems, naming what differs."""
    ids_a, ids_b = {r["id"] for r in a["problems"]}, {r["id"] for r in b["problems"]}
    if ids_a != ids_b:
        raise ConfigError(
            f"paired comparison of {names[0]} and {names[1]}: they were evaluated on different problems "
            f"({len(ids_a - ids_b)} only in {names[0]}, {len(ids_b - ids_a)} only in {names[1]}); evaluate both on "
            "the same eval set (same --data, --split, --ops, --max-problems-per-op) or read the unpaired intervals"
        )


def _differences(runs: dict[str, dict], labels: Sequence[str], regimes: dict, ks: Sequence[int],
                 spec: BootstrapSpec) -> dict:
    """report.json ``differences``: label → {paired, regime → metric → k → record} against ``labels[0]``."""
    ref = runs[labels[0]]
    out = {}
    for lab in labels[1:]:
        run = runs[lab]
        paired = align_by_id(ref["problems"], run["problems"]) is not None
        per_regime = {}
        for name in [*regimes, "all"]:
            if name != "all" and not (records_in(ref, name) and records_in(run, name)):
                continue
            per_regime[name] = {
                metric: {str(k): run_difference(ref, run, metric, k, spec, name) for k in ks}
                for metric in INTERVAL_METRICS
            }
        out[lab] = {"against": labels[0], "paired": paired, "per_regime": per_regime}
    return out


def _fmt_diff(rec: dict | None) -> str:
    if rec is None:
        return "–"
    lo, hi = rec["ci"]
    mark = " **\\***" if rec["excludes_zero"] else ""
    return f"{100 * rec['difference']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]{mark}"


def _difference_tables(differences: dict, regimes: dict, ks: Sequence[int], spec: BootstrapSpec) -> list[str]:
    level = f"{100 * spec.confidence:g}%"
    lines = [
        f"## Change against {next(iter(differences.values()))['against']} ({level} intervals)",
        "",
        f"Points of pass@k (b − a), with a {level} {spec.record()['method']} ({spec.resamples} resamples); "
        f"**\\*** marks an interval that excludes 0 (beyond noise). Paired: both runs on the same problems.",
        "",
    ]
    for lab, d in differences.items():
        if not d["paired"]:
            lines += [f"*{lab}*: paired comparison refused — it was evaluated on different problems than "
                      f"{d['against']}; the intervals below are unpaired (wider).", ""]
    header = ["regime", "run", "paired"] + [f"Δ proc@{k}" for k in ks] + [f"Δ out@{k}" for k in ks]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in [*regimes, "all"]:
        for lab, d in differences.items():
            blk = d["per_regime"].get(name)
            if blk is None:
                continue
            cells = [name, lab, "yes" if d["paired"] else "no"]
            cells += [_fmt_diff(blk[m][str(k)]) for m in INTERVAL_METRICS for k in ks]
            lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def summary_lines(summaries: dict, differences: dict, labels: Sequence[str], regimes: dict, k_hi: int) -> list[str]:
    """Three plain-language lines: what the first run learned, what the second changed, whether it is beyond noise."""
    a = labels[0]

    def ci_text(blk: dict, k: int) -> str:
        ci = (blk.get("process_pass@k_ci") or {}).get(str(k))
        return f" (95% CI {pct(ci[0])}–{pct(ci[1])})" if ci else ""

    names = [name for name in regimes if name in summaries[a]["per_regime"]] or ["all"]
    parts = []
    for name in names:
        blk = regime_block(summaries[a], name)
        parts.append(f"{name} {pct(blk['process_pass@k'].get('1'))}%{ci_text(blk, 1)} at pass@1, "
                     f"{pct(blk['process_pass@k'].get(str(k_hi)))}% at pass@{k_hi}")
    lines = [f"1. **{a}** writes a fully correct solution (every step verified): " + "; ".join(parts) + "."]
    if len(labels) < 2:
        return lines
    b = labels[1]
    d = differences[b]
    changes, beyond, unsolved, widths = [], [], [], []
    for name in names:
        recs = [(k, d["per_regime"].get(name, {}).get("process_pass@k", {}).get(str(k)))
                for k in ((1, k_hi) if k_hi != 1 else (1,))]
        recs = [(k, rec) for k, rec in recs if rec is not None]
        if all(not regime_block(summaries[lab], name).get("process_pass@k", {}).get(str(k_hi)) for lab in (a, b)):
            unsolved.append(name)  # neither run solves a problem here: no change to report
            continue
        if recs and recs[0][0] == 1:  # how small a pass@1 change this number of problems can tell from noise
            widths.append(f"±{50 * (recs[0][1]['ci'][1] - recs[0][1]['ci'][0]):.1f} points on "
                          f"{regime_block(summaries[a], name).get('num_problems', '?')} {name} problems")
        for k, rec in recs:
            lo, hi = rec["ci"]
            changes.append(f"{name} pass@{k} {100 * rec['difference']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]")
        # every k the report's tables show, not only the two quoted above: line 3 must agree with the tables
        for k, rec in sorted(d["per_regime"].get(name, {}).get("process_pass@k", {}).items(), key=lambda kv: int(kv[0])):
            if rec is not None and rec["excludes_zero"]:
                lo, hi = rec["ci"]
                beyond.append(f"{name} pass@{k} {'up' if rec['difference'] > 0 else 'down'} "
                              f"({100 * rec['difference']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}])")
    kind = "paired" if d["paired"] else "unpaired"
    tail = f"; {', '.join(unsolved)}: solved by neither" if unsolved else ""
    lines.append(f"2. **{b}** vs **{a}** (process-verified, {kind} 95% intervals): "
                 + ("; ".join(changes) or "no regime solved by either run") + tail + ".")
    lines.append("3. Beyond noise (interval excludes 0), at every k in the tables: "
                 + ("; ".join(beyond) + "." if beyond else
                    "none; no process-verified change is distinguishable from noise at this number of problems"
                    + (f" (the pass@1 intervals span {', '.join(widths)}: a smaller change cannot be seen)"
                       if widths else "") + "."))
    return lines


def _inspector(run_dirs: Sequence[str], labels: Sequence[str], out_dir: Path) -> str:
    """inspect.html of the compared runs beside report.md, and report.md's line about it: the link, or why there
    is no page (a run folder without samples.jsonl, e.g. committed counts only)."""
    from interplay_hf.evaluation.inspector import PAGE_FILE, SAMPLES_FILE, write_inspector
    from interplay_hf.evaluation.inspector.data import display_path
    from interplay_hf.evaluation.report import inspector_line

    without = [d for d in run_dirs if not (Path(d) / SAMPLES_FILE).is_file()]
    if without:
        return (f"No inspector page: {display_path(str(Path(without[0]) / SAMPLES_FILE))} is missing (evaluated "
                "with --no-samples, or a copy of results.json alone).")
    write_inspector(run_dirs, out_dir / PAGE_FILE, labels)
    return inspector_line(PAGE_FILE)


def compare_runs(run_dirs: Sequence[str], labels: Sequence[str] | None, out_dir: str | Path,
                 ks: Sequence[int] | None = None, intervals: BootstrapSpec | None = None, paired: bool = False,
                 inspector: bool = True) -> Report:
    """report.md, report.json and plots comparing several eval runs (e.g. base vs RL variants) side by side.

    Summaries are recomputed from the per-problem counts with a common k list (k ≤ the smallest n), with
    intervals, and every run after the first gets its change against the first. ``paired=True`` refuses runs
    evaluated on other problems than the first instead of falling back to unpaired intervals. ``inspector``
    also writes inspect.html of the runs (when they have their samples) and links it from report.md.
    """
    spec = intervals or BootstrapSpec()
    if not run_dirs:
        raise ConfigError("report: give at least one eval directory")
    loaded = [load_results(d, need_problems=True) for d in run_dirs]
    if labels is None:
        labels = [Path(d).name or str(d) for d in run_dirs]
    if len(labels) != len(loaded):
        raise ConfigError(f"--labels has {len(labels)} names for {len(loaded)} eval directories; give one per directory")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--labels must be distinct, got {list(labels)}")
    n_min = min(r["n"] for r in loaded)
    if ks is None:
        ks = sorted({k for r in loaded for k in r["k"] if k <= n_min}) or [1]
    if max(ks) > n_min:
        raise ConfigError(f"report: k = {max(ks)} exceeds the smallest n ({n_min}) among the runs; lower --k")
    if paired:
        for lab, r in zip(labels[1:], loaded[1:]):
            require_same_problems(loaded[0], r, (labels[0], lab))
    regimes = parse_regimes(loaded[0].get("regimes"))
    runs = dict(zip(labels, loaded))
    for r in loaded:
        r["regimes"] = regimes  # one regime split for every run
    summaries = {lab: summarize(r["problems"], ks, regimes, spec) for lab, r in runs.items()}
    same_set = all(align_by_id(loaded[0]["problems"], r["problems"]) is not None for r in loaded[1:])
    tks = table_ks(ks)
    differences = _differences(runs, labels, regimes, tks, spec) if len(labels) > 1 else {}
    headline = summary_lines(summaries, differences, labels, regimes, tks[-1])

    lines = ["# Evaluation comparison", "", *headline, "", "| label | model | data | n |", "|---|---|---|---|"]
    for lab, r in runs.items():
        model = r["model"] + (f" / {r['subfolder']}" if r.get("subfolder") else "")
        lines.append(f"| {lab} | {model} | {r['data']} | {r['n']} |")
    lines += ["", HEADLINE_NOTE, ""]
    out_dir = Path(out_dir)
    if inspector:
        lines += [_inspector(run_dirs, labels, out_dir), ""]
    if not same_set:
        lines += ["**Warning:** the runs were evaluated on different problem sets; differences are unpaired.", ""]
    if differences:
        lines += _difference_tables(differences, regimes, tks, spec)
    lines += _regime_tables(summaries, labels, regimes, tks)
    lines += _error_tables(summaries, labels, regimes)
    lines += _per_op_tables(summaries, labels, tks)
    write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    report: Report = {
        "runs": [{"label": lab, "dir": str(d), "model": r["model"], "subfolder": r["subfolder"], "n": r["n"]}
                 for (lab, r), d in zip(runs.items(), run_dirs)],
        "k": list(ks),
        "regimes": regimes,
        "same_problem_set": same_set,
        "intervals": spec.record(),
        "summary_lines": headline,
        "differences": differences,
        "summaries": summaries,
    }
    write_json(out_dir / "report.json", report)
    write_compare_plots(summaries, labels, ks, regimes, out_dir / "plots")
    return report


def _proc_with_ci(ks: Sequence[int]):
    """Table columns: process pass@k with its interval in the same cell, then outcome pass@k."""
    def cell(b: dict, k: int) -> str:
        ci = (b.get("process_pass@k_ci") or {}).get(str(k))
        value = pct(b["process_pass@k"].get(str(k)))
        return f"{value} ({pct(ci[0])}–{pct(ci[1])})" if ci else value

    return [(f"proc@{k} (95% CI)", lambda b, k=k: cell(b, k)) for k in ks]


def overall_table(report: Report) -> str:
    """The runs side by side over all problems (process pass@k with its interval, outcome pass@k), from
    report.json: what the pipeline prints after its summary lines."""
    tks = table_ks(report["k"])
    cols = _proc_with_ci(tks) + metric_columns(tks, chance=False)[len(tks):]
    rows = [([label], summary["overall"]) for label, summary in report["summaries"].items()]
    return markdown_table(rows, ["run"], cols)


def _regime_tables(summaries: dict, labels: Sequence[str], regimes: dict, tks: Sequence[int]) -> list[str]:
    first = summaries[labels[0]]
    cols = _proc_with_ci(tks) + metric_columns(tks, chance=False)[len(tks):]
    lines = ["## Per regime", ""]
    for name in [*regimes, "all"]:
        rows = []
        for lab in labels:
            blk = regime_block(summaries[lab], name)
            if blk:
                rows.append(([lab], blk))
        if rows:
            chance = regime_block(first, name).get("chance_pass@k", {})
            chance_txt = ", ".join(f"@{k} {pct(chance.get(str(k)))}" for k in tks) if chance else "–"
            span = "" if name == "all" else f" (op {regimes[name][0]}–{regimes[name][1]})"
            lines += [f"### {name}{span} — chance: {chance_txt}", "", markdown_table(rows, ["run"], cols), ""]
    return lines


def _error_tables(summaries: dict, labels: Sequence[str], regimes: dict) -> list[str]:
    lines = ["## Error types per regime", "",
             "Percentage of samples showing each error (a sample can show several): what process rewards should "
             "reduce.", ""]
    for name in [*regimes, "all"]:
        rows = [([lab], blk) for lab in labels if (blk := regime_block(summaries[lab], name))]
        if rows:
            lines += [f"### {name}", "", error_table(rows, ["run"]), ""]
    return lines


def _per_op_tables(summaries: dict, labels: Sequence[str], tks: Sequence[int]) -> list[str]:
    first = summaries[labels[0]]
    headline = [tks[0], tks[-1]] if len(tks) > 1 else list(tks)
    all_ops = sorted({int(op) for s in summaries.values() for op in s["per_op"]})
    lines: list[str] = []
    for metric, title, short in (("process_pass@k", "process-verified", "proc"), ("outcome_pass@k", "outcome", "out")):
        header = ["op", "chance@" + str(headline[-1])] + [f"{lab} {short}@{k}" for lab in labels for k in headline]
        lines += [f"## Per op: {title} pass@k", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for op in all_ops:
            chance = first["per_op"].get(str(op), {}).get("chance_pass@k", {}).get(str(headline[-1]))
            cells = [str(op), pct(chance)]
            for lab in labels:
                blk = summaries[lab]["per_op"].get(str(op))
                cells += [pct(blk[metric].get(str(k))) if blk else "–" for k in headline]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


# --------------------------------------------------------------------------------------------- plots


def write_compare_plots(summaries: dict, labels: Sequence[str], ks: Sequence[int], regimes: dict, out_dir: Path) -> list[Path]:
    """Runs side by side: pass@k vs op (a panel per k, process solid with its 95% band, outcome dotted), per
    context, and process pass@k vs k per regime with bands."""
    plt = pyplot()
    headline = [ks[0], ks[-1]] if len(ks) > 1 else list(ks)
    paths = []
    first = summaries[labels[0]]
    contexts = sorted(first["per_context"])
    groups = [("", None)] + ([(f"_{safe_name(c)}", c) for c in contexts] if len(contexts) > 1 else [])
    for suffix, ctx in groups:
        fig, axes = plt.subplots(1, len(headline), figsize=(5.5 * len(headline), 4), sharey=True, squeeze=False)
        for ax, k in zip(axes[0], headline):
            ops_all: set[int] = set()
            for i, lab in enumerate(labels):
                per_op = summaries[lab]["per_op"] if ctx is None else context_per_op(summaries[lab], ctx)
                ops = sorted(int(op) for op in per_op)
                ops_all.update(ops)
                blocks = [per_op[str(op)] for op in ops]
                ax.plot(ops, [b["process_pass@k"][str(k)] for b in blocks], marker="o", ms=3, color=f"C{i}",
                        label=f"{lab} process")
                fill_interval(ax, ops, [(b.get("process_pass@k_ci") or {}).get(str(k)) for b in blocks], f"C{i}")
                ax.plot(ops, [b["outcome_pass@k"][str(k)] for b in blocks], ls=":", color=f"C{i}", label=f"{lab} outcome")
                if i == 0 and all(b["chance_pass@k"] for b in blocks):
                    ax.plot(ops, [b["chance_pass@k"][str(k)] for b in blocks], ls="--", lw=1, color="grey", label="chance")
            shade_regimes(ax, regimes, sorted(ops_all))
            ax.set_title(f"pass@{k}" + (f" — {ctx}" if ctx else "") + " (bands: 95% CI)", fontsize=10)
            ax.set_xlabel("op")
            style_axes(ax, sorted(ops_all))
        axes[0][0].set_ylabel("pass@k")
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(save_figure(fig, out_dir / f"compare_vs_op{suffix}.png"))
    names = [name for name in regimes if all(name in summaries[lab]["per_regime"] for lab in labels)]
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], names):
            for i, lab in enumerate(labels):
                blk = summaries[lab]["per_regime"][name]
                ax.plot(ks, [blk["process_pass@k"][str(k)] for k in ks], marker="o", ms=3, color=f"C{i}", label=lab)
                fill_interval(ax, ks, [(blk.get("process_pass@k_ci") or {}).get(str(k)) for k in ks], f"C{i}")
            chance = first["per_regime"][name]["chance_pass@k"]
            if chance:
                ax.plot(ks, [chance[str(k)] for k in ks], ls="--", lw=1, color="grey", label="chance (outcome)")
            ax.set_title(f"{name}: process-verified pass@k", fontsize=10)
            k_axis(ax, ks)
        axes[0][0].set_ylabel("pass@k")
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(save_figure(fig, out_dir / "compare_vs_k.png"))
    return paths
