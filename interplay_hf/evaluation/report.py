"""Markdown tables and matplotlib plots for one evaluation run, and comparisons of several runs.

Headline = process-verified pass@k (unbiased); outcome pass@k beside it and the chance baseline
beside that, because at small op a blind guesser already reaches outcome pass@16 ≈ 0.97.
Plots use the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interplay_hf.atomic_io import write_json, write_text
from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import load_results, summarize
from interplay_hf.evaluation.passk import parse_regimes

HEADLINE_NOTE = (
    "Headline: **process-verified pass@k** (unbiased estimator, every step checked against the gold graph). "
    "Outcome pass@k (final number only) and the chance baseline (k blind guesses from the op's answer "
    "distribution) are beside it: at small op, guessing alone reaches high outcome pass@k. "
    "Numbers are percentages."
)


def table_ks(ks: Sequence[int], limit: int = 4) -> list[int]:
    """At most ``limit`` k values for tables: first, last and geometrically spaced ones between."""
    ks = sorted(ks)
    if len(ks) <= limit:
        return list(ks)
    picks = [ks[round(i * (len(ks) - 1) / (limit - 1))] for i in range(limit)]
    return sorted(set(picks))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _metric_columns(ks: Sequence[int], chance: bool = True, greedy: bool = True) -> list[tuple[str, callable]]:
    cols = [(f"proc@{k}", lambda b, k=k: b["process_pass@k"].get(str(k))) for k in ks]
    cols += [(f"out@{k}", lambda b, k=k: b["outcome_pass@k"].get(str(k))) for k in ks]
    if chance:
        cols += [(f"chance@{k}", lambda b, k=k: b["chance_pass@k"].get(str(k))) for k in ks]
    if greedy:
        cols += [("greedy out", lambda b: b["greedy_outcome_pass@1"]), ("greedy proc", lambda b: b["greedy_process_pass@1"])]
    cols.append(("R_pv", lambda b: b["process_accuracy"]))
    return cols


def _table(rows: list[tuple[list[str], dict]], key_headers: list[str], columns) -> str:
    header = key_headers + ["N"] + [name for name, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for keys, blk in rows:
        cells = keys + [str(blk["num_problems"])] + [pct(fn(blk)) for _, fn in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _error_table(rows: list[tuple[list[str], dict]], key_headers: list[str]) -> str:
    from interplay_hf.evaluation.scoring import ERROR_TYPES

    header = key_headers + ["samples"] + list(ERROR_TYPES) + ["truncated"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for keys, blk in rows:
        total = blk.get("num_samples") or 1
        cells = [pct(blk["error_counts"][e] / total) for e in ERROR_TYPES] + [pct(blk.get("truncated", 0) / total)]
        lines.append("| " + " | ".join(keys + [str(blk.get("num_samples", ""))] + cells) + " |")
    return "\n".join(lines)


def results_markdown(results: dict) -> str:
    """results.md of one run: per regime, per op, per context (× op), first-k and error tables."""
    summary, regimes = results["summary"], results["regimes"]
    ks = table_ks(results["k"])
    greedy = summary["overall"]["greedy_outcome_pass@1"] is not None
    cols = _metric_columns(ks, greedy=greedy)
    model = results["model"] + (f" (subfolder `{results['subfolder']}`)" if results.get("subfolder") else "")
    s = results["sampling"]
    out = [
        f"# Evaluation of {model}",
        "",
        f"Data: `{results['data']}` · n = {results['n']} samples per problem · T = {s['temperature']}, "
        f"top-p = {s['top_p']}, max new tokens = {s['max_new_tokens']}, seed = {s['seed']}, backend = {s['backend']}.",
        "",
        HEADLINE_NOTE,
        "",
        "## Per regime",
        "",
        _table(
            [([name, f"{regimes[name][0]}–{regimes[name][1]}"], blk) for name, blk in summary["per_regime"].items()]
            + [(["all", ""], summary["overall"])],
            ["regime", "ops"],
            cols,
        ),
        "",
        "## Per op",
        "",
        _table([([op], blk) for op, blk in summary["per_op"].items()], ["op"], cols),
    ]
    if len(summary["per_context"]) > 1:
        out += ["", "## Per context", "", _table([([c], b) for c, b in summary["per_context"].items()], ["context"], cols)]
        out += [
            "",
            "## Per context × op",
            "",
            _table([(key.split("/"), b) for key, b in summary["per_context_op"].items()], ["context", "op"], cols),
        ]
    first_cols = [(f"first@{k}", lambda b, k=k: b["process_pass@k_first"].get(str(k))) for k in results["k"]]
    out += [
        "",
        "## Process-verified pass@k, official first-k estimator",
        "",
        "A problem passes at k when one of its first k samples is process-verified (the official aggregation; "
        "noisier than the unbiased estimate above, reported for comparison with the paper).",
        "",
        _table([([op], blk) for op, blk in summary["per_op"].items()], ["op"], first_cols),
        "",
        "## Error types",
        "",
        "Percentage of samples showing each error (a sample can show several).",
        "",
        _error_table([([op], blk) for op, blk in summary["per_op"].items()], ["op"]),
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _shade_regimes(ax, regimes: dict[str, list[int]], ops: Sequence[int]) -> None:
    if not ops:
        return
    colors = ["#f2f2f2", "#fdebd0", "#fadbd8", "#e8f6f3"]
    lo_all, hi_all = min(ops), max(ops)
    for i, (name, (lo, hi)) in enumerate(regimes.items()):
        if hi < lo_all or lo > hi_all:
            continue
        ax.axvspan(max(lo, lo_all) - 0.5, min(hi, hi_all) + 0.5, color=colors[i % len(colors)], zorder=0)
        ax.text((max(lo, lo_all) + min(hi, hi_all)) / 2, 1.02, name, ha="center", va="bottom", fontsize=8)


def _style_axes(ax, ops: Sequence[int]) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 1.1)
    ax.grid(alpha=0.3)


def _k_axis(ax, ks: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ks), [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("k")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)


def _save(fig, path: Path) -> Path:
    from interplay_hf.atomic_io import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"), mode="wb")
    _plt().close(fig)
    return path


def plot_vs_op(per_op: dict[str, dict], ks: Sequence[int], regimes: dict, title: str, path: Path) -> Path:
    """Two panels (process-verified | outcome), pass@k vs op, one line per k; chance dashed in the outcome panel."""
    plt = _plt()
    ops = [int(op) for op in per_op]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, key, name in ((axes[0], "process_pass@k", "process-verified"), (axes[1], "outcome_pass@k", "outcome")):
        _shade_regimes(ax, regimes, ops)
        for i, k in enumerate(ks):
            color = cmap(i / max(1, len(ks) - 1))
            ax.plot(ops, [per_op[str(op)][key].get(str(k)) for op in ops], marker="o", ms=3, color=color, label=f"pass@{k}")
            if key == "outcome_pass@k" and all(per_op[str(op)]["chance_pass@k"] for op in ops):
                ax.plot(ops, [per_op[str(op)]["chance_pass@k"].get(str(k)) for op in ops], ls="--", lw=1, color=color)
        ax.set_xlabel("op (number of operations)")
        ax.set_title(f"{name} pass@k" + (" (dashed: chance)" if key == "outcome_pass@k" else ""), fontsize=10)
        _style_axes(ax, ops)
    axes[0].set_ylabel("pass@k")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 8), fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_vs_k(per_regime: dict[str, dict], ks: Sequence[int], title: str, path: Path) -> Path:
    """pass@k vs k (log2 axis) per regime: process-verified solid, outcome dotted, chance dashed."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, blk) in enumerate(per_regime.items()):
        color = f"C{i}"
        ax.plot(ks, [blk["process_pass@k"].get(str(k)) for k in ks], marker="o", ms=3, color=color, label=f"{name} process")
        ax.plot(ks, [blk["outcome_pass@k"].get(str(k)) for k in ks], ls=":", color=color, label=f"{name} outcome")
        if blk["chance_pass@k"]:
            ax.plot(ks, [blk["chance_pass@k"].get(str(k)) for k in ks], ls="--", lw=1, color=color, alpha=0.6)
    _k_axis(ax, ks)
    ax.set_ylabel("pass@k")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title + " (dashed: chance)", fontsize=10)
    return _save(fig, path)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def write_run_plots(results: dict, out_dir: Path) -> list[Path]:
    summary, ks, regimes = results["summary"], results["k"], results["regimes"]
    label = results["model"] + (f"/{results['subfolder']}" if results.get("subfolder") else "")
    paths = [plot_vs_op(summary["per_op"], ks, regimes, label, out_dir / "pass_at_k_vs_op.png")]
    if summary["per_regime"]:
        paths.append(plot_vs_k(summary["per_regime"], ks, label, out_dir / "pass_at_k_vs_k.png"))
    contexts = sorted(summary["per_context"])
    if len(contexts) > 1:
        for ctx in contexts:
            per_op = {key.split("/")[1]: b for key, b in summary["per_context_op"].items() if key.split("/")[0] == ctx}
            paths.append(plot_vs_op(per_op, ks, regimes, f"{label} — {ctx}", out_dir / f"pass_at_k_vs_op_{_safe(ctx)}.png"))
    return paths


def write_run_report(results: dict, out_dir: str | Path, plots: bool = True) -> None:
    out_dir = Path(out_dir)
    write_text(out_dir / "results.md", results_markdown(results))
    if plots:
        write_run_plots(results, out_dir / "plots")


# ------------------------------------------------------------------------------------- comparisons


def compare_runs(run_dirs: Sequence[str], labels: Sequence[str] | None, out_dir: str | Path,
                 ks: Sequence[int] | None = None) -> dict:
    """report.md, report.json and plots comparing several eval runs (e.g. base vs RL variants) side by side.

    Summaries are recomputed from the per-problem counts with a common k list (k ≤ the smallest n).
    """
    if not run_dirs:
        raise ConfigError("report: give at least one eval directory")
    runs = [load_results(d) for d in run_dirs]
    if labels is None:
        labels = [Path(d).name or str(d) for d in run_dirs]
    if len(labels) != len(runs):
        raise ConfigError(f"--labels has {len(labels)} names for {len(runs)} eval directories; give one per directory")
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--labels must be distinct, got {list(labels)}")
    n_min = min(r["n"] for r in runs)
    if ks is None:
        ks = sorted({k for r in runs for k in r["k"] if k <= n_min}) or [1]
    if max(ks) > n_min:
        raise ConfigError(f"report: k = {max(ks)} exceeds the smallest n ({n_min}) among the runs; lower --k")
    regimes = parse_regimes(runs[0].get("regimes"))
    summaries = {lab: summarize(r["problems"], ks, regimes) for lab, r in zip(labels, runs)}
    id_sets = [frozenset(p["id"] for p in r["problems"]) for r in runs]
    same_set = all(s == id_sets[0] for s in id_sets)

    out_dir = Path(out_dir)
    tks = table_ks(ks)
    cols = _metric_columns(tks, chance=False)
    lines = [
        "# Evaluation comparison",
        "",
        "| label | model | data | n |",
        "|---|---|---|---|",
    ]
    for lab, r in zip(labels, runs):
        model = r["model"] + (f" / {r['subfolder']}" if r.get("subfolder") else "")
        lines.append(f"| {lab} | {model} | {r['data']} | {r['n']} |")
    lines += ["", HEADLINE_NOTE, ""]
    if not same_set:
        lines += ["**Warning:** the runs were evaluated on different problem sets; compare with care.", ""]
    first = summaries[labels[0]]
    lines += ["## Per regime", ""]
    for name in list(regimes) + ["all"]:
        rows = []
        for lab in labels:
            blk = summaries[lab]["overall"] if name == "all" else summaries[lab]["per_regime"].get(name)
            if blk:
                rows.append(([lab], blk))
        if rows:
            chance = (first["overall"] if name == "all" else first["per_regime"].get(name) or {}).get("chance_pass@k", {})
            chance_txt = ", ".join(f"@{k} {pct(chance.get(str(k)))}" for k in tks) if chance else "–"
            span = "" if name == "all" else f" (op {regimes[name][0]}–{regimes[name][1]})"
            lines += [f"### {name}{span} — chance: {chance_txt}", "", _table(rows, ["run"], cols), ""]
    lines += ["## Error types per regime", "",
              "Percentage of samples showing each error (a sample can show several): what process rewards should "
              "reduce.", ""]
    for name in list(regimes) + ["all"]:
        rows = [([lab], summaries[lab]["overall"] if name == "all" else summaries[lab]["per_regime"][name])
                for lab in labels if name == "all" or name in summaries[lab]["per_regime"]]
        if rows:
            lines += [f"### {name}", "", _error_table(rows, ["run"]), ""]
    headline = [tks[0], tks[-1]] if len(tks) > 1 else tks
    lines += ["## Per op: process-verified pass@k", ""]
    header = ["op", "chance@" + str(headline[-1])] + [f"{lab} proc@{k}" for lab in labels for k in headline]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    all_ops = sorted({int(op) for s in summaries.values() for op in s["per_op"]})
    for op in all_ops:
        chance = first["per_op"].get(str(op), {}).get("chance_pass@k", {}).get(str(headline[-1]))
        cells = [str(op), pct(chance)]
        for lab in labels:
            blk = summaries[lab]["per_op"].get(str(op))
            cells += [pct(blk["process_pass@k"].get(str(k))) if blk else "–" for k in headline]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Per op: outcome pass@k", ""]
    header = ["op", "chance@" + str(headline[-1])] + [f"{lab} out@{k}" for lab in labels for k in headline]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for op in all_ops:
        chance = first["per_op"].get(str(op), {}).get("chance_pass@k", {}).get(str(headline[-1]))
        cells = [str(op), pct(chance)]
        for lab in labels:
            blk = summaries[lab]["per_op"].get(str(op))
            cells += [pct(blk["outcome_pass@k"].get(str(k))) if blk else "–" for k in headline]
        lines.append("| " + " | ".join(cells) + " |")
    write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    report = {
        "runs": [{"label": lab, "dir": str(d), "model": r["model"], "subfolder": r.get("subfolder"), "n": r["n"]}
                 for lab, d, r in zip(labels, run_dirs, runs)],
        "k": list(ks),
        "regimes": regimes,
        "same_problem_set": same_set,
        "summaries": summaries,
    }
    write_json(out_dir / "report.json", report)
    write_compare_plots(summaries, labels, ks, regimes, out_dir / "plots")
    return report


def write_compare_plots(summaries: dict, labels: Sequence[str], ks: Sequence[int], regimes: dict, out_dir: Path) -> list[Path]:
    """Runs side by side: pass@k vs op (a panel per k, process solid / outcome dotted), per context, and vs k."""
    plt = _plt()
    headline = [ks[0], ks[-1]] if len(ks) > 1 else list(ks)
    paths = []
    first = summaries[labels[0]]
    contexts = sorted(first["per_context"])
    groups = [("", None)] + ([(f"_{_safe(c)}", c) for c in contexts] if len(contexts) > 1 else [])
    for suffix, ctx in groups:
        fig, axes = plt.subplots(1, len(headline), figsize=(5.5 * len(headline), 4), sharey=True, squeeze=False)
        for ax, k in zip(axes[0], headline):
            ops_all: set[int] = set()
            for i, lab in enumerate(labels):
                per_op = summaries[lab]["per_op"] if ctx is None else {
                    key.split("/")[1]: b for key, b in summaries[lab]["per_context_op"].items() if key.split("/")[0] == ctx
                }
                ops = sorted(int(op) for op in per_op)
                ops_all.update(ops)
                def series(key: str) -> list:
                    return [per_op[str(op)][key][str(k)] for op in ops]

                ax.plot(ops, series("process_pass@k"), marker="o", ms=3, color=f"C{i}", label=f"{lab} process")
                ax.plot(ops, series("outcome_pass@k"), ls=":", color=f"C{i}", label=f"{lab} outcome")
                if i == 0 and all(per_op[str(op)]["chance_pass@k"] for op in ops):
                    ax.plot(ops, series("chance_pass@k"), ls="--", lw=1, color="grey", label="chance")
            _shade_regimes(ax, regimes, sorted(ops_all))
            ax.set_title(f"pass@{k}" + (f" — {ctx}" if ctx else ""), fontsize=10)
            ax.set_xlabel("op")
            _style_axes(ax, sorted(ops_all))
        axes[0][0].set_ylabel("pass@k")
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(_save(fig, out_dir / f"compare_vs_op{suffix}.png"))
    names = [name for name in regimes if all(name in summaries[lab]["per_regime"] for lab in labels)]
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.8), sharey=True, squeeze=False)
        for ax, name in zip(axes[0], names):
            for i, lab in enumerate(labels):
                blk = summaries[lab]["per_regime"][name]
                ax.plot(ks, [blk["process_pass@k"][str(k)] for k in ks], marker="o", ms=3, color=f"C{i}", label=lab)
            chance = first["per_regime"][name]["chance_pass@k"]
            if chance:
                ax.plot(ks, [chance[str(k)] for k in ks], ls="--", lw=1, color="grey", label="chance (outcome)")
            ax.set_title(f"{name}: process-verified pass@k", fontsize=10)
            _k_axis(ax, ks)
        axes[0][0].set_ylabel("pass@k")
        axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(_save(fig, out_dir / "compare_vs_k.png"))
    return paths
