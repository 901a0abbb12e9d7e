"""Per-problem edge selection (`interplay-hf select-problems`): the hit window, the same-size seeded control draw,
the saved dataset a GRPO stage reads, and the one-line refusals."""

from __future__ import annotations

import json

import pytest
from conftest import results_from_records

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.edge_problems import SELECTION_FILE, select_problems, write_selection
from interplay_hf.evaluation.problems import row_id


def _record(pid: str, hits: int, n: int = 8) -> dict:
    return {"id": pid, "op": 4, "context": "zoo", "n": n, "outcome_correct": hits, "process_correct": hits,
            "first_process_rank": 0 if hits else None, "greedy_outcome": None, "greedy_process": None,
            "mean_process_score": hits / n, "index": 0, "answer": "2", "chance_p": 0.3, "truncated": 0,
            "error_counts": {"missing": 0, "extra": 0, "value_mismatch": 0, "dependency_mismatch": 0,
                             "answer_mismatch": 0, "format": 0, "unsupported_answer": 0}}


def test_the_window_and_the_control_draw():
    records = [_record(f"p{i}", hits) for i, hits in enumerate([0, 0, 1, 4, 8, 2, 0, 5])]
    sel = select_problems(records, min_hits=1, max_hits=4, seed=0)
    assert sel["edge"] == ["p2", "p3", "p5"] and sel["never_solved"] == 3 and sel["always_solved"] == 1
    assert len(sel["control"]) == 3 and set(sel["control"]) <= {r["id"] for r in records}
    assert select_problems(records, 1, 4, seed=0) == sel  # seeded: the same draw every time
    assert any(select_problems(records, 1, 4, seed=s)["control"] != sel["control"] for s in range(1, 6))
    with pytest.raises(ConfigError, match="min-hits"):
        select_problems(records, 5, 4, seed=0)
    with pytest.raises(ConfigError, match="no problem has"):
        select_problems([_record("a", 0)], 1, 4, seed=0)
    with pytest.raises(ConfigError, match="one --n"):
        select_problems([_record("a", 1), _record("b", 1, n=16)], 1, 4, seed=0)


def test_writes_a_dataset_with_edge_and_control_splits(tmp_path):
    import datasets

    from interplay_hf.data import generate_problem

    rows = [generate_problem(op=4, context="zoo", seed=i).to_row() for i in range(6)]
    pool_dir = tmp_path / "data"
    datasets.DatasetDict({"pool": datasets.Dataset.from_list(rows)}).save_to_disk(str(pool_dir))
    records = [_record(row_id(row), hits) for row, hits in zip(rows, [0, 3, 8, 1, 0, 2])]
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results_from_records(records, n=8, ks=(1, 8))))
    out = tmp_path / "select"
    sel = write_selection(str(tmp_path / "eval"), str(pool_dir), "pool", 1, 4, 0, str(out))
    saved = datasets.load_from_disk(str(out))
    assert sorted(row_id(r) for r in saved["edge"]) == sel["edge"] and len(sel["edge"]) == 3
    assert len(saved["control"]) == 3 and set(saved["edge"].column_names) == set(rows[0])
    assert json.loads((out / SELECTION_FILE).read_text()) == sel
    assert write_selection(str(tmp_path / "eval"), str(pool_dir), "pool", 1, 4, 0, str(out)) == sel  # re-run
    with pytest.raises(ConfigError, match="not a saved dataset with that split"):
        write_selection(str(tmp_path / "eval"), str(pool_dir), "nope", 1, 4, 0, str(tmp_path / "s2"))
    with pytest.raises(ConfigError, match="did not write"):
        write_selection(str(tmp_path / "eval"), str(pool_dir), "pool", 1, 4, 0, str(pool_dir))
