"""Formatting shared by the report of one run (``report``) and the comparison of several (``compare``):
percentages, the k values a table shows, markdown tables of summary blocks, and the matplotlib helpers
(Agg backend, no display needed) for regime shading, axes, interval bands and atomic PNG writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path


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


def metric_columns(ks: Sequence[int], chance: bool = True, greedy: bool = True) -> list[tuple[str, Callable]]:
    """(header, cell function) for the metric columns of a summary-block table."""
    cols = [(f"proc@{k}", lambda b, k=k: b["process_pass@k"].get(str(k))) for k in ks]
    cols += [(f"out@{k}", lambda b, k=k: b["outcome_pass@k"].get(str(k))) for k in ks]
    if chance:
        cols += [(f"chance@{k}", lambda b, k=k: b["chance_pass@k"].get(str(k))) for k in ks]
    if greedy:
        cols += [("greedy out", lambda b: b["greedy_outcome_pass@1"]), ("greedy proc", lambda b: b["greedy_process_pass@1"])]
    cols.append(("R_pv", lambda b: b["process_accuracy"]))
    return cols


def markdown_table(rows: list[tuple[list[str], dict]], key_headers: list[str], columns) -> str:
    """A markdown table: one row per (key cells, summary block), then N and ``columns`` as percentages."""
    header = key_headers + ["N"] + [name for name, _ in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for keys, blk in rows:
        cells = keys + [str(blk["num_problems"])] + [pct(fn(blk)) for _, fn in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def error_table(rows: list[tuple[list[str], dict]], key_headers: list[str]) -> str:
    """A markdown table of the share of samples showing each error type (and truncation)."""
    from interplay_hf.evaluation.scoring import ERROR_TYPES

    header = key_headers + ["samples"] + list(ERROR_TYPES) + ["truncated"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for keys, blk in rows:
        total = blk.get("num_samples") or 1
        cells = [pct(blk["error_counts"][e] / total) for e in ERROR_TYPES] + [pct(blk.get("truncated", 0) / total)]
        lines.append("| " + " | ".join(keys + [str(blk.get("num_samples", ""))] + cells) + " |")
    return "\n".join(lines)


def safe_name(name: str) -> str:
    """``name`` usable in a file name (a context name in a plot's file name)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def regime_block(summary: dict, regime: str) -> dict:
    """A summary's block for a regime name ("all" = overall); empty when the run has no problem there."""
    return summary["overall"] if regime == "all" else summary["per_regime"].get(regime, {})


def context_per_op(summary: dict, context: str) -> dict[str, dict]:
    """A summary's per-op blocks for one context (``per_context_op`` keys are ``<context>/<op>``)."""
    return {key.split("/")[1]: b for key, b in summary["per_context_op"].items() if key.split("/")[0] == context}


# --------------------------------------------------------------------------------------------- plots


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def shade_regimes(ax, regimes: dict[str, list[int]], ops: Sequence[int]) -> None:
    if not ops:
        return
    colors = ["#f2f2f2", "#fdebd0", "#fadbd8", "#e8f6f3"]
    lo_all, hi_all = min(ops), max(ops)
    for i, (name, (lo, hi)) in enumerate(regimes.items()):
        if hi < lo_all or lo > hi_all:
            continue
        ax.axvspan(max(lo, lo_all) - 0.5, min(hi, hi_all) + 0.5, color=colors[i % len(colors)], zorder=0)
        ax.text((max(lo, lo_all) + min(hi, hi_all)) / 2, 1.02, name, ha="center", va="bottom", fontsize=8)


def style_axes(ax, ops: Sequence[int]) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 1.1)
    ax.grid(alpha=0.3)


def k_axis(ax, ks: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ks), [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("k")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)


def save_figure(fig, path: Path) -> Path:
    from interplay_hf.atomic_io import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"), mode="wb")
    pyplot().close(fig)
    return path


def fill_interval(ax, xs: Sequence, cis: Sequence, color: str, alpha: float = 0.18) -> None:
    """Shade the 95% band given by ``cis`` (one ``[lo, hi]`` per x) where every x carries one."""
    if xs and all(ci is not None for ci in cis):
        ax.fill_between(xs, [c[0] for c in cis], [c[1] for c in cis], color=color, alpha=alpha, lw=0)
