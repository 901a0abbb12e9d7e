"""A plain dataset card (README.md) for a built data recipe; a richer template may replace it later."""

from __future__ import annotations

import json

from interplay_hf.data.recipe import DataRecipe
from interplay_hf.paper import CITATION


def dataset_card(recipe: DataRecipe, report: dict) -> str:
    """Markdown with YAML metadata: what the splits contain, how they were made, and the build report."""
    rows = report.get("splits", {})
    total = sum(v.get("rows", 0) for v in rows.values())
    size_cat = "n<1K" if total < 1e3 else "1K<n<10K" if total < 1e4 else "10K<n<100K" if total < 1e5 else \
        "100K<n<1M" if total < 1e6 else "1M<n<10M" if total < 1e7 else "n>10M"
    lines = [
        "---",
        "language: [en]",
        "license: apache-2.0",
        f"size_categories: [{size_cat}]",
        "task_categories: [text-generation]",
        "tags: [synthetic, reasoning, igsm, gsm-infinite, interplay-hf]",
        "---",
        "",
        f"# {recipe.name}",
        "",
        recipe.description or "Synthetic iGSM math word problems in the format of the official release of "
        "*On the Interplay of Pre-Training, Mid-Training, and RL on Reasoning Language Models* (arXiv 2512.07783).",
        "",
        "Generated with `interplay-hf data build` (deterministic: the same recipe and seed give the same bytes).",
        "",
        "## Splits",
        "",
        "| split | rows | duplicates dropped | ops | contexts |",
        "|---|---|---|---|---|",
    ]
    for name, e in rows.items():
        ops = e.get("ops", {})
        op_txt = f"{min(ops)}-{max(ops)}" if ops else "-"
        ctx = ", ".join(f"{k} {v}" for k, v in e.get("contexts", {}).items())
        lines.append(f"| {name} | {e.get('rows', 0)} | {sum(e.get('duplicates_dropped', {}).values())} | {op_txt} | {ctx} |")
    lines += [
        "",
        "## Columns",
        "",
        "`problem, question, solution, op, id, template, mode, length, d` follow the released schema "
        "(`id` = first 16 hex digits of the SHA-256 of problem, question and solution); `context` is the short "
        "context name; `text` = `prompt` + `completion` is the model text (`<question> ... </question> <solution> "
        "... </solution> <answer> N </answer>`); `answer` is a string; `gold_graph` is a JSON string "
        "`{nodes: [{name, variable, value, dependencies}], answer, topological_order}`.",
        "",
        "## Build report",
        "",
        "```json",
        json.dumps(report, indent=2, sort_keys=True),
        "```",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)
