"""The quickstart's committed evaluation results: the report recomputed from them says what the READMEs quote."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "recipes" / "quickstart" / "results"


def test_report_from_the_committed_results_matches_the_readmes(tmp_path):
    from interplay_hf.evaluation.compare import compare_runs

    compare_runs([str(RESULTS / "base"), str(RESULTS / "rl")], ["base", "rl"], tmp_path, paired=True)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    base_line = "ID 41.8% (95% CI 33.2–50.7) at pass@1, 82.0% at pass@8"
    change_line = "ID pass@1 -1.0 points [-4.8, +2.0]; ID pass@8 -2.0 points [-12.0, +10.0]"
    assert base_line in report and change_line in report
    quickstart = (REPO / "recipes" / "quickstart" / "README.md").read_text(encoding="utf-8")
    flowing = " ".join(quickstart.split())  # the README wraps the report's lines
    assert base_line in flowing and change_line in flowing
    assert "**41.8% (33.2–50.7)** | 82.0% | −1.0 [−4.8, +2.0]; pass@8 −2.0 [−12.0, +10.0]" in quickstart
    top = (REPO / "README.md").read_text(encoding="utf-8")
    assert "**41.8%** of op-2 samples (95% CI 33.2–50.7)" in top and "pass@1 −1.0 [−4.8, +2.0]" in top
