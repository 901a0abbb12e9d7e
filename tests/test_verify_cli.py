"""``interplay-hf verify --in F.jsonl --out G.jsonl``: scored rows out, summary and bad lines on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interplay_hf.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
SCORED = [json.loads(line) for line in open(FIXTURES / "official_scored.jsonl", encoding="utf-8")][:37]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_scores_rows_and_skips_malformed_ones(tmp_path, capsys):
    good = [json.dumps(r) for r in SCORED]
    bad = ["{not json", "[1, 2]", json.dumps({"completion": "x"}), json.dumps({"completion": 5, "solution": "a"})]
    src = _write(tmp_path / "in.jsonl", good[:20] + bad + [""] + good[20:])
    out = tmp_path / "sub" / "out.jsonl"
    assert main(["verify", "--in", str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    for line_number in (21, 22, 23, 24):
        assert f"line {line_number}:" in err
    assert "scored 37 rows, skipped 4" in err and "process-verified accuracy" in err and "answer_mismatch=" in err

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 37 and not list(out.parent.glob(".*.tmp"))
    for row in rows:
        official = row["official"]
        assert row["process_verified"] == official["process_verified"]
        assert row["process_score"] == pytest.approx(official["process_score"])
        assert row["mixed"] == pytest.approx(official["mixed_alpha_0.2"])
        assert row["strict"] == official["strict"]
        assert row["outcome"] == official["outcome_eval"] and row["outcome_reward"] == official["outcome_reward"]
        assert 0.0 <= row["mixed_ungated"] <= 1.0
        assert set(row) >= {"missing", "extra", "value_mismatch", "dependency_mismatch", "answer_mismatch", "errors"}


def test_fail_on_malformed_and_stdout(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", [json.dumps(SCORED[0]), "oops"])
    assert main(["verify", "--in", str(src)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[0])["process_verified"] is True
    assert main(["verify", "--in", str(src), "--out", str(tmp_path / "o.jsonl"), "--fail-on-malformed"]) == 1


def test_gold_graph_column_and_custom_keys(tmp_path):
    from interplay_hf.verify import parse_solution

    row = SCORED[0]
    graph = parse_solution(row["solution"]).to_graph().to_json()
    src = _write(tmp_path / "in.jsonl", [json.dumps({"text": row["completion"], "graph": graph})])
    out = tmp_path / "out.jsonl"
    args = ["verify", "--in", str(src), "--out", str(out), "--completion-key", "text", "--graph-key", "graph"]
    assert main(args) == 0
    assert json.loads(out.read_text())["strict"] == 1.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--alpha", "2"], "--alpha must be in [0, 1]"), (["--max-chars", "0"], "--max-chars must be a positive")],
)
def test_bad_flags_are_config_errors(tmp_path, capsys, extra, message):
    src = _write(tmp_path / "in.jsonl", [json.dumps(SCORED[0])])
    assert main(["verify", "--in", str(src), *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    assert main(["verify", "--in", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
