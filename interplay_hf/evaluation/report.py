"""Markdown tables and matplotlib plots for one evaluation run (comparisons of several: ``compare``; shared
formatting: ``formatting``).

Headline = process-verified pass@k (unbiased); outcome pass@k beside it and the chance baseline
beside that, because at small op a blind guesser already reaches outcome pass@16 ≈ 0.97.
Plots use the Agg backend (no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from interplay_hf.atomic_io import write_text
from interplay_hf.evaluation.formatting import (
    context_per_op,
    error_table,
    fill_interval,
    k_axis,
    markdown_table,
    metric_columns,
    pyplot,
    safe_name,
    save_figure,
    shade_regimes,
    style_axes,
    table_ks,
)

HEADLINE_NOTE = (
    "Headline: **process-verified pass@k** (unbiased estimator, every step checked against the gold graph). "
    "Outcome pass@k (final number only) and the chance baseline (k blind guesses from the op's answer "
    "distribution) are beside it: at small op, guessing alone reaches high outcome pass@k. "
    "Numbers are percentages."
)


def inspector_line(page: str) -> str:
    """The line of results.md / report.md that links the inspector page beside it."""
    return (f"Every sample's steps against the gold graph: [{page}]({page}) (open it in a browser; "
            "docs/inspector.md).")


def results_markdown(results: dict, inspector: str | None = None) -> str:
    """results.md of one run: per regime, per op, per context (× op), first-k and error tables; ``inspector``
    names the page beside it to link."""
    summary, regimes = results["summary"], results["regimes"]
    ks = table_ks(results["k"])
    greedy = summary["overall"]["greedy_outcome_pass@1"] is not None
    cols = metric_columns(ks, greedy=greedy)
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
        *([inspector_line(inspector), ""] if inspector else []),
        "## Per regime",
        "",
        markdown_table(
            [([name, f"{regimes[name][0]}–{regimes[name][1]}"], blk) for name, blk in summary["per_regime"].items()]
            + [(["all", ""], summary["overall"])],
            ["regime", "ops"],
            cols,
        ),
        "",
        "## Per op",
        "",
        markdown_table([([op], blk) for op, blk in summary["per_op"].items()], ["op"], cols),
    ]
    if len(summary["per_context"]) > 1:
        out += ["", "## Per context", "", markdown_table([([c], b) for c, b in summary["per_context"].items()], ["context"], cols)]
        out += [
            "",
            "## Per context × op",
            "",
            markdown_table([(key.split("/"), b) for key, b in summary["per_context_op"].items()], ["context", "op"], cols),
        ]
    first_cols = [(f"first@{k}", lambda b, k=k: b["process_pass@k_first"].get(str(k))) for k in results["k"]]
    out += [
        "",
        "## Process-verified pass@k, official first-k estimator",
        "",
        "A problem passes at k when one of its first k samples is process-verified (the official aggregation; "
        "noisier than the unbiased estimate above, reported for comparison with the paper).",
        "",
        markdown_table([([op], blk) for op, blk in summary["per_op"].items()], ["op"], first_cols),
        "",
        "## Error types",
        "",
        "Percentage of samples showing each error (a sample can show several).",
        "",
        error_table([([op], blk) for op, blk in summary["per_op"].items()], ["op"]),
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- plots


def plot_vs_op(per_op: dict[str, dict], ks: Sequence[int], regimes: dict, title: str, path: Path) -> Path:
    """Two panels (process-verified | outcome), pass@k vs op, one line per k; chance dashed in the outcome panel."""
    plt = pyplot()
    ops = [int(op) for op in per_op]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, key, name in ((axes[0], "process_pass@k", "process-verified"), (axes[1], "outcome_pass@k", "outcome")):
        shade_regimes(ax, regimes, ops)
        for i, k in enumerate(ks):
            color = cmap(i / max(1, len(ks) - 1))
            ax.plot(ops, [per_op[str(op)][key].get(str(k)) for op in ops], marker="o", ms=3, color=color, label=f"pass@{k}")
            cis = [(per_op[str(op)].get(f"{key}_ci") or {}).get(str(k)) for op in ops]
            fill_interval(ax, ops, cis, color, alpha=0.15)  # 95% band over problems
            if key == "outcome_pass@k" and all(per_op[str(op)]["chance_pass@k"] for op in ops):
                ax.plot(ops, [per_op[str(op)]["chance_pass@k"].get(str(k)) for op in ops], ls="--", lw=1, color=color)
        ax.set_xlabel("op (number of operations)")
        ax.set_title(f"{name} pass@k" + (" (dashed: chance)" if key == "outcome_pass@k" else ""), fontsize=10)
        style_axes(ax, ops)
    axes[0].set_ylabel("pass@k")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 8), fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_vs_k(per_regime: dict[str, dict], ks: Sequence[int], title: str, path: Path) -> Path:
    """pass@k vs k (log2 axis) per regime: process-verified solid, outcome dotted, chance dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, blk) in enumerate(per_regime.items()):
        color = f"C{i}"
        ax.plot(ks, [blk["process_pass@k"].get(str(k)) for k in ks], marker="o", ms=3, color=color, label=f"{name} process")
        ax.plot(ks, [blk["outcome_pass@k"].get(str(k)) for k in ks], ls=":", color=color, label=f"{name} outcome")
        if blk["chance_pass@k"]:
            ax.plot(ks, [blk["chance_pass@k"].get(str(k)) for k in ks], ls="--", lw=1, color=color, alpha=0.6)
    k_axis(ax, ks)
    ax.set_ylabel("pass@k")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title + " (dashed: chance)", fontsize=10)
    return save_figure(fig, path)


def write_run_plots(results: dict, out_dir: Path) -> list[Path]:
    summary, ks, regimes = results["summary"], results["k"], results["regimes"]
    label = results["model"] + (f"/{results['subfolder']}" if results.get("subfolder") else "")
    paths = [plot_vs_op(summary["per_op"], ks, regimes, label, out_dir / "pass_at_k_vs_op.png")]
    if summary["per_regime"]:
        paths.append(plot_vs_k(summary["per_regime"], ks, label, out_dir / "pass_at_k_vs_k.png"))
    contexts = sorted(summary["per_context"])
    if len(contexts) > 1:
        for ctx in contexts:
            per_op = context_per_op(summary, ctx)
            paths.append(plot_vs_op(per_op, ks, regimes, f"{label} — {ctx}", out_dir / f"pass_at_k_vs_op_{safe_name(ctx)}.png"))
    return paths


def write_run_report(results: dict, out_dir: str | Path, plots: bool = True, inspector: str | None = None) -> None:
    out_dir = Path(out_dir)
    write_text(out_dir / "results.md", results_markdown(results, inspector))
    if plots:
        write_run_plots(results, out_dir / "plots")
