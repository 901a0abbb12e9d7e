"""`interplay-hf data sample|build|validate` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interplay_hf.cli import main
from interplay_hf.data import generate_problem
from interplay_hf.data.generator import ROW_COLUMNS

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes" / "data").glob("*.yaml"))


def test_sample_prints_json_lines_with_the_row_schema(capsys):
    assert main(["data", "sample", "--op", "5", "--context", "teacher", "--n", "3", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 3 and all(list(r) == list(ROW_COLUMNS) for r in rows)
    assert rows == [generate_problem(5, "teacher", seed=2 + i).to_row() for i in range(3)]
    assert {r["op"] for r in rows} == {5} and {r["template"] for r in rows} == {"teachers_in_school"}


def test_sample_reverse_mode_and_long_context_names(capsys):
    assert main(["data", "sample", "--op", "7", "--context", "movie_festival_awards", "--mode", "forwardreverse"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["mode"] == "forwardreverse" and row["context"] == "movie"
    assert row["solution"].startswith("The question is difficult")


@pytest.mark.parametrize("argv, message", [
    (["--op", "1"], "--op: 1 is outside the supported range 2..20"),
    (["--op", "4", "--context", "farm"], "unknown context 'farm'; allowed: movie, teacher, zoo"),
    (["--op", "4", "--mode", "backward"], "--mode: unknown mode 'backward'; allowed: normalforward, forwardreverse"),
    (["--op", "4", "--n", "-2"], "--n: must be >= 0"),
])
def test_sample_rejects_bad_flags(argv, message, capsys):
    assert main(["data", "sample", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.err and err.out == ""


def test_build_and_validate_from_the_command_line(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: cli\nsplits:\n  train: {size: 20, ops: 2-3, columns: sft}\n"
                      "eval: {ops: 4, contexts: [movie], size: 3}\n")
    assert main(["data", "validate", str(recipe)]) == 0
    assert "ok (train=20; 1 eval splits)" in capsys.readouterr().out
    out = tmp_path / "built"
    assert main(["data", "build", str(recipe), "--output-dir", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {"output_dir": str(out), "splits": {"eval_op4_movie": 3, "train": 20}, "duplicates_dropped": 0}
    assert (out / "build_report.json").exists()
    assert main(["data", "build", str(recipe), "--output-dir", str(out)]) == 2  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_build_writes_the_hub_dataset_card_and_pushes_through_the_hub_layer(tmp_path, monkeypatch, capsys):
    from huggingface_hub import DatasetCard, constants

    from interplay_hf.hub import render_dataset_card

    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: hub\nsplits:\n  train: {size: 5, ops: 2}\nhub: {repo_id: me/ds, private: true}\n")
    out = tmp_path / "built"
    # Offline (conftest): refused before the build, not after it.
    assert main(["data", "build", str(recipe), "--output-dir", str(out)]) == 2
    assert "hub.repo_id me/ds: HF_HUB_OFFLINE=1 is set" in capsys.readouterr().err and not out.exists()
    assert main(["data", "build", str(recipe), "--output-dir", str(out), "--num-shards", "2"]) == 2
    assert "sharded build" in capsys.readouterr().err and not out.exists()
    # Online but unreachable: the build is saved with its card, then the push fails in one line.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
    # an unreachable Hub is an I/O failure (exit 1), not the user's input mistake (exit 2); the build is kept
    assert main(["data", "build", str(recipe), "--output-dir", str(out), "--push-to-hub", "me/other"]) == 1
    assert "cannot reach the Hub at http://127.0.0.1:9 to push me/other" in capsys.readouterr().err
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card == str(render_dataset_card(out))  # the card `interplay-hf push` sends, one renderer
    assert DatasetCard(card).data.pretty_name == "hub" and "arXiv" in card


def test_build_reports_recipe_errors_without_a_traceback(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("splits:\n  train: {size: 20, ops: 2-3, contexts: {zoo: 0.5, teacher: 0.4}}\n")
    assert main(["data", "build", str(recipe), "--output-dir", str(tmp_path / "o")]) == 2
    assert "splits.train.contexts proportions must sum to 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_every_shipped_recipe_validates_from_the_cli(capsys):
    assert RECIPES and main(["data", "validate", *map(str, RECIPES)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(RECIPES)


def test_data_without_a_subcommand_prints_help(capsys):
    assert main(["data"]) == 2
    assert "build" in capsys.readouterr().out
