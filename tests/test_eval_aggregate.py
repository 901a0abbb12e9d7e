"""Aggregation, edge-of-competence selection and reports on synthetic per-problem records (no model)."""

from __future__ import annotations

import json

import pytest
from conftest import assert_schema, results_from_records

from interplay_hf.errors import ConfigError
from interplay_hf.evaluation.aggregate import block, summarize
from interplay_hf.evaluation.compare import compare_runs, overall_table
from interplay_hf.evaluation.edge import EdgeCriteria, informative_share, select_edge
from interplay_hf.evaluation.formatting import pct, table_ks
from interplay_hf.evaluation.passk import DEFAULT_REGIMES, pass_at_k
from interplay_hf.evaluation.report import write_run_report
from interplay_hf.evaluation.results_schema import Edge, Report

ERRORS = {"missing": 1, "extra": 0, "value_mismatch": 2, "dependency_mismatch": 0, "answer_mismatch": 1, "format": 0}


def record(op, process, outcome=None, n=32, context="zoo", first=None, chance_p=0.0, idx=0):
    outcome = process if outcome is None else outcome
    return {
        "id": f"{context}-{op}-{idx}", "op": op, "context": context, "regime": None, "n": n,
        "outcome_correct": outcome, "process_correct": process,
        "first_process_rank": first if first is not None else (0 if process else None),
        "greedy_outcome": outcome > n // 2, "greedy_process": process > n // 2,
        "mean_process_score": process / n, "error_counts": dict(ERRORS), "index": idx, "answer": "3",
        "chance_p": chance_p, "truncated": 0,
    }


def synthetic_run(rates: dict[int, float], n: int = 32, per_op: int = 4, contexts=("zoo", "teacher")) -> list[dict]:
    """Records whose process-verified success rate per op is ``rates[op]`` (outcome a bit higher)."""
    out, idx = [], 0
    for ctx in contexts:
        for op, rate in rates.items():
            for _ in range(per_op):
                c = round(rate * n)
                out.append(record(op, c, min(n, c + 2), n=n, context=ctx, chance_p=0.25 if op <= 3 else 0.01, idx=idx))
                idx += 1
    return out


def test_block_recomputes_from_counts():
    recs = [record(2, 4, 8, n=8, first=5, chance_p=0.25, idx=0), record(2, 0, 1, n=8, chance_p=0.5, idx=1)]
    b = block(recs, [1, 4, 8])
    assert b["num_problems"] == 2
    assert b["process_pass@k"]["1"] == pytest.approx((4 / 8 + 0) / 2)
    assert b["process_pass@k"]["4"] == pytest.approx((pass_at_k(8, 4, 4) + 0) / 2)
    assert b["outcome_pass@k"]["8"] == pytest.approx(1.0)
    assert b["process_pass@k_first"] == {"1": 0.0, "4": 0.0, "8": 0.5}  # first success at rank 5
    assert b["chance_pass@k"]["1"] == pytest.approx((0.25 + 0.5) / 2)
    assert b["chance_pass@k"]["4"] == pytest.approx(((1 - 0.75**4) + (1 - 0.5**4)) / 2)
    assert b["greedy_outcome_pass@1"] == 0.5 and b["error_counts"]["value_mismatch"] == 4
    assert b["process_accuracy"] == pytest.approx(0.25)


def test_summary_has_every_breakdown():
    recs = synthetic_run({2: 0.9, 11: 0.2, 16: 0.0})
    s = summarize(recs, [1, 8], DEFAULT_REGIMES)
    assert set(s) == {"overall", "per_op", "per_context", "per_regime", "per_context_op"}
    assert list(s["per_op"]) == ["2", "11", "16"]  # numeric order
    assert list(s["per_regime"]) == ["ID", "OOD-edge", "OOD-hard"]
    assert set(s["per_context_op"]) == {f"{c}/{op}" for c in ("teacher", "zoo") for op in (2, 11, 16)}
    assert s["per_op"]["16"]["process_pass@k"]["8"] == 0.0
    assert s["overall"]["num_problems"] == 24
    json.dumps(s)  # serialisable


def test_select_edge_picks_the_ops_between_solved_and_hopeless():
    # op 8-10 solved, 11-13 at the edge (pass@1 low, pass@32 high), 14 nearly never, 15+ never
    rates = {8: 0.95, 9: 0.9, 10: 0.7, 11: 0.4, 12: 0.2, 13: 0.06, 14: 0.003, 15: 0.0, 16: 0.0}
    recs = synthetic_run(rates, n=32)
    edge = select_edge(recs, EdgeCriteria(k=32))
    assert edge["selected_ops"] == [11, 12, 13]
    assert edge["per_op"]["10"]["checks"]["pass@1<=pass1_max"] is False
    assert edge["per_op"]["15"]["checks"]["pass@k>=passk_min"] is False
    assert all(r.startswith(("zoo-1", "teacher-1")) for r in edge["selected_problem_ids"])
    # restricting the candidate ops
    assert select_edge(recs, EdgeCriteria(k=32), ops=[12, 13, 14])["selected_ops"] == [12, 13]


def test_select_edge_outcome_metric_respects_the_chance_baseline():
    # op 2: outcome often right but no better than blind guessing from answers 1-4
    recs = [record(2, 0, 3, n=32, chance_p=0.25, idx=i) for i in range(8)]
    recs += [record(12, 3, 3, n=32, chance_p=0.0, idx=100 + i) for i in range(8)]
    edge = select_edge(recs, EdgeCriteria(k=8, metric="outcome"))
    assert edge["per_op"]["2"]["checks"]["pass@k>=chance+margin"] is False
    assert edge["selected_ops"] == [12]


def test_select_edge_bad_input():
    with pytest.raises(ConfigError, match="--k"):
        select_edge([record(2, 1, n=8)], EdgeCriteria(k=16))
    with pytest.raises(ConfigError, match="--metric"):
        EdgeCriteria(metric="vibes")
    with pytest.raises(ConfigError, match="no problem"):
        select_edge([record(2, 1, n=8)], EdgeCriteria(k=4), ops=[11])


def test_informative_share():
    assert informative_share(0.0, 8) == 0.0 and informative_share(1.0, 8) == 0.0
    assert informative_share(0.5, 8) == pytest.approx(1 - 2 * 0.5**8)


def results_for(recs, n=32, ks=(1, 8, 32), model="m"):
    return results_from_records(recs, model=model, n=n, ks=ks)


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1024, path


def test_run_report_writes_markdown_and_plots(tmp_path):
    results = results_for(synthetic_run({2: 0.9, 5: 0.6, 11: 0.2, 15: 0.0}))
    write_run_report(results, tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "## Per regime" in md and "## Per op" in md and "proc@1" in md and "chance@32" in md
    assert "| OOD-edge | 11–14 | 8 |" in md
    for name in ("pass_at_k_vs_op.png", "pass_at_k_vs_k.png", "pass_at_k_vs_op_zoo.png", "pass_at_k_vs_op_teacher.png"):
        assert_png(tmp_path / "plots" / name)


def test_compare_runs_side_by_side(tmp_path):
    base = results_for(synthetic_run({2: 0.9, 11: 0.1, 15: 0.0}), model="base")
    rl = results_for(synthetic_run({2: 0.95, 11: 0.5, 15: 0.05}), n=16, ks=(1, 16), model="rl")
    for name, res in (("base", base), ("rl", rl)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(res))
    report = compare_runs([tmp_path / "base", tmp_path / "rl"], ["base", "RL"], tmp_path / "cmp")
    assert_schema(json.loads((tmp_path / "cmp" / "report.json").read_text()), Report)
    assert report["k"] == [1, 8, 16]  # common k list, capped by the smaller n (16)
    assert report["summaries"]["RL"]["per_op"]["11"]["process_pass@k"]["1"] == pytest.approx(0.5)
    md = (tmp_path / "cmp" / "report.md").read_text()
    assert "| base |" in md and "| RL |" in md and "RL proc@16" in md
    errors = md.split("## Error types per regime")[1].split("## Per op")[0]
    assert "### OOD-edge" in errors and "dependency_mismatch" in errors and "| RL | " in errors
    assert_png(tmp_path / "cmp" / "plots" / "compare_vs_op.png")
    assert_png(tmp_path / "cmp" / "plots" / "compare_vs_k.png")
    # What the pipeline prints comes from report.json alone (never from parsing report.md).
    table = overall_table(json.loads((tmp_path / "cmp" / "report.json").read_text())).splitlines()
    assert table[0].startswith("| run | N | proc@1 (95% CI) |") and "out@16" in table[0]
    assert [row.split(" | ")[0] for row in table[2:]] == ["| base", "| RL"]
    assert f"| {pct(report['summaries']['RL']['overall']['outcome_pass@k']['16'])} |" in table[3]
    with pytest.raises(ConfigError, match="--labels"):
        compare_runs([tmp_path / "base"], ["a", "b"], tmp_path / "x")
    with pytest.raises(ConfigError, match="results.json"):
        compare_runs([tmp_path / "nowhere"], None, tmp_path / "x")


def test_table_ks():
    assert table_ks([1, 2, 4, 8, 16, 32, 64, 128]) == [1, 4, 32, 128]
    assert table_ks([1, 8]) == [1, 8]


def test_select_edge_cli_writes_edge_json_and_a_valid_rl_recipe(tmp_path):
    from interplay_hf.cli import main
    from interplay_hf.data.recipe import load_data_recipe

    rates = {8: 0.95, 10: 0.7, 11: 0.4, 12: 0.2, 13: 0.06, 14: 0.003, 16: 0.0}
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "results.json").write_text(json.dumps(results_for(synthetic_run(rates))))
    code = main(["select-edge", "--results", str(tmp_path / "base"), "--ops", "8-20", "--k", "32",
                 "--rl-problems", "500", "--output-dir", str(tmp_path / "edge")])
    assert code == 0
    edge = json.loads((tmp_path / "edge" / "edge.json").read_text())
    assert_schema(edge, Edge)
    assert edge["selected_ops"] == [11, 12, 13] and edge["criteria"]["pass1_max"] == 0.5
    recipe = load_data_recipe(tmp_path / "edge" / "rl_data.yaml")
    (train,) = recipe.splits
    assert sorted(train.mixture[0].ops) == [11, 12, 13] and set(train.mixture[0].contexts) == {"zoo", "teacher"}
    assert train.size.examples == 500 and "gold_graph" in train.columns
    assert "| 12 |" in (tmp_path / "edge" / "edge.md").read_text()
    # nothing at the edge: no recipe, still an edge.json
    code = main(["select-edge", "--results", str(tmp_path / "base"), "--ops", "16", "--output-dir", str(tmp_path / "none")])
    assert code == 0 and json.loads((tmp_path / "none" / "edge.json").read_text())["rl_data_recipe"] is None
    assert main(["select-edge", "--output-dir", str(tmp_path / "x")]) == 2  # neither --results nor --model/--data
