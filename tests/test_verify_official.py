"""The verifier reproduces the official scorer: every verdict of the 666 scored completions, every
official gold problem, and the worked examples of docs/data-format.md §4 and docs/verifier.md §6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interplay_hf.verify import SolutionGraph, parse_solution, verify

FIXTURES = Path(__file__).parent / "fixtures"


def _read(name: str) -> list[dict]:
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


SCORED = _read("official_scored.jsonl")
ROWS = _read("official_rows.jsonl")


def _completion(solution: str) -> str:
    """What a released checkpoint emits after the prompt (docs/data-format.md §5; closing tag dropped by the stop)."""
    body, _, tail = solution.rpartition("Answer:")
    return f" {body.strip()} </solution> <answer> {tail.strip().splitlines()[0].strip().rstrip('.')}"


def _observed(row: dict) -> dict:
    r = verify(row["completion"], gold_solution=row["solution"], gold_answer=row["answer"])
    counts_known = row["official"]["missing"] is not None
    return {
        "process_verified": r.process_verified,
        "process_score": r.process_score,
        "mixed_alpha_0.2": r.mixed_reward(0.2),
        "strict": r.strict_reward(),
        "outcome_eval": r.outcome,
        "outcome_reward": r.outcome_reward,
        "value_mismatches": len(r.value_mismatch) if counts_known else None,
        "dependency_mismatches": len(r.dependency_mismatch) if counts_known else None,
        "missing": len(r.missing) if counts_known else None,
        "extra": len(r.extra) if counts_known else None,
        "answer_mismatch": r.answer_mismatch if counts_known else None,
        "_format_error": r.format_error,
    }


@pytest.mark.parametrize("row", SCORED, ids=[f"{r['label']}-op{r['op']}-{i}" for i, r in enumerate(SCORED)])
def test_reproduces_official_verdict(row):
    observed = _observed(row)
    for key, expected in row["official"].items():
        if isinstance(expected, float):
            assert observed[key] == pytest.approx(expected, abs=1e-12), key
        else:
            assert observed[key] == expected, key
    # The official offline scorer skips blank completions ("missing_solution", counts null): we flag them.
    assert observed["_format_error"] == (row["official"]["missing"] is None)


def test_testdata_covers_every_label():
    labels = {r["label"] for r in SCORED}
    assert len(SCORED) == 666 and len(labels) == 37


@pytest.mark.parametrize("row", ROWS, ids=[f"op{r['op']}-{r['template']}" for r in ROWS])
def test_every_official_problem_scores_as_gold(row):
    r = verify(_completion(row["solution"]), gold_solution=row["solution"], gold_answer=row["answer"])
    assert (r.process_score, r.process_verified, r.outcome, r.outcome_reward) == (1.0, True, True, True)
    assert r.mixed_reward() == 1.0 and r.strict_reward() == 1.0 and r.errors == []
    # With the closing tag too, and as a chat message.
    closed = _completion(row["solution"]) + " </answer>"
    assert verify(closed, gold_solution=row["solution"]).process_verified
    chat = [{"role": "user", "content": "solve"}, {"role": "assistant", "content": closed.strip()}]
    assert verify(chat, gold_solution=row["solution"]).strict_reward() == 1.0


@pytest.mark.parametrize("row", ROWS, ids=[f"op{r['op']}-{r['template']}" for r in ROWS])
def test_gold_graph_round_trip(row):
    """A serialised gold graph (official build_gold_dependency_graphs record) gives the same verdicts."""
    graph = parse_solution(row["solution"]).to_graph()
    record = graph.to_dict()
    assert [n["name"] for n in record["nodes"]] == list(graph.nodes)
    assert SolutionGraph.from_dict(json.dumps(record)) == graph
    r = verify(_completion(row["solution"]), gold_graph=json.dumps(record))
    assert r.process_verified and r.outcome and r.gold_answer == row["answer"]
    assert record["topological_order"] is not None and len(record["topological_order"]) == len(graph)


EXAMPLE_A = (
    "Define elementary school in Hawkesbury as B; so B = 2. Define private middle school in Hawkesbury as X; "
    "so X = B = 2. Define culinarian school in Hawkesbury as R; so R = B = 2. Define total number of schools in "
    "Hawkesbury as E; U = R + B = 2 + 2 = 4; so E = U + X = 4 + 2 = 6. Answer: 6."
)
EXAMPLE_B = (
    "The question is difficult, so we use equations to solve it. Define adult deer in Oakridge Riverside as l; "
    "so l = 3. Define adult bear in Oakridge Riverside as x; we don't know its value yet but will find it out "
    "later. Define total number of adult animals in Oakridge Riverside as W; so W = l + x = 3 + x = x + 3. We know "
    "W = 5, so we have x + 3 = 5 and we solve it through the following steps: Simplifying the equation: x + 3 = 5. "
    "Move all terms to one side: x - 2 = 0. Isolate the term with x: 1*x = 2. Divide both sides by 1: x = 2 / 1. "
    "Solution: x = 2. Answer: 2."
)
EXAMPLE_C = (
    "Define intense detective thriller in Festival Lumière de Valmont as d; so d = 4. Define solemn period drama in "
    "Festival Lumière de Valmont as E; x = d = 4; so E = 4 + x = 4 + 4 = 8. Define futuristic sci-fi movie in "
    "Festival Lumière de Valmont as A; U = d = 4; so A = 2 * U = 2 * 4 = 8. Define total number of movies in "
    "Festival Lumière de Valmont as f; w = E + A = 8 + 8 = 16; so f = w + d = 16 + 4 = 20. Answer: 20."
)
EXAMPLE_D = (
    "Define adult crow in Hamilton Farm as i; so i = 3. Define total number of adult animals in Hamilton Farm as P; "
    "so P = i = 3. Define adult crow in Mayer Aquarium as U; so U = P = 3. Answer: 3."
)


def _graph(solution: str) -> dict:
    nodes = parse_solution(solution).to_graph().nodes.values()
    return {n.name: (n.variable, n.value, sorted(n.dependencies)) for n in nodes}


def test_example_a_parses_as_reference_2_1():
    assert _graph(EXAMPLE_A) == {
        "elementary school in Hawkesbury": ("B", 2.0, []),
        "private middle school in Hawkesbury": ("X", 2.0, ["elementary school in Hawkesbury"]),
        "culinarian school in Hawkesbury": ("R", 2.0, ["elementary school in Hawkesbury"]),
        "total number of schools in Hawkesbury": (
            "E",
            6.0,
            [
                "culinarian school in Hawkesbury",
                "elementary school in Hawkesbury",
                "private middle school in Hawkesbury",
            ],
        ),
    }
    assert parse_solution(EXAMPLE_A).answer == 6.0


def test_example_b_reverse_mode_quirks():
    """The unknown gets its value from "Solution: x = 2" (post pass); the tail's letters add deps."""
    graph = _graph(EXAMPLE_B)
    assert graph["adult bear in Oakridge Riverside"][:2] == ("x", 2.0)
    assert graph["adult deer in Oakridge Riverside"] == ("l", 3.0, [])
    variable, _, deps = graph["total number of adult animals in Oakridge Riverside"]
    assert variable == "W" and set(deps) == {"adult deer in Oakridge Riverside", "adult bear in Oakridge Riverside"}
    assert parse_solution(EXAMPLE_B).answer == 2.0


def test_examples_c_and_d_fold_temporaries_into_dependencies():
    c = _graph(EXAMPLE_C)
    assert c["solemn period drama in Festival Lumière de Valmont"] == (
        "E",
        8.0,
        ["intense detective thriller in Festival Lumière de Valmont"],
    )
    assert c["total number of movies in Festival Lumière de Valmont"][1] == 20.0
    assert len(c["total number of movies in Festival Lumière de Valmont"][2]) == 3
    d = _graph(EXAMPLE_D)
    assert d["adult crow in Mayer Aquarium"] == ("U", 3.0, ["total number of adult animals in Hamilton Farm"])


@pytest.mark.parametrize("solution", [EXAMPLE_A, EXAMPLE_B, EXAMPLE_C, EXAMPLE_D])
def test_format_examples_score_as_gold(solution):
    r = verify(_completion(solution), gold_solution=solution)
    assert r.process_score == 1.0 and r.process_verified and r.outcome and r.strict_reward() == 1.0
