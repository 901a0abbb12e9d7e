"""The mini study's committed results: findings.json recomputes from them, and the READMEs quote it.

v2 (recipes/mini) is the current study; v1 (recipes/mini/v1) is kept as history and must still recompute.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
V2 = REPO / "recipes" / "mini"
V1 = V2 / "v1"  # kept as history (recipes/mini/v1/README.md)
NAMES = ["edge_rl_extends", "context_transfer_needs_exposure", "midtrain_plus_rl_beats_rl", "process_reward_cuts_errors"]


def _findings(study: Path) -> dict:
    return json.loads((study / "results" / "findings.json").read_text(encoding="utf-8"))


def _runs(arm: str | list[str]) -> list[str]:
    return arm if isinstance(arm, list) else [arm]


def _points(value: float) -> str:
    return f"{100 * value:+.1f}".replace("-", "−")


def _registered_commit_is_here(study: Path) -> bool:
    from interplay_hf.yaml_io import load_yaml_mapping

    commit = load_yaml_mapping(study / "findings.yaml", "findings spec").get("registered")
    return commit is None or subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
                                            capture_output=True, timeout=60).returncode == 0


@pytest.mark.parametrize("study", [V2, V1], ids=["mini_v2", "mini_v1"])
def test_findings_json_recomputes_from_the_committed_results(study):
    from interplay_hf.evaluation.findings import evaluate_findings, parse_findings_spec

    if not _registered_commit_is_here(study):  # a shallow clone cannot check the pre-registration
        pytest.skip("the registered commit is not in this clone's history")
    committed = _findings(study)
    again = evaluate_findings(parse_findings_spec(study / "findings.yaml", REPO), REPO)
    assert again == committed
    assert [f["name"] for f in committed["findings"]] == NAMES
    for finding in committed["findings"]:
        for run in _runs(finding["a"]) + _runs(finding["b"]):
            assert (REPO / run / "results.json").is_file(), run
        assert finding["paired"]  # every claim compares runs on the same problems


def test_v2_is_confirmatory_pooled_over_two_seeds_and_holm_corrected():
    result = _findings(V2)
    assert result["registered"] and result["family"]["correction"] == "holm"
    assert result["family"]["claims"] == NAMES  # no claim left the family: none changed after registration
    for finding in result["findings"]:
        assert not finding.get("exploratory") and finding["pooled_over_seeds"]
        assert len(finding["per_seed"]) == 2 and "holm" in finding


def test_the_v2_readme_carries_the_findings_table():
    from interplay_hf.evaluation.findings import findings_markdown

    table = findings_markdown(_findings(V2)).split("\n\nSupplementary")[0]
    assert table in (V2 / "README.md").read_text(encoding="utf-8")


def test_the_top_readme_quotes_each_v2_claim_with_its_holm_interval():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for finding in _findings(V2)["findings"]:
        if finding.get("degenerate"):  # no run scored: the README must say so, not quote an interval of [0, 0]
            assert "untestable" in text
            continue
        lo, hi = finding["holm"]["interval"]
        quoted = f"{_points(finding['difference'])} [{_points(lo)}, {_points(hi)}]"
        assert quoted in text, (finding["name"], quoted)


def test_the_v1_readme_quotes_findings_json():
    text = (V1 / "README.md").read_text(encoding="utf-8")
    for finding in _findings(V1)["findings"]:
        lo, hi = finding["ci95"]
        quoted = f"{_points(finding['difference'])} [{_points(lo)}, {_points(hi)}]"
        assert quoted in text, (finding["name"], quoted)


@pytest.mark.parametrize("study", [V2, V1], ids=["mini_v2", "mini_v1"])
def test_committed_results_hold_counts_not_samples(study):
    paths = list((study / "results").glob("**/results.json"))
    assert paths
    for path in paths:
        results = json.loads(path.read_text(encoding="utf-8"))
        assert "samples" not in results and all("completion" not in p for p in results["problems"]), path
        if study == V2:  # named as the README's commands name them (runs/...), not by the machine that ran them
            assert not any(str(results.get(key, "")).startswith("/") for key in ("model", "data")), path
        assert path.stat().st_size < 400_000, path
