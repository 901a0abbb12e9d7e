"""The mini study's committed results: findings.json recomputes from them, and the README quotes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "recipes" / "mini" / "v1"  # v1, kept as history (recipes/mini/v1/README.md)
FINDINGS = MINI / "results" / "findings.json"
NAMES = ["edge_rl_extends", "context_transfer_needs_exposure", "midtrain_plus_rl_beats_rl", "process_reward_cuts_errors"]


def _points(value: float) -> str:
    return f"{100 * value:+.1f}".replace("-", "−")


def test_findings_json_recomputes_from_the_committed_results():
    from interplay_hf.evaluation.findings import evaluate_findings, load_findings_spec

    committed = json.loads(FINDINGS.read_text(encoding="utf-8"))
    again = evaluate_findings(load_findings_spec(MINI / "findings.yaml", REPO), REPO)
    assert again == committed
    assert [f["name"] for f in committed["findings"]] == NAMES
    for finding in committed["findings"]:
        assert (REPO / finding["a"] / "results.json").is_file() and (REPO / finding["b"] / "results.json").is_file()
        assert finding["paired"]  # every claim compares runs on the same problems


@pytest.mark.parametrize("readme", [MINI / "README.md"], ids=["mini_v1"])
def test_the_readme_tables_quote_findings_json(readme):
    text = readme.read_text(encoding="utf-8")
    for finding in json.loads(FINDINGS.read_text(encoding="utf-8"))["findings"]:
        lo, hi = finding["ci95"]
        quoted = f"{_points(finding['difference'])} [{_points(lo)}, {_points(hi)}]"
        assert quoted in text, (finding["name"], quoted)


def test_committed_results_hold_counts_not_samples():
    for path in (MINI / "results").glob("*/results.json"):
        results = json.loads(path.read_text(encoding="utf-8"))
        assert "samples" not in results and all("completion" not in p for p in results["problems"]), path
        assert path.stat().st_size < 400_000, path
