"""Markdown tables and matplotlib plots for one evaluation run (comparisons of several: ``compare``).

Headline = process-verified pass@k (unbiased); outcome pass@k beside it and the chance baseline
beside that, because at small op a blind guesser already reaches outcome pass@16 ≈ 0.97.
Plots use the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interplay_hf.atomic_io import write_text

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


def pct(value: float | str | None) -> str:
    """A fraction as a percentage with one decimal; a ready-made cell (str) passes through."""
    if isinstance(value, str):
        return value
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
            cis = [(per_op[str(op)].get(f"{key}_ci") or {}).get(str(k)) for op in ops]
            if cis and all(ci is not None for ci in cis):  # 95% band over problems
                ax.fill_between(ops, [c[0] for c in cis], [c[1] for c in cis], color=color, alpha=0.15, lw=0)
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
