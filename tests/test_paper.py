"""One citation of the paper: the README, model and dataset cards and the metric all carry the same entry."""

from __future__ import annotations

from pathlib import Path

from interplay_hf.paper import ARXIV_ID, CITATION

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_cites_the_paper_with_the_package_entry():
    assert CITATION in (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"eprint={{{ARXIV_ID}}}" in CITATION


def test_dataset_cards_and_the_metric_use_the_same_entry(tmp_path):
    import datasets

    from interplay_hf.hub import render_dataset_card

    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"op": [2]})}).save_to_disk(str(tmp_path))
    assert CITATION in str(render_dataset_card(tmp_path))
    metric_source = (ROOT / "interplay_hf" / "metrics" / "process_verifier" / "process_verifier.py").read_text()
    assert "citation=CITATION" in metric_source and "@article" not in metric_source
